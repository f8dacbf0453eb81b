"""``python -m rmcore``: the same command line as ``rmcore``."""

import sys

from .cli import main

sys.exit(main())
