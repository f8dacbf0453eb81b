"""The session handles of one simulated process: values as rstrtmgr hands them out, each
naming a session (and, for a primary, its running app state)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..session import _fidelity
from ..session._table import SessionRef
from ..world._engine import SessionApps
from ..world._world import WorldView

__all__ = ["SessionHandles"]

_INVALID_HANDLE_VALUE = 0xFFFFFFFF


class SessionHandles:
    """Handle values count up from ``FIRST_HANDLE`` and are never reused in the process, so a
    stale handle is always 6 (decisions, docs/fidelity.md); a failed call gives its value
    back if nothing came after it. Thread-safe."""

    def __init__(self) -> None:
        self._refs: dict[int, SessionRef] = {}
        self._apps: dict[int, SessionApps] = {}
        self._next = _fidelity.FIRST_HANDLE
        self._lock = threading.Lock()

    def open(self, opened: Callable[[int], SessionRef]) -> int:
        """Reserve the next value, let *opened* make its session, keep it; return the value."""
        with self._lock:
            handle = self._next
            self._next = (handle + 1) & 0xFFFFFFFF
            if self._next == _INVALID_HANDLE_VALUE:
                self._next = 0
        try:
            ref = opened(handle)
        except BaseException:
            with self._lock:
                if self._next == (handle + 1) & 0xFFFFFFFF:
                    self._next = handle
            raise
        with self._lock:
            self._refs[handle] = ref
        return handle

    def get(self, handle: int) -> SessionRef | None:
        return self._refs.get(handle)

    def apps(self, handle: int, world: WorldView) -> SessionApps:
        """The app state a primary's handle drives (made on first use)."""
        with self._lock:
            apps = self._apps.get(handle)
            if apps is None:
                apps = self._apps[handle] = SessionApps(world)
            return apps

    def drop(self, handle: int) -> None:
        with self._lock:
            self._refs.pop(handle, None)
            self._apps.pop(handle, None)

    def clear(self) -> None:
        with self._lock:
            self._refs.clear()
            self._apps.clear()

    def copy(self) -> dict[int, SessionRef]:
        with self._lock:
            return dict(self._refs)
