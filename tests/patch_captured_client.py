"""A ctypes client that captures Windows-only names at import (``from ctypes import WinDLL``).

Off Windows it can only be imported while ``rmcore.patch()`` is active; the names it
captured stay valid for later patches.
"""

from __future__ import annotations

import ctypes
from ctypes import WINFUNCTYPE, WinDLL, windll  # type: ignore[attr-defined]

STATUS_CALLBACK = WINFUNCTYPE(None, ctypes.c_uint)


def load_by_class() -> ctypes.CDLL:
    return WinDLL("rstrtmgr.dll")  # type: ignore[no-any-return]


def load_by_loader() -> ctypes.CDLL:
    return windll.rstrtmgr  # type: ignore[no-any-return]
