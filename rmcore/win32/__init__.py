"""The Win32 surface: restartmanager.h's constants, enums and structs with Windows' layout."""

from ._types import *  # noqa: F403
from ._types import __all__ as __all__
