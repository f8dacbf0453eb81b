"""The kernel32 handle table of one simulated process: process and file handles in one.

Every DLL load builds a new library object, so the table belongs to the Simulator (the
simulated process), shared by its kernel32 and psapi. Values are multiples of 4 counting up
from :data:`FIRST_OBJECT_HANDLE` and never reused, so a stale handle is always ERROR_INVALID_HANDLE.
A table that dies with its Simulator closes the host file descriptors it still holds.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import winerror
from . import _args as args
from ._nb_errors import Win32Failure
from ._nb_state import Beside

if TYPE_CHECKING:
    from ..world._world import App
    from ._rstrtmgr import Simulator

__all__ = [
    "CURRENT_PROCESS",
    "FIRST_OBJECT_HANDLE",
    "FileObject",
    "HandleTable",
    "ProcessObject",
    "handle_value",
    "table_of",
]

# Decided (with why) in rmcore.session._decisions.DECISIONS.
FIRST_OBJECT_HANDLE = 0x100
HANDLE_SIGNIFICANT_BITS = 32

CURRENT_PROCESS = -1  # GetCurrentProcess(); -2 is the current thread, -3.. tokens
_PSEUDO_HANDLES = range(-6, 0)


@dataclass
class ProcessObject:
    """An open process handle: the process instance it names and the access granted.
    ``app`` is ``None`` for the calling (simulated) process itself."""

    app: App | None
    pid: int
    start_time: int
    access: int


@dataclass
class FileObject:
    """An open file handle over a host file descriptor."""

    fd: int
    path: str
    access: int
    release: Callable[[], None]  # forget this opener in the world's sharing table


Entry = ProcessObject | FileObject


def handle_value(arg: object, position: int) -> int:
    """The HANDLE an argument carries (``None``/NULL is 0; pseudo-handles are negative)."""
    found = args.pointer(arg, position)
    value = 0 if found is None else found.region.address
    bits = HANDLE_SIGNIFICANT_BITS
    low = value & ((1 << bits) - 1)
    return low - (1 << bits) if low >> (bits - 1) else low


class HandleTable:
    """One simulated process's kernel32 handles (thread-safe)."""

    def __init__(self) -> None:
        self._entries: dict[int, Entry] = {}
        self._next = FIRST_OBJECT_HANDLE
        self._lock = threading.Lock()

    def add(self, entry: Entry) -> int:
        with self._lock:
            handle = self._next
            self._next += 4
            self._entries[handle] = entry
            return handle

    def get(self, handle: int) -> Entry:
        """The object a handle names, or ERROR_INVALID_HANDLE."""
        with self._lock:
            entry = self._entries.get(handle)
        if entry is None:
            raise Win32Failure(winerror.ERROR_INVALID_HANDLE, f"no handle {handle:#x}")
        return entry

    def close(self, handle: int) -> None:
        """CloseHandle: pseudo-handles close as a no-op; a file handle closes its fd."""
        if handle in _PSEUDO_HANDLES:
            return
        with self._lock:
            entry = self._entries.pop(handle, None)
        if entry is None:
            raise Win32Failure(winerror.ERROR_INVALID_HANDLE, f"no handle {handle:#x}")
        _release(entry)

    def close_all(self) -> None:
        with self._lock:
            entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            _release(entry)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _release(entry: Entry) -> None:
    if isinstance(entry, FileObject):
        entry.release()
        with contextlib.suppress(OSError):
            os.close(entry.fd)


def _new_table(simulator: Simulator) -> HandleTable:
    table = HandleTable()
    weakref.finalize(simulator, table.close_all)  # its fds close with the Simulator
    simulator.at_exit(table.close_all)  # or when the simulated process exits
    return table


_tables: Beside[Simulator, HandleTable] = Beside(_new_table)


def table_of(simulator: Simulator) -> HandleTable:
    """The handle table of a simulated process (made on first use)."""
    return _tables.of(simulator)
