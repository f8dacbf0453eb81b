"""The Pythonic layer: sessions as objects, failures as exceptions with ``.winerror``.

It drives any object with the DLL's methods (a :class:`~rmcore.Simulator` by default), so
the same code runs against the simulator or the real rstrtmgr.dll.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from . import winerror
from ._backends import get_backend
from ._errors import RmError
from .registry_store import RegistryStore
from .win32._types import (
    CCH_RM_SESSION_KEY,
    RM_APP_STATUS,
    RM_APP_TYPE,
    RM_FILTER_ACTION,
    RM_FILTER_TRIGGER,
    RM_PROCESS_INFO,
    RM_REBOOT_REASON,
    RM_SHUTDOWN_TYPE,
    RM_UNIQUE_PROCESS,
    RM_WRITE_STATUS_CALLBACK,
    read_unique_process,
    write_unique_process,
    wstr_get,
)
from .world._filters import read_filter_buffer

__all__ = [
    "AffectedApps",
    "Filter",
    "ProcessInfo",
    "RestartManagerAPI",
    "Session",
    "check",
    "default_backend",
    "hold_registry_mutex",
]

GETLIST_ATTEMPTS = 5  # what Service Fabric, Tailscale and restartmgr use (spec §1.5)


class RestartManagerAPI(Protocol):
    """What the Pythonic layer needs of a backend: the DLL's session exports."""

    def RmStartSession(
        self, pSessionHandle: object, dwSessionFlags: object, strSessionKey: object
    ) -> int: ...
    def RmJoinSession(self, pSessionHandle: object, strSessionKey: object) -> int: ...
    def RmEndSession(self, dwSessionHandle: object) -> int: ...
    def RmRegisterResources(
        self,
        dwSessionHandle: object,
        nFiles: object,
        rgsFileNames: object,
        nApplications: object,
        rgApplications: object,
        nServices: object,
        rgsServiceNames: object,
    ) -> int: ...
    def RmGetList(
        self,
        dwSessionHandle: object,
        pnProcInfoNeeded: object,
        pnProcInfo: object,
        rgAffectedApps: object,
        lpdwRebootReasons: object,
    ) -> int: ...
    def RmShutdown(
        self, dwSessionHandle: object, lActionFlags: object, fnStatus: object
    ) -> int: ...
    def RmRestart(
        self, dwSessionHandle: object, dwRestartFlags: object, fnStatus: object
    ) -> int: ...
    def RmCancelCurrentTask(self, dwSessionHandle: object) -> int: ...
    def RmAddFilter(
        self,
        dwSessionHandle: object,
        strModuleName: object,
        pProcess: object,
        strServiceShortName: object,
        FilterAction: object,
    ) -> int: ...
    def RmRemoveFilter(
        self,
        dwSessionHandle: object,
        strModuleName: object,
        pProcess: object,
        strServiceShortName: object,
    ) -> int: ...
    def RmGetFilterList(
        self,
        dwSessionHandle: object,
        pbFilterBuf: object,
        cbFilterBuf: object,
        cbFilterBufNeeded: object,
    ) -> int: ...


def check(code: int, function: str) -> None:
    """Raise the :class:`RmError` subclass for *code* unless it is ERROR_SUCCESS."""
    if code:
        raise RmError.from_code(code, function)


_default: RestartManagerAPI | None = None
_default_lock = threading.Lock()


def default_backend() -> RestartManagerAPI:
    """This process's backend, created on first use: ``get_backend()``, i.e. the
    Simulator on the default store unless ``RMCORE_BACKEND`` asks for the real DLL."""
    global _default
    with _default_lock:
        if _default is None:
            _default = get_backend()
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

    # -- resources and affected apps ---------------------------------------------------

    def register(
        self,
        files: Sequence[str] = (),
        processes: Sequence[tuple[int, int]] = (),
        services: Sequence[str] = (),
    ) -> None:
        """RmRegisterResources: full file paths, (PID, start FILETIME) pairs, service names."""
        names = (ctypes.c_wchar_p * len(files))(*files) if files else None
        procs = (RM_UNIQUE_PROCESS * len(processes))() if processes else None
        for slot, (pid, start) in zip(procs or (), processes, strict=False):
            write_unique_process(slot, pid, start)
        svcs = (ctypes.c_wchar_p * len(services))(*services) if services else None
        code = self.api.RmRegisterResources(
            self.handle, len(files), names, len(processes), procs, len(services), svcs
        )
        check(code, "RmRegisterResources")

    def affected_apps(self, attempts: int = GETLIST_ATTEMPTS) -> AffectedApps:
        """RmGetList with the documented retry loop: the list can grow between two calls."""
        needed, count, reasons = ctypes.c_uint32(), ctypes.c_uint32(0), ctypes.c_uint32()
        rows = (RM_PROCESS_INFO * 0)()
        for _ in range(attempts):
            count.value = len(rows)
            code = self.api.RmGetList(
                self.handle,
                ctypes.byref(needed),
                ctypes.byref(count),
                rows if len(rows) else None,
                ctypes.byref(reasons),
            )
            if code != winerror.ERROR_MORE_DATA:
                check(code, "RmGetList")
                apps = tuple(ProcessInfo.from_struct(row) for row in rows[: count.value])
                return AffectedApps(apps, RM_REBOOT_REASON(reasons.value))
            rows = (RM_PROCESS_INFO * needed.value)()
        raise RmError.from_code(winerror.ERROR_MORE_DATA, "RmGetList")

    def shutdown(
        self,
        *,
        force: bool = False,
        only_registered: bool = False,
        progress: Callable[[int], object] | None = None,
    ) -> None:
        """RmShutdown; *progress* receives the percentage done (strictly increasing to 100)."""
        flags = (RM_SHUTDOWN_TYPE.RmForceShutdown if force else 0) | (
            RM_SHUTDOWN_TYPE.RmShutdownOnlyRegistered if only_registered else 0
        )
        check(self.api.RmShutdown(self.handle, int(flags), _callback(progress)), "RmShutdown")

    def restart(self, *, progress: Callable[[int], object] | None = None) -> None:
        """RmRestart: bring back what :meth:`shutdown` stopped."""
        check(self.api.RmRestart(self.handle, 0, _callback(progress)), "RmRestart")

    def cancel(self) -> None:
        """RmCancelCurrentTask, meant to be called from another thread."""
        check(self.api.RmCancelCurrentTask(self.handle), "RmCancelCurrentTask")

    # -- filters -------------------------------------------------------------------------

    def add_filter(
        self,
        action: RM_FILTER_ACTION,
        *,
        path: str | None = None,
        process: tuple[int, int] | None = None,
        service: str | None = None,
    ) -> None:
        """RmAddFilter on exactly one of an executable *path*, a *process* or a *service*."""
        code = self.api.RmAddFilter(self.handle, path, _process_arg(process), service, int(action))
        check(code, "RmAddFilter")

    def remove_filter(
        self,
        *,
        path: str | None = None,
        process: tuple[int, int] | None = None,
        service: str | None = None,
    ) -> None:
        """RmRemoveFilter (FileNotFoundRmError when there is no such filter)."""
        code = self.api.RmRemoveFilter(self.handle, path, _process_arg(process), service)
        check(code, "RmRemoveFilter")

    def filters(self) -> list[Filter]:
        """RmGetFilterList, decoded."""
        needed = ctypes.c_uint32()
        code = self.api.RmGetFilterList(self.handle, None, 0, ctypes.byref(needed))
        if code == winerror.ERROR_SUCCESS and needed.value == 0:
            return []
        if code != winerror.ERROR_MORE_DATA:
            check(code, "RmGetFilterList")
        buffer = (ctypes.c_ubyte * needed.value)()
        code = self.api.RmGetFilterList(self.handle, buffer, needed.value, ctypes.byref(needed))
        check(code, "RmGetFilterList")
        return [
            Filter(action, target.trigger, target.value)
            for action, target in read_filter_buffer(buffer)
        ]

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


@dataclass(frozen=True)
class ProcessInfo:
    """One affected app (an RM_PROCESS_INFO), with enums for its type and status."""

    pid: int
    start_time: int  # FILETIME, 100 ns ticks since 1601
    app_name: str
    service_short_name: str
    app_type: RM_APP_TYPE | int
    status: RM_APP_STATUS
    ts_session_id: int  # -1 (RM_INVALID_TS_SESSION) when unknown or unused
    restartable: bool

    @classmethod
    def from_struct(cls, row: ctypes.Structure) -> ProcessInfo:
        pid, start = read_unique_process(row.Process)
        raw_type = int(row.ApplicationType)
        ts_session = int(row.TSSessionId) & 0xFFFFFFFF
        return cls(
            pid=pid,
            start_time=start,
            app_name=wstr_get(row.strAppName),
            service_short_name=wstr_get(row.strServiceShortName),
            app_type=RM_APP_TYPE(raw_type) if raw_type in _APP_TYPES else raw_type,
            status=RM_APP_STATUS(int(row.AppStatus) & 0xFFFFFFFF),
            ts_session_id=-1 if ts_session == 0xFFFFFFFF else ts_session,
            restartable=bool(row.bRestartable),
        )

    @property
    def unique_process(self) -> tuple[int, int]:
        """(PID, start time): what RM_UNIQUE_PROCESS, filters and registration take."""
        return (self.pid, self.start_time)


_APP_TYPES = frozenset(int(t) for t in RM_APP_TYPE)


@dataclass(frozen=True)
class AffectedApps:
    """RmGetList's answer: the apps and the combined reboot reasons."""

    apps: tuple[ProcessInfo, ...]
    reboot_reasons: RM_REBOOT_REASON

    @property
    def reboot_needed(self) -> bool:
        """Non-zero reasons: shutting apps down cannot free the resources (spec §1.5)."""
        return bool(self.reboot_reasons)


@dataclass(frozen=True)
class Filter:
    """One RmGetFilterList record: what it targets and what it prevents."""

    action: RM_FILTER_ACTION
    trigger: RM_FILTER_TRIGGER
    target: str | tuple[int, int]


def _callback(progress: Callable[[int], object] | None) -> object:
    return None if progress is None else RM_WRITE_STATUS_CALLBACK(progress)


def _process_arg(process: tuple[int, int] | None) -> object:
    if process is None:
        return None
    target = RM_UNIQUE_PROCESS()
    write_unique_process(target, *process)
    return ctypes.byref(target)


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
