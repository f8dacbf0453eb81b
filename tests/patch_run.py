"""Run a Python script with ``rmcore.patch()`` active, as a separate process.

``python patch_run.py [--store DIR] SCRIPT [ARGS...]``: the script sees ``sys.argv`` as
``[SCRIPT, *ARGS]`` and runs as ``__main__``; its ctypes loads of rstrtmgr.dll get a
Simulator on the store DIR (default: a fresh temporary store). The exit status is the
script's.
"""

from __future__ import annotations

import argparse
import runpy
import sys

from rmcore.win32._patch import patch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store directory shared with other processes")
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    sys.argv = [options.script, *options.args]
    with patch(store=options.store):
        runpy.run_path(options.script, run_name="__main__")


if __name__ == "__main__":
    main()
