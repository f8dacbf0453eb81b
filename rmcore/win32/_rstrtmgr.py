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

from .. import winerror
from .._errors import RmError
from ..registry_store import RegistryStore, StoreError
from ..session import _fidelity
from ..session._identity import new_simulated_process
from ..session._table import Resources, SessionRef, SessionTable, key_to_bytes
from ..world._engine import Caller, SessionApps
from ..world._filters import FilterTarget
from ..world._world import Clock, World, WorldView
from ._args import (
    BadArgument,
    byte_buffer,
    dword_ref,
    dword_value,
    is_null,
    read_processes,
    read_wstr,
    read_wstr_array,
    status_callback,
    struct_array,
    wstr_buffer,
)
from ._faults import ProcessFaults, SimulatedCrash, StoreFaults
from ._types import (
    CCH_RM_SESSION_KEY,
    RM_FILTER_ACTION,
    RM_FILTER_TRIGGER,
    RM_SHUTDOWN_TYPE,
    write_process_info,
)

__all__ = ["Simulator", "SimulatorExited"]

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
            raise SimulatorExited(f"{function} called after the simulated process exited")
        injected = self.faults.take(function)
        if injected is None:
            injected = self.store_faults.take(function)
        if injected is not None:
            return injected
        try:
            return method(self, *args, **kwargs)
        except SimulatedCrash:
            self.terminate()
            raise SimulatorExited(f"the simulated process crashed inside {function}") from None
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
        world: WorldView | str | None = None,
        ts_session: int = 1,
    ) -> None:
        if max_sessions < 1 or mutex_timeout < 0:
            raise ValueError("max_sessions must be >= 1 and mutex_timeout >= 0")
        self._store = RegistryStore(store)
        self._sessions = SessionTable(
            self._store, max_sessions=max_sessions, mutex_timeout=mutex_timeout
        )
        self.process = new_simulated_process()
        self.world = _open_world(world)
        self.clock: Clock = getattr(self.world, "clock", None) or Clock()
        self.faults = ProcessFaults(self.clock, self._store)
        self._sessions.on_write = self.faults.crash_point
        self.store_faults = StoreFaults(self._store, mutex_timeout)
        self._handles: dict[int, SessionRef] = {}
        self._next_handle = _fidelity.FIRST_HANDLE
        self._apps: dict[int, SessionApps] = {}
        self._lock = threading.Lock()
        self._exited = False
        self.ts_session = ts_session  # the terminal-services session this process runs in

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
        """The next handle value: counting up from ``FIRST_HANDLE`` and never reused in this
        process, so a stale handle is always 6 (a decision, docs/fidelity.md)."""
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

    def _lookup(self, handle: object) -> SessionRef:
        """The session a handle argument names in this process, or raise 6."""
        try:
            ref = self._handles.get(dword_value(handle))
        except BadArgument:
            ref = None
        if ref is None:
            raise RmError.from_code(winerror.ERROR_INVALID_HANDLE)
        return ref

    def _primary(self, handle: object) -> tuple[SessionRef, SessionApps]:
        """The session and its app state, for calls only the primary may make (else 1219)."""
        ref = self._lookup(handle)
        if not ref.primary:
            raise RmError.from_code(_fidelity.SECONDARY_CALLS_PRIMARY_ONLY_RESULT)
        with self._lock:
            apps = self._apps.setdefault(dword_value(handle), SessionApps(self.world))
        return ref, apps

    @property
    def pid(self) -> int:
        """The PID this simulated process reports (its OS process's)."""
        return self.process.os_process.pid

    def _caller(self) -> Caller:
        return Caller(self.pid, self.ts_session)

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
        handle_out = dword_ref(pSessionHandle)
        flags = dword_value(dwSessionFlags)
        key_buffer = wstr_buffer(strSessionKey)
        if handle_out is None or key_buffer is None:
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
        handle_out.value = handle
        return winerror.ERROR_SUCCESS

    @_entry_point
    def RmJoinSession(self, pSessionHandle: object, strSessionKey: object) -> int:
        """Join the session *strSessionKey* names as a secondary; a new handle goes out."""
        handle_out = dword_ref(pSessionHandle)
        key_text = read_wstr(strSessionKey)
        if handle_out is None or key_text is None:
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
        handle_out.value = handle
        return winerror.ERROR_SUCCESS

    @_entry_point
    def RmEndSession(self, dwSessionHandle: object) -> int:
        """End the session (primary) or leave it (secondary); the handle dies either way."""
        ref = self._lookup(dwSessionHandle)
        handle = dword_value(dwSessionHandle)
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
            self._apps.pop(handle, None)

    @_entry_point
    def RmRegisterResources(
        self,
        dwSessionHandle: object,
        nFiles: object,
        rgsFileNames: object,
        nApplications: object,
        rgApplications: object,
        nServices: object,
        rgsServiceNames: object,
    ) -> int:
        """Add files (full paths), processes and services (short names) to the session."""
        ref = None if _fidelity.ARGUMENTS_CHECKED_BEFORE_HANDLE else self._lookup(dwSessionHandle)
        resources = Resources(
            tuple(read_wstr_array(rgsFileNames, dword_value(nFiles))),
            tuple(read_processes(rgApplications, dword_value(nApplications))),
            tuple(read_wstr_array(rgsServiceNames, dword_value(nServices))),
        )
        self._sessions.register(ref or self._lookup(dwSessionHandle), resources)
        return winerror.ERROR_SUCCESS

    @_entry_point
    def RmGetList(
        self,
        dwSessionHandle: object,
        pnProcInfoNeeded: object,
        pnProcInfo: object,
        rgAffectedApps: object,
        lpdwRebootReasons: object,
    ) -> int:
        """The apps using the registered resources, recomputed now (two-call pattern)."""
        needed, count, reasons_out = (
            dword_ref(p) for p in (pnProcInfoNeeded, pnProcInfo, lpdwRebootReasons)
        )
        if needed is None or count is None or reasons_out is None:
            return winerror.ERROR_BAD_ARGUMENTS
        capacity = count.value
        rows_out = struct_array(rgAffectedApps)
        if capacity and rows_out is None:
            return winerror.ERROR_BAD_ARGUMENTS
        ref, apps = self._primary(dwSessionHandle)
        rows, reasons = apps.get_list(self._sessions.resources(ref), self._caller())
        needed.value = len(rows)
        reasons_out.value = int(reasons)
        if len(rows) > capacity or (rows and rows_out is None):
            count.value = _fidelity.GETLIST_COUNT_ON_MORE_DATA
            return winerror.ERROR_MORE_DATA
        assert rows_out is not None or not rows
        row_at, length = rows_out if rows_out is not None else (None, 0)
        if length is not None and len(rows) > length:
            return winerror.ERROR_BAD_ARGUMENTS  # *pnProcInfo claims more room than there is
        for index, row in enumerate(rows):
            assert row_at is not None
            write_process_info(
                row_at(index),
                pid=row.id[0],
                start_time=row.id[1],
                app_name=row.app_name,
                service_short_name=row.service_short_name,
                app_type=row.app_type,
                app_status=row.status,
                ts_session_id=row.ts_session,
                restartable=row.restartable,
            )
        count.value = len(rows)
        return winerror.ERROR_SUCCESS

    @_entry_point
    def RmShutdown(self, dwSessionHandle: object, lActionFlags: object, fnStatus: object) -> int:
        """Shut down the affected apps: GUI, console, services, Explorer."""
        flags = dword_value(lActionFlags)
        callback = status_callback(fnStatus)
        if flags & ~(RM_SHUTDOWN_TYPE.RmForceShutdown | RM_SHUTDOWN_TYPE.RmShutdownOnlyRegistered):
            return winerror.ERROR_BAD_ARGUMENTS
        ref, apps = self._primary(dwSessionHandle)
        return apps.shutdown(
            self._sessions.resources(ref),
            self._caller(),
            force=bool(flags & RM_SHUTDOWN_TYPE.RmForceShutdown),
            only_registered=bool(flags & RM_SHUTDOWN_TYPE.RmShutdownOnlyRegistered),
            callback=callback,
        )

    @_entry_point
    def RmRestart(self, dwSessionHandle: object, dwRestartFlags: object, fnStatus: object) -> int:
        """Restart what RmShutdown stopped and is restartable, in reverse order."""
        flags = dword_value(dwRestartFlags)
        callback = status_callback(fnStatus)
        if flags:
            return winerror.ERROR_BAD_ARGUMENTS
        ref, apps = self._primary(dwSessionHandle)
        self._sessions.resources(ref)  # the session must still exist (6), mutex (121)
        return apps.restart(callback)

    @_entry_point
    def RmCancelCurrentTask(self, dwSessionHandle: object) -> int:
        """Ask the session's running RmGetList/RmShutdown/RmRestart to stop (it returns 1223)."""
        _ref, apps = self._primary(dwSessionHandle)
        if apps.cancel():
            return winerror.ERROR_SUCCESS  # documented: a cancellation was requested
        return _fidelity.CANCEL_WITHOUT_TASK_RESULT

    @_entry_point
    def RmAddFilter(
        self,
        dwSessionHandle: object,
        strModuleName: object,
        pProcess: object,
        strServiceShortName: object,
        FilterAction: object,
    ) -> int:
        """Keep RM from shutting down or restarting one executable, process or service."""
        target = _filter_target(strModuleName, pProcess, strServiceShortName)
        action = dword_value(FilterAction)
        valid = action in (RM_FILTER_ACTION.RmNoRestart, RM_FILTER_ACTION.RmNoShutdown)
        if _fidelity.FILTER_ACTION_MUST_BE_VALID and not valid:
            return winerror.ERROR_BAD_ARGUMENTS
        _ref, apps = self._primary(dwSessionHandle)
        apps.filters.add(target, RM_FILTER_ACTION(action))
        return winerror.ERROR_SUCCESS

    @_entry_point
    def RmRemoveFilter(
        self,
        dwSessionHandle: object,
        strModuleName: object,
        pProcess: object,
        strServiceShortName: object,
    ) -> int:
        """Remove the filter on one target; ERROR_FILE_NOT_FOUND (2) if there is none."""
        target = _filter_target(strModuleName, pProcess, strServiceShortName)
        _ref, apps = self._primary(dwSessionHandle)
        if not apps.filters.remove(target):
            return winerror.ERROR_FILE_NOT_FOUND
        return winerror.ERROR_SUCCESS

    @_entry_point
    def RmGetFilterList(
        self,
        dwSessionHandle: object,
        pbFilterBuf: object,
        cbFilterBuf: object,
        cbFilterBufNeeded: object,
    ) -> int:
        """The session's filters as RM_FILTER_INFO records chained by ``cbNextOffset``."""
        needed = dword_ref(cbFilterBufNeeded)
        capacity = dword_value(cbFilterBuf)
        buffer = byte_buffer(pbFilterBuf)
        _ref, apps = self._primary(dwSessionHandle)
        size = apps.filters.buffer_size()
        if needed is None:
            return winerror.ERROR_MORE_DATA  # documented: "or cbFilterBufNeeded not given"
        needed.value = size
        if size == 0:
            return winerror.ERROR_SUCCESS
        if buffer is None or size > capacity or (buffer[1] is not None and size > buffer[1]):
            return winerror.ERROR_MORE_DATA
        apps.filters.write_buffer(buffer[0])
        return winerror.ERROR_SUCCESS

    # -- the simulated process -----------------------------------------------------------

    def terminate(self) -> None:
        """The simulated process exits without RmEndSession: its handles die, its sessions
        become abandoned. Idempotent."""
        with self._lock:
            if self._exited:
                return
            self._exited = True
            self._handles.clear()
            self._apps.clear()
        self._sessions.mark_exited(self.process)


def _open_world(world: WorldView | str | None) -> WorldView:
    if world is None:
        return World()
    if world == "host":
        from ..world._host import HostWorld

        return HostWorld()
    if isinstance(world, str):
        raise ValueError(f"world must be a World, 'host' or None, not {world!r}")
    return world


def _filter_target(module: object, process: object, service: object) -> FilterTarget:
    """The one target of RmAddFilter/RmRemoveFilter; anything else is 160."""
    module_name, service_name = read_wstr(module), read_wstr(service)
    pairs = read_processes(process, 0 if is_null(process) else 1)
    given = [bool(module_name), bool(pairs), bool(service_name)]
    if given.count(True) != 1:
        raise BadArgument("exactly one filter target is needed")
    if module_name:
        return FilterTarget(RM_FILTER_TRIGGER.RmFilterTriggerFile, module_name)
    if service_name:
        return FilterTarget(RM_FILTER_TRIGGER.RmFilterTriggerService, service_name)
    return FilterTarget(RM_FILTER_TRIGGER.RmFilterTriggerProcess, pairs[0])
