"""The Win32-shaped entry points: one Simulator is rstrtmgr.dll loaded in one process.

Methods carry the DLL's export names and signatures and return the DWORD code as an
``int``. A Simulator holds what a real process would: its handle table and its identity.
Everything shared between processes lives in the store, below.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from . import _fidelity, winerror
from ._exceptions import RmError
from ._faults import ProcessFaults, StoreFaults
from ._marshal import BadArgument, dword_value, out_dword, read_wstr, wstr_buffer
from ._process import new_simulated_process
from ._sessions import KEY_BYTES, SessionRef, SessionTable, key_to_bytes
from .registry_store import RegistryStore, StoreError

__all__ = ["CCH_RM_SESSION_KEY", "Simulator", "SimulatorExited"]

CCH_RM_SESSION_KEY = 2 * KEY_BYTES
_INVALID_HANDLE_VALUE = 0xFFFFFFFF

_P = ParamSpec("_P")
_Self = TypeVar("_Self", bound="Simulator")


class SimulatorExited(RuntimeError):
    """The simulated process was terminated; nothing can call into its DLL any more."""


def _entry_point(
    method: Callable[Concatenate[_Self, _P], int],
) -> Callable[Concatenate[_Self, _P], int]:
    """Wrap an Rm* method: injected faults first, then Python failures become Win32 codes."""
    function = method.__name__

    def call(self: _Self, /, *args: _P.args, **kwargs: _P.kwargs) -> int:
        if self._exited:
            raise SimulatorExited(f"{function} called after terminate()")
        injected = self.faults.take(function)
        if injected is None:
            injected = self.store_faults.take(function)
        if injected is not None:
            return injected
        try:
            return method(self, *args, **kwargs)
        except RmError as exc:
            return exc.winerror
        except BadArgument:
            return winerror.ERROR_BAD_ARGUMENTS
        except StoreError:
            return winerror.ERROR_WRITE_FAULT
        except MemoryError:
            return winerror.ERROR_OUTOFMEMORY

    functools.update_wrapper(call, method)
    return call


class Simulator:
    """rstrtmgr.dll as loaded by one (simulated) process, over a shared on-disk store.

    *store* is the store directory (``None``: ``$RMCORE_STORE`` or the per-user default).
    Simulators in one interpreter are separate processes sharing the store; Simulators in
    different OS processes on the same store share their sessions.
    """

    def __init__(
        self,
        store: str | os.PathLike[str] | None = None,
        *,
        max_sessions: int = 64,
        mutex_timeout: float = _fidelity.DEFAULT_MUTEX_TIMEOUT,
    ) -> None:
        if max_sessions < 1 or mutex_timeout < 0:
            raise ValueError("max_sessions must be >= 1 and mutex_timeout >= 0")
        self._store = RegistryStore(store)
        self._sessions = SessionTable(
            self._store, max_sessions=max_sessions, mutex_timeout=mutex_timeout
        )
        self.process = new_simulated_process()
        self.faults = ProcessFaults()
        self.store_faults = StoreFaults(self._store, mutex_timeout)
        self._handles: dict[int, SessionRef] = {}
        self._next_handle = _fidelity.FIRST_HANDLE
        self._lock = threading.Lock()
        self._exited = False

    @property
    def store(self) -> str:
        """The store directory this Simulator uses."""
        return self._store.path

    @property
    def sessions(self) -> SessionTable:
        """The store's session table (for inspection and maintenance)."""
        return self._sessions

    def __repr__(self) -> str:
        return f"<rmcore.Simulator store={self.store!r} process={self.process.tag()}>"

    # -- handle table --------------------------------------------------------------------

    def _reserve_handle(self) -> int:
        with self._lock:
            handle = self._next_handle
            self._next_handle = (handle + 1) & 0xFFFFFFFF
            if self._next_handle == _INVALID_HANDLE_VALUE:
                self._next_handle = 0
            return handle

    def _release_unused_handle(self, handle: int) -> None:
        """Give back a reserved handle a failed call did not use, if nothing came after it."""
        with self._lock:
            if self._next_handle == (handle + 1) & 0xFFFFFFFF:
                self._next_handle = handle

    def _bind(self, handle: int, ref: SessionRef) -> None:
        with self._lock:
            self._handles[handle] = ref

    def _lookup(self, handle: int) -> SessionRef:
        ref = self._handles.get(handle)
        if ref is None:
            raise RmError.from_code(winerror.ERROR_INVALID_HANDLE)
        return ref

    def handles(self) -> dict[int, SessionRef]:
        """This process's live handles (a copy)."""
        with self._lock:
            return dict(self._handles)

    # -- the DLL's exports ---------------------------------------------------------------

    @_entry_point
    def RmStartSession(
        self, pSessionHandle: object, dwSessionFlags: object, strSessionKey: object
    ) -> int:
        """Start a session: a new key into *strSessionKey*, a handle into *pSessionHandle*."""
        set_handle = out_dword(pSessionHandle)
        flags = dword_value(dwSessionFlags)
        key_buffer = wstr_buffer(strSessionKey)
        if set_handle is None or key_buffer is None:
            return winerror.ERROR_BAD_ARGUMENTS
        if flags and _fidelity.REJECT_NONZERO_SESSION_FLAGS:
            return winerror.ERROR_BAD_ARGUMENTS
        capacity, write_key = key_buffer
        if capacity < CCH_RM_SESSION_KEY + 1:
            return winerror.ERROR_BAD_ARGUMENTS
        handle = self._reserve_handle()
        try:
            ref, key_bytes = self._sessions.start(self.process)
        except BaseException:
            self._release_unused_handle(handle)
            raise
        self._bind(handle, ref)
        write_key(key_bytes.hex())
        set_handle(handle)
        return winerror.ERROR_SUCCESS

    @_entry_point
    def RmJoinSession(self, pSessionHandle: object, strSessionKey: object) -> int:
        """Join the session *strSessionKey* names as a secondary; a new handle goes out."""
        set_handle = out_dword(pSessionHandle)
        key_text = read_wstr(strSessionKey)
        if set_handle is None or key_text is None:
            return winerror.ERROR_BAD_ARGUMENTS
        key_bytes = key_to_bytes(key_text)
        if key_bytes is None:
            return winerror.ERROR_SESSION_CREDENTIAL_CONFLICT
        handle = self._reserve_handle()
        try:
            ref = self._sessions.join(key_bytes, self.process, handle)
        except BaseException:
            self._release_unused_handle(handle)
            raise
        self._bind(handle, ref)
        set_handle(handle)
        return winerror.ERROR_SUCCESS

    @_entry_point
    def RmEndSession(self, dwSessionHandle: object) -> int:
        """End the session (primary) or leave it (secondary); the handle dies either way."""
        try:
            handle = dword_value(dwSessionHandle)
        except BadArgument:
            return winerror.ERROR_INVALID_HANDLE
        ref = self._lookup(handle)
        try:
            self._sessions.end(ref, self.process, handle)
        except RmError as exc:
            if exc.winerror == _fidelity.STALE_SECONDARY_HANDLE_RESULT:
                self._drop(handle)  # the session is gone: so is this handle
            raise
        self._drop(handle)
        return winerror.ERROR_SUCCESS

    def _drop(self, handle: int) -> None:
        with self._lock:
            self._handles.pop(handle, None)

    # -- the simulated process -----------------------------------------------------------

    def terminate(self) -> None:
        """The simulated process exits without RmEndSession: its handles die, its sessions
        become abandoned. Idempotent."""
        with self._lock:
            if self._exited:
                return
            self._exited = True
            self._handles.clear()
        self._sessions.mark_exited(self.process)
