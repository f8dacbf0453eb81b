"""The Pythonic layer: sessions as objects, failures as exceptions with ``.winerror``.

It drives any object with the DLL's methods (a :class:`~rmcore.Simulator` by default), so
the same code runs against the simulator or the real rstrtmgr.dll.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol

from ._exceptions import RmError
from ._simulator import Simulator
from ._types import CCH_RM_SESSION_KEY
from .registry_store import RegistryStore

__all__ = ["RestartManagerAPI", "Session", "check", "default_backend", "hold_registry_mutex"]


class RestartManagerAPI(Protocol):
    """What the Pythonic layer needs of a backend: the DLL's session exports."""

    def RmStartSession(
        self, pSessionHandle: object, dwSessionFlags: object, strSessionKey: object
    ) -> int: ...
    def RmJoinSession(self, pSessionHandle: object, strSessionKey: object) -> int: ...
    def RmEndSession(self, dwSessionHandle: object) -> int: ...


def check(code: int, function: str) -> None:
    """Raise the :class:`RmError` subclass for *code* unless it is ERROR_SUCCESS."""
    if code:
        raise RmError.from_code(code, function)


_default: Simulator | None = None
_default_lock = threading.Lock()


def default_backend() -> Simulator:
    """This process's Simulator on the default store, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Simulator()
        return _default


class Session:
    """A Restart Manager session seen from one process: its ``key`` and this ``handle``.

    ``Session.start()`` makes this process the primary; ``Session.join(key)`` a secondary.
    As a context manager it ends (or leaves) the session on exit.
    """

    def __init__(self, api: RestartManagerAPI, handle: int, key: str, primary: bool) -> None:
        self.api = api
        self.handle = handle
        self.key = key
        self.primary = primary
        self.ended = False

    @classmethod
    def start(cls, api: RestartManagerAPI | None = None) -> Session:
        """RmStartSession: a new session whose primary is the calling process."""
        api = default_backend() if api is None else api
        handle = ctypes.c_uint32()
        key = ctypes.create_unicode_buffer(CCH_RM_SESSION_KEY + 1)
        check(api.RmStartSession(ctypes.byref(handle), 0, key), "RmStartSession")
        return cls(api, handle.value, key.value, primary=True)

    @classmethod
    def join(cls, key: str, api: RestartManagerAPI | None = None) -> Session:
        """RmJoinSession: take part in the session *key* names, as a secondary."""
        api = default_backend() if api is None else api
        handle = ctypes.c_uint32()
        check(api.RmJoinSession(ctypes.byref(handle), key), "RmJoinSession")
        return cls(api, handle.value, key, primary=False)

    def end(self) -> None:
        """RmEndSession: end the session (primary) or leave it (secondary)."""
        check(self.api.RmEndSession(self.handle), "RmEndSession")
        self.ended = True

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.ended:
            self.end()

    def __repr__(self) -> str:
        role = "primary" if self.primary else "secondary"
        return f"<rmcore.Session {role} handle={self.handle} key={self.key!r}>"


@contextmanager
def hold_registry_mutex(
    store: str | os.PathLike[str] | None = None, timeout: float | None = None
) -> Iterator[None]:
    """Hold *store*'s registry write mutex in this process for the ``with`` block.

    Every other process's (and Simulator's) call that needs the mutex then fails with
    ERROR_SEM_TIMEOUT (121) after its timeout, having changed nothing.
    """
    mutex = RegistryStore(store).mutex
    with mutex.hold(float("inf") if timeout is None else timeout):
        yield
