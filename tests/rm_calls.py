"""RmStartSession and RmJoinSession as C code calls them, returning (code, handle[, key]).

Shared by the tests and by the child processes they start (tests/mp_children)."""

from __future__ import annotations

import ctypes
from typing import Any


def start(sim: Any) -> tuple[int, int, str]:
    """RmStartSession: (code, handle, key); the handle stays 0xFFFFFFFF on failure."""
    handle = ctypes.c_uint32(0xFFFFFFFF)
    key = ctypes.create_unicode_buffer(33)
    code = sim.RmStartSession(ctypes.byref(handle), 0, key)
    return code, handle.value, key.value


def join(sim: Any, key: object) -> tuple[int, int]:
    """RmJoinSession: (code, handle)."""
    handle = ctypes.c_uint32(0xFFFFFFFF)
    code = sim.RmJoinSession(ctypes.byref(handle), key)
    return code, handle.value
