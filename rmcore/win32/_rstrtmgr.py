"""The simulated rstrtmgr.dll: one :class:`Simulator` is the DLL loaded in one process.

Methods carry the DLL's export names and parameters (:class:`RestartManagerAPI`, the one
export table) and return the DWORD code as an ``int``. Arguments are taken exactly as the
DLL takes them (:mod:`._args`); inside, every failure is an :class:`RmError` with its
reason, turned into the bare code at the boundary and kept in the call log (:attr:`calls`).
A Simulator holds what a real process would: its handle table and its identity; everything
shared between processes lives in the store, below.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from .. import winerror
from .._errors import RmError
from ..registry_store import Store, StoreError, open_store
from ..session import _fidelity
from ..session._identity import new_simulated_process
from ..session._table import Resources, SessionRef, SessionTable, key_to_bytes
from ..world._engine import Caller, SessionApps
from ..world._filters import FilterTarget
from ..world._world import Clock, World, WorldView
from . import _args as args
from ._calls import CallLog
from ._exports import RestartManagerAPI
from ._faults import ProcessFaults, SimulatedCrash, StoreFaults
from ._session_handles import SessionHandles
from ._types import (
    CCH_RM_SESSION_KEY,
    RM_FILTER_ACTION,
    RM_FILTER_TRIGGER,
    RM_SHUTDOWN_TYPE,
    pack_process_info,
)

__all__ = ["Simulator", "SimulatorExited"]

_PROCESS_INFO_SIZE = 668
_KEY_BYTES = 2 * (CCH_RM_SESSION_KEY + 1)  # the DLL writes 32 WCHARs and a NUL
_SHUTDOWN_FLAGS = RM_SHUTDOWN_TYPE.RmForceShutdown | RM_SHUTDOWN_TYPE.RmShutdownOnlyRegistered
_VALID_ACTIONS = (RM_FILTER_ACTION.RmNoRestart, RM_FILTER_ACTION.RmNoShutdown)
_MAX_ARRAY_BYTES = 1 << 28  # an array this large cannot be copied: ERROR_OUTOFMEMORY

_P = ParamSpec("_P")
_Self = TypeVar("_Self", bound="Simulator")


class SimulatorExited(RuntimeError):
    """The simulated process has exited; nothing can call into its DLL any more."""


def _fail(code: int, reason: str) -> RmError:
    return RmError.from_code(code, reason=reason)


def _entry_point(
    method: Callable[Concatenate[_Self, _P], None],
) -> Callable[Concatenate[_Self, _P], int]:
    """An export: injected faults first, then the body; an RmError becomes its code, store
    failures 29, memory exhaustion 14. ``ctypes.ArgumentError``, the access violation and
    (strict mode) :class:`RmUsageWarning` propagate, as they would from the real DLL."""
    function = method.__name__

    def call(self: _Self, /, *arguments: _P.args, **kwargs: _P.kwargs) -> int:
        if self._exited:
            raise SimulatorExited(f"{function} called after the simulated process exited")
        entry = self.calls.begin(function, arguments)
        try:
            if self.faults.armed or self.store_faults.armed:
                self._injected(function)
            method(self, *arguments, **kwargs)
            code, reason = winerror.ERROR_SUCCESS, ""
        except RmError as exc:
            code, reason = exc.winerror, exc.reason
        except StoreError as exc:
            code, reason = winerror.ERROR_WRITE_FAULT, str(exc)
        except MemoryError:
            code, reason = winerror.ERROR_OUTOFMEMORY, "out of memory"
        except SimulatedCrash:
            self.calls.end(entry, None, "the simulated process crashed here")
            self.terminate()
            raise SimulatorExited(f"the simulated process crashed inside {function}") from None
        except BaseException as exc:
            self.calls.end(entry, None, f"raised {type(exc).__name__}: {exc}")
            raise
        self.calls.end(entry, code, reason)
        return code

    functools.update_wrapper(call, method)
    return call


class Simulator(RestartManagerAPI):
    """rstrtmgr.dll as loaded by one (simulated) process, over a shared store.

    *store*: ``":memory:"`` (a private in-memory store), a store object (shared with the
    Simulators given the same object), an absolute directory (shared with every process
    that opens it), or ``None`` (``$RMCORE_STORE`` or the per-user default directory).
    *strict*: raise :class:`~rmcore.RmUsageWarning` for calls Windows accepts but that are
    probably mistakes, instead of warning.
    """

    def __init__(
        self,
        store: Store | str | os.PathLike[str] | None = None,
        *,
        max_sessions: int = 64,
        mutex_timeout: float = _fidelity.DEFAULT_MUTEX_TIMEOUT,
        world: WorldView | str | None = None,
        ts_session: int = 1,
        strict: bool = False,
        call_log: int = 10_000,
    ) -> None:
        if max_sessions < 1 or mutex_timeout < 0:
            raise ValueError("max_sessions must be >= 1 and mutex_timeout >= 0")
        self._store = open_store(store)
        self._sessions = SessionTable(
            self._store, max_sessions=max_sessions, mutex_timeout=mutex_timeout
        )
        self.process = new_simulated_process()
        self.world = _open_world(world)
        self.clock: Clock = getattr(self.world, "clock", None) or Clock()
        self.faults = ProcessFaults(self.clock, self._store)
        self._sessions.on_write = self.faults.crash_point
        self.store_faults = StoreFaults(self._store, mutex_timeout)
        self.strict = strict
        self.ts_session = ts_session  # the terminal-services session this process runs in
        self.calls = CallLog(call_log)
        self._handles = SessionHandles()
        self._lock = threading.Lock()
        self._exited = False
        self._exit_callbacks: list[Callable[[], None]] = []

    def at_exit(self, callback: Callable[[], None]) -> None:
        """Run *callback* when this simulated process exits (the DLLs beside rstrtmgr close
        their handles); at once if it already has."""
        with self._lock:
            if not self._exited:
                self._exit_callbacks.append(callback)
                return
        callback()

    @property
    def store(self) -> Store:
        """The store this Simulator's sessions live in."""
        return self._store

    @property
    def sessions(self) -> SessionTable:
        """The store's session table (for inspection and maintenance)."""
        return self._sessions

    @property
    def pid(self) -> int:
        """The PID this simulated process reports (its OS process's)."""
        return self.process.os_process.pid

    def __repr__(self) -> str:
        return f"<rmcore.Simulator store={self._store.describe()!r} process={self.process.tag()}>"

    def _injected(self, function: str) -> None:
        code = self.faults.take(function)
        if code is None:
            code = self.store_faults.take(function)
        if code is not None:
            raise _fail(code, "injected fault")

    def _diagnostics(self, function: str) -> args.Diagnostics:
        return args.Diagnostics(function, self.strict)

    # -- handles -----------------------------------------------------------------------------

    def _open(self, handle_out: args.DwordSlot, opened: Callable[[int], SessionRef]) -> None:
        handle_out.set(self._handles.open(opened))

    def _lookup(self, handle_arg: object) -> tuple[int, SessionRef]:
        """The session a handle names in this process, or 6."""
        handle = args.dword(handle_arg, 1)
        ref = self._handles.get(handle)
        if ref is None:
            raise _fail(winerror.ERROR_INVALID_HANDLE, f"no session has handle {handle}")
        return handle, ref

    def _primary(self, handle_arg: object, function: str) -> tuple[SessionRef, SessionApps]:
        """The session and its app state, for calls only the primary may make (else 1219)."""
        handle, ref = self._lookup(handle_arg)
        if not ref.primary:
            raise _fail(
                _fidelity.SECONDARY_CALLS_PRIMARY_ONLY_RESULT,
                f"handle {handle} joined the session: only its primary may call {function}",
            )
        return ref, self._handles.apps(handle, self.world)

    def _caller(self) -> Caller:
        return Caller(self.pid, self.ts_session)

    def handles(self) -> dict[int, SessionRef]:
        """This process's live handles (a copy)."""
        return self._handles.copy()

    # -- sessions ----------------------------------------------------------------------------

    @_entry_point
    def RmStartSession(
        self, pSessionHandle: object, dwSessionFlags: object, strSessionKey: object
    ) -> None:
        diagnostics = self._diagnostics("RmStartSession")
        handle_out = args.dword_slot(pSessionHandle, 1, diagnostics, "pSessionHandle")
        flags = args.dword(dwSessionFlags, 2)
        key_out = args.pointer(strSessionKey, 3)
        if handle_out is None:
            raise _fail(winerror.ERROR_BAD_ARGUMENTS, "pSessionHandle is NULL")
        if key_out is None:
            raise _fail(winerror.ERROR_BAD_ARGUMENTS, "strSessionKey is NULL")
        if flags and _fidelity.REJECT_NONZERO_SESSION_FLAGS:
            raise _fail(winerror.ERROR_BAD_ARGUMENTS, f"dwSessionFlags is {flags:#x}, not 0")
        args.check_out(key_out, _KEY_BYTES, diagnostics, "strSessionKey")
        key: list[bytes] = []

        def start(handle: int) -> SessionRef:
            ref, key_bytes = self._sessions.start(self.process)
            key.append(key_bytes)
            return ref

        self._open(handle_out, start)
        key_out.region.write((key[0].hex() + "\0").encode("utf-16-le"))

    @_entry_point
    def RmJoinSession(self, pSessionHandle: object, strSessionKey: object) -> None:
        diagnostics = self._diagnostics("RmJoinSession")
        handle_out = args.dword_slot(pSessionHandle, 1, diagnostics, "pSessionHandle")
        key_text = args.wstr(strSessionKey, 2, diagnostics, "strSessionKey")
        if handle_out is None:
            raise _fail(winerror.ERROR_BAD_ARGUMENTS, "pSessionHandle is NULL")
        if key_text is None:
            raise _fail(winerror.ERROR_BAD_ARGUMENTS, "strSessionKey is NULL")
        key_bytes = key_to_bytes(key_text)
        if key_bytes is None:
            raise _fail(
                winerror.ERROR_SESSION_CREDENTIAL_CONFLICT,
                f"malformed key {key_text[:40]!r}: not 32 hexadecimal digits",
            )
        self._open(handle_out, lambda handle: self._sessions.join(key_bytes, self.process, handle))

    @_entry_point
    def RmEndSession(self, dwSessionHandle: object) -> None:
        handle, ref = self._lookup(dwSessionHandle)
        try:
            self._sessions.end(ref, self.process, handle)
        except RmError as exc:
            if exc.winerror == _fidelity.STALE_SECONDARY_HANDLE_RESULT:
                self._handles.drop(handle)  # the session is gone: so is this handle
            raise
        self._handles.drop(handle)

    # -- resources and affected apps -----------------------------------------------------------

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
    ) -> None:
        diagnostics = self._diagnostics("RmRegisterResources")
        files = self._names(nFiles, rgsFileNames, 2, "rgsFileNames", diagnostics)
        count = args.dword(nApplications, 4)
        _check_array(count, rgApplications, "rgApplications", "nApplications", 12)
        processes = args.unique_processes(rgApplications, count, 5, diagnostics, "rgApplications")
        services = self._names(nServices, rgsServiceNames, 6, "rgsServiceNames", diagnostics)
        _handle, ref = self._lookup(dwSessionHandle)  # arguments first: a decision
        self._sessions.register(ref, Resources(tuple(files), tuple(processes), tuple(services)))

    def _names(
        self,
        count_arg: object,
        array_arg: object,
        position: int,
        name: str,
        diagnostics: args.Diagnostics,
    ) -> list[str]:
        count = args.dword(count_arg, position)
        _check_array(count, array_arg, name, f"n{name[3:]}", 8)
        names = args.wstr_array(array_arg, count, position + 1, diagnostics, name)
        for index, item in enumerate(names):
            if not item:
                what = "NULL" if item is None else "an empty string"
                raise _fail(winerror.ERROR_BAD_ARGUMENTS, f"{name}[{index}] is {what}")
        return [item for item in names if item]

    @_entry_point
    def RmGetList(
        self,
        dwSessionHandle: object,
        pnProcInfoNeeded: object,
        pnProcInfo: object,
        rgAffectedApps: object,
        lpdwRebootReasons: object,
    ) -> None:
        diagnostics = self._diagnostics("RmGetList")
        needed = args.dword_slot(pnProcInfoNeeded, 2, diagnostics, "pnProcInfoNeeded")
        count = args.dword_slot(pnProcInfo, 3, diagnostics, "pnProcInfo")
        rows_out = args.pointer(rgAffectedApps, 4)
        reasons_out = args.dword_slot(lpdwRebootReasons, 5, diagnostics, "lpdwRebootReasons")
        for slot, name in ((needed, "pnProcInfoNeeded"), (count, "pnProcInfo")):
            if slot is None:
                raise _fail(winerror.ERROR_BAD_ARGUMENTS, f"{name} is NULL")
        if reasons_out is None:
            raise _fail(winerror.ERROR_BAD_ARGUMENTS, "lpdwRebootReasons is NULL")
        assert needed is not None and count is not None
        capacity = count.get()
        if capacity and rows_out is None:
            raise _fail(winerror.ERROR_BAD_ARGUMENTS, f"*pnProcInfo is {capacity}, array NULL")
        if rows_out is not None:
            args.check_record_type(
                rows_out, _PROCESS_INFO_SIZE, diagnostics, "rgAffectedApps", "RM_PROCESS_INFO"
            )
        ref, apps = self._primary(dwSessionHandle, "RmGetList")
        rows, reasons = apps.get_list(self._sessions.resources(ref), self._caller())
        needed.set(len(rows))
        reasons_out.set(int(reasons))
        if len(rows) > capacity:
            count.set(_fidelity.GETLIST_COUNT_ON_MORE_DATA)
            raise _fail(winerror.ERROR_MORE_DATA, f"{len(rows)} apps, room for {capacity}")
        if rows:
            assert rows_out is not None
            data = b"".join(
                pack_process_info(
                    pid=row.id[0],
                    start_time=row.id[1],
                    app_name=row.app_name,
                    service_short_name=row.service_short_name,
                    app_type=row.app_type,
                    app_status=row.status,
                    ts_session_id=row.ts_session,
                    restartable=row.restartable,
                )
                for row in rows
            )
            args.check_out(rows_out, len(data), diagnostics, "rgAffectedApps")
            rows_out.region.write(data)
        count.set(len(rows))

    # -- shutdown and restart ----------------------------------------------------------------

    @_entry_point
    def RmShutdown(self, dwSessionHandle: object, lActionFlags: object, fnStatus: object) -> None:
        flags = args.dword(lActionFlags, 2)
        callback = args.status_callback(fnStatus, 3, self._diagnostics("RmShutdown"), "fnStatus")
        if flags & ~_SHUTDOWN_FLAGS:
            raise _fail(winerror.ERROR_BAD_ARGUMENTS, f"lActionFlags {flags:#x}: undefined bits")
        ref, apps = self._primary(dwSessionHandle, "RmShutdown")
        apps.shutdown(
            self._sessions.resources(ref),
            self._caller(),
            force=bool(flags & RM_SHUTDOWN_TYPE.RmForceShutdown),
            only_registered=bool(flags & RM_SHUTDOWN_TYPE.RmShutdownOnlyRegistered),
            callback=callback,
        )

    @_entry_point
    def RmRestart(self, dwSessionHandle: object, dwRestartFlags: object, fnStatus: object) -> None:
        flags = args.dword(dwRestartFlags, 2)
        callback = args.status_callback(fnStatus, 3, self._diagnostics("RmRestart"), "fnStatus")
        if flags and _fidelity.REJECT_NONZERO_SESSION_FLAGS:
            raise _fail(winerror.ERROR_BAD_ARGUMENTS, f"dwRestartFlags is {flags:#x}, not 0")
        ref, apps = self._primary(dwSessionHandle, "RmRestart")
        self._sessions.resources(ref)  # the session must still exist (6), mutex (121)
        apps.restart(callback)

    @_entry_point
    def RmCancelCurrentTask(self, dwSessionHandle: object) -> None:
        _ref, apps = self._primary(dwSessionHandle, "RmCancelCurrentTask")
        if not apps.cancel() and _fidelity.CANCEL_WITHOUT_TASK_RESULT:
            raise _fail(_fidelity.CANCEL_WITHOUT_TASK_RESULT, "no task is running")

    # -- filters -------------------------------------------------------------------------------

    @_entry_point
    def RmAddFilter(
        self,
        dwSessionHandle: object,
        strModuleName: object,
        pProcess: object,
        strServiceShortName: object,
        FilterAction: object,
    ) -> None:
        diagnostics = self._diagnostics("RmAddFilter")
        target = _filter_target(strModuleName, pProcess, strServiceShortName, diagnostics)
        action = args.dword(FilterAction, 5)
        if _fidelity.FILTER_ACTION_MUST_BE_VALID and action not in _VALID_ACTIONS:
            raise _fail(winerror.ERROR_BAD_ARGUMENTS, f"FilterAction {action} is not 1 or 2")
        _ref, apps = self._primary(dwSessionHandle, "RmAddFilter")
        apps.filters.add(target, RM_FILTER_ACTION(action))

    @_entry_point
    def RmRemoveFilter(
        self,
        dwSessionHandle: object,
        strModuleName: object,
        pProcess: object,
        strServiceShortName: object,
    ) -> None:
        diagnostics = self._diagnostics("RmRemoveFilter")
        target = _filter_target(strModuleName, pProcess, strServiceShortName, diagnostics)
        _ref, apps = self._primary(dwSessionHandle, "RmRemoveFilter")
        if not apps.filters.remove(target):
            raise _fail(winerror.ERROR_FILE_NOT_FOUND, "no filter on this target")

    @_entry_point
    def RmGetFilterList(
        self,
        dwSessionHandle: object,
        pbFilterBuf: object,
        cbFilterBuf: object,
        cbFilterBufNeeded: object,
    ) -> None:
        diagnostics = self._diagnostics("RmGetFilterList")
        buffer = args.pointer(pbFilterBuf, 2)
        capacity = args.dword(cbFilterBuf, 3)
        needed = args.dword_slot(cbFilterBufNeeded, 4, diagnostics, "cbFilterBufNeeded")
        _ref, apps = self._primary(dwSessionHandle, "RmGetFilterList")
        if needed is None:  # documented: 234 "or cbFilterBufNeeded not given"
            raise _fail(winerror.ERROR_MORE_DATA, "cbFilterBufNeeded is NULL")
        size = apps.filters.buffer_size()
        needed.set(size)
        if size == 0:
            return
        if buffer is None or size > capacity:
            raise _fail(winerror.ERROR_MORE_DATA, f"{size} bytes needed, cbFilterBuf {capacity}")
        args.check_out(buffer, size, diagnostics, "pbFilterBuf")
        buffer.region.write(apps.filters.buffer_bytes(buffer.region.address))

    # -- the simulated process ---------------------------------------------------------------

    def reset(self) -> None:
        """Start this simulated process over, as a test's next step wants it: every session
        it holds is ended (started ones end, joined ones are left, as RmEndSession does),
        every fault armed on it or on its store is disarmed, and its call log is emptied.
        The World and other processes' sessions are left as they are."""
        for handle, ref in self._handles.copy().items():
            with contextlib.suppress(RmError):  # a session already gone is gone
                self._sessions.end(ref, self.process, handle)
            self._handles.drop(handle)
        self.faults.clear()
        self.store_faults.clear()
        self.calls.clear()

    def terminate(self) -> None:
        """The simulated process exits without RmEndSession: its handles die, its sessions
        become abandoned. Idempotent."""
        with self._lock:
            if self._exited:
                return
            self._exited = True
            self._handles.clear()
            callbacks, self._exit_callbacks = self._exit_callbacks, []
        for callback in callbacks:
            callback()
        with contextlib.suppress(RmError):  # a process exits whatever the store says
            self._sessions.mark_exited(self.process)


def _check_array(count: int, array: object, name: str, count_name: str, size: int) -> None:
    """A count with a NULL array is 160 (documented); one too large to copy is 14."""
    if count and args.pointer(array, 0) is None:
        raise _fail(winerror.ERROR_BAD_ARGUMENTS, f"{name} is NULL with {count_name}={count}")
    if count * size > _MAX_ARRAY_BYTES:
        raise _fail(winerror.ERROR_OUTOFMEMORY, f"{count_name}={count}: too many to copy")


def _open_world(world: WorldView | str | None) -> WorldView:
    if world is None:
        return World()
    if world == "host":
        from ..world._host import HostWorld

        return HostWorld()
    if isinstance(world, str):
        raise ValueError(f"world must be a World, 'host' or None, not {world!r}")
    return world


def _filter_target(
    module: object, process: object, service: object, diagnostics: args.Diagnostics
) -> FilterTarget:
    """The one target of RmAddFilter/RmRemoveFilter; anything else is 160."""
    module_name = args.wstr(module, 2, diagnostics, "strModuleName")
    service_name = args.wstr(service, 4, diagnostics, "strServiceShortName")
    pairs = args.unique_processes(process, 1, 3, diagnostics, "pProcess")
    given = [bool(module_name), bool(pairs), bool(service_name)]
    if given.count(True) != 1:
        raise _fail(
            winerror.ERROR_BAD_ARGUMENTS, f"{given.count(True)} filter targets given, not 1"
        )
    if module_name:
        return FilterTarget(RM_FILTER_TRIGGER.RmFilterTriggerFile, module_name)
    if service_name:
        return FilterTarget(RM_FILTER_TRIGGER.RmFilterTriggerService, service_name)
    return FilterTarget(RM_FILTER_TRIGGER.RmFilterTriggerProcess, pairs[0])
