"""A ctypes client that caches the loaded rstrtmgr.dll in a module global, as much code does.

It looks ``ctypes.WinDLL`` up at call time, so importing it needs no patch; its cached DLL
is bound to the patch it was loaded under, and must be reset (``_dll = None``) between
patches.
"""

from __future__ import annotations

import ctypes

_dll: ctypes.CDLL | None = None


def dll() -> ctypes.CDLL:
    """The DLL, loaded on first use and cached."""
    global _dll
    if _dll is None:
        _dll = ctypes.WinDLL("rstrtmgr.dll")  # type: ignore[attr-defined]
        _dll.RmStartSession.argtypes = [
            ctypes.POINTER(ctypes.c_uint32),
            ctypes.c_uint32,
            ctypes.c_wchar_p,
        ]
        _dll.RmStartSession.restype = ctypes.c_uint32
    return _dll


def start_session() -> tuple[int, int]:
    """RmStartSession: (code, handle)."""
    handle = ctypes.c_uint32(0xFFFFFFFF)
    key = ctypes.create_unicode_buffer(33)
    code = dll().RmStartSession(ctypes.byref(handle), 0, key)
    return code, handle.value
