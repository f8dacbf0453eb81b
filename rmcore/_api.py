"""The Pythonic layer: sessions as objects, failures as exceptions with ``.winerror``.

It drives any backend with the DLL's methods (:class:`~rmcore.Simulator` or the real
rstrtmgr.dll, chosen by :func:`~rmcore.default_backend` when none is given), so the same code
runs against either. Arguments are checked here, in Python terms (``TypeError`` or
``ValueError`` naming the argument), before any Win32-shaped call is made.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType

from . import winerror
from ._backends import default_backend
from ._errors import RmError
from .registry_store import Store, open_store
from .win32._exports import RestartManagerAPI
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
)
from .world._filters import read_filter_buffer

__all__ = [
    "AffectedApps",
    "Filter",
    "ProcessInfo",
    "Session",
    "check",
    "hold_registry_mutex",
]

GETLIST_ATTEMPTS = 5  # what Service Fabric, Tailscale and restartmgr use (RmGetList page)


def check(code: int, function: str, api: object = None) -> None:
    """Raise the :class:`RmError` subclass for *code* unless it is ERROR_SUCCESS; with a
    Simulator as *api*, the error says why (the reason its call log recorded)."""
    if not code:
        return
    reason = ""
    calls = getattr(api, "calls", None)
    if calls is not None:
        me = threading.get_ident()
        for call in reversed(list(calls)):
            if call.function == function and call.thread == me:
                reason = call.reason
                break
    raise RmError.from_code(code, function, reason)


def _strings(value: object, name: str) -> list[str]:
    """A sequence of non-empty ``str`` (a bare ``str`` is refused: it is not a list)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, not a single {type(value).__name__}")
    try:
        items: list[object] = list(value)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"{name} must be a list of strings, not {type(value).__name__}") from None
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{index}] must be a str, not {type(item).__name__}")
        if not item or "\0" in item:
            raise ValueError(f"{name}[{index}] must be a non-empty string without NUL")
    return [str(item) for item in items]


def _process_pairs(value: object, name: str) -> list[tuple[int, int]]:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a list of (pid, start_time) pairs")
    pairs = []
    for index, item in enumerate(list(value)):  # type: ignore[call-overload]
        pid, start = _process_pair(item, f"{name}[{index}]")
        pairs.append((pid, start))
    return pairs


def _process_pair(item: object, name: str) -> tuple[int, int]:
    try:
        parts: list[object] = list(item)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"{name} must be a (pid, start_time) pair, not {item!r}") from None
    if len(parts) != 2:
        raise TypeError(f"{name} must be a (pid, start_time) pair, not {item!r}")
    values = []
    for part, limit in zip(parts, (1 << 32, 1 << 64), strict=True):
        if isinstance(part, bool) or not isinstance(part, int):
            raise TypeError(f"{name} must hold two ints, not {item!r}")
        if not 0 <= part < limit:
            raise ValueError(f"{name}: {part} does not fit its field")
        values.append(part)
    return values[0], values[1]


def _progress(progress: object, name: str = "progress") -> object:
    if progress is None:
        return None
    if isinstance(progress, (bool, int)) or not callable(progress):
        raise TypeError(f"{name} must be a callable taking the percentage, or None")
    return RM_WRITE_STATUS_CALLBACK(progress)


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
        check(api.RmStartSession(ctypes.byref(handle), 0, key), "RmStartSession", api)
        return cls(api, handle.value, key.value, primary=True)

    @classmethod
    def join(cls, key: str, api: RestartManagerAPI | None = None) -> Session:
        """RmJoinSession: take part in the session *key* names, as a secondary."""
        api = default_backend() if api is None else api
        if not isinstance(key, str):
            raise TypeError(f"key must be a str, not {type(key).__name__}")
        handle = ctypes.c_uint32()
        check(api.RmJoinSession(ctypes.byref(handle), key), "RmJoinSession", api)
        return cls(api, handle.value, key, primary=False)

    def end(self) -> None:
        """RmEndSession: end the session (primary) or leave it (secondary)."""
        self._check(self.api.RmEndSession(self.handle), "RmEndSession")
        self.ended = True

    # -- resources and affected apps ---------------------------------------------------

    def register(
        self,
        files: Sequence[str] = (),
        processes: Sequence[tuple[int, int]] = (),
        services: Sequence[str] = (),
    ) -> None:
        """RmRegisterResources: full file paths, (PID, start FILETIME) pairs, service names."""
        file_list = _strings(files, "files")
        pairs = _process_pairs(processes, "processes")
        service_list = _strings(services, "services")
        names = (ctypes.c_wchar_p * len(file_list))(*file_list) if file_list else None
        procs = (RM_UNIQUE_PROCESS * len(pairs))(*(RM_UNIQUE_PROCESS.of(*p) for p in pairs))
        svcs = (ctypes.c_wchar_p * len(service_list))(*service_list) if service_list else None
        code = self.api.RmRegisterResources(
            self.handle,
            len(file_list),
            names,
            len(pairs),
            procs if pairs else None,
            len(service_list),
            svcs,
        )
        self._check(code, "RmRegisterResources")

    def affected_apps(self, attempts: int = GETLIST_ATTEMPTS) -> AffectedApps:
        """RmGetList with the documented retry loop: the list can grow between two calls."""
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"attempts must be a positive int, not {attempts!r}")
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
                self._check(code, "RmGetList")
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
        code = self.api.RmShutdown(self.handle, int(flags), _progress(progress))
        self._check(code, "RmShutdown")

    def restart(self, *, progress: Callable[[int], object] | None = None) -> None:
        """RmRestart: bring back what :meth:`shutdown` stopped."""
        self._check(self.api.RmRestart(self.handle, 0, _progress(progress)), "RmRestart")

    def cancel(self) -> None:
        """RmCancelCurrentTask, meant to be called from another thread."""
        self._check(self.api.RmCancelCurrentTask(self.handle), "RmCancelCurrentTask")

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
        action = RM_FILTER_ACTION(action)
        target = _filter_target(path, process, service)
        code = self.api.RmAddFilter(self.handle, *target, int(action))
        self._check(code, "RmAddFilter")

    def remove_filter(
        self,
        *,
        path: str | None = None,
        process: tuple[int, int] | None = None,
        service: str | None = None,
    ) -> None:
        """RmRemoveFilter (FileNotFoundRmError when there is no such filter)."""
        code = self.api.RmRemoveFilter(self.handle, *_filter_target(path, process, service))
        self._check(code, "RmRemoveFilter")

    def filters(self) -> list[Filter]:
        """RmGetFilterList, decoded."""
        needed = ctypes.c_uint32()
        code = self.api.RmGetFilterList(self.handle, None, 0, ctypes.byref(needed))
        if code == winerror.ERROR_SUCCESS and needed.value == 0:
            return []
        if code != winerror.ERROR_MORE_DATA:
            self._check(code, "RmGetFilterList")
        buffer = (ctypes.c_ubyte * needed.value)()
        code = self.api.RmGetFilterList(self.handle, buffer, needed.value, ctypes.byref(needed))
        self._check(code, "RmGetFilterList")
        return [
            Filter(action, target.trigger, target.value)
            for action, target in read_filter_buffer(buffer)
        ]

    def _check(self, code: int, function: str) -> None:
        check(code, function, self.api)

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
    def from_struct(cls, row: RM_PROCESS_INFO) -> ProcessInfo:
        pid, start = row.Process.pair()
        raw_type = int(row.ApplicationType)
        ts_session = int(row.TSSessionId) & 0xFFFFFFFF
        return cls(
            pid=pid,
            start_time=start,
            app_name=row.app_name,
            service_short_name=row.service_short_name,
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
        """Non-zero reasons: shutting apps down cannot free the resources (RmGetList page)."""
        return bool(self.reboot_reasons)


@dataclass(frozen=True)
class Filter:
    """One RmGetFilterList record: what it targets and what it prevents."""

    action: RM_FILTER_ACTION
    trigger: RM_FILTER_TRIGGER
    target: str | tuple[int, int]


def _filter_target(
    path: object, process: object, service: object
) -> tuple[str | None, object, str | None]:
    """The three target arguments of RmAddFilter/RmRemoveFilter, checked."""
    for value, name in ((path, "path"), (service, "service")):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a str or None, not {type(value).__name__}")
    if process is None:
        return path, None, service  # type: ignore[return-value]
    record = RM_UNIQUE_PROCESS.of(*_process_pair(process, "process"))
    return path, ctypes.byref(record), service  # type: ignore[return-value]


@contextmanager
def hold_registry_mutex(
    store: Store | str | os.PathLike[str] | None = None, timeout: float | None = None
) -> Iterator[None]:
    """Hold *store*'s registry write mutex in this process for the ``with`` block.

    Every other process's (and Simulator's) call that needs the mutex then fails with
    ERROR_SEM_TIMEOUT (121) after its timeout, having changed nothing.
    """
    if store == ":memory:":
        raise ValueError("a new ':memory:' store blocks nobody: pass the Simulator's store")
    mutex = open_store(store).mutex
    with mutex.hold(float("inf") if timeout is None else timeout):
        yield
