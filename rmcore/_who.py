"""``who``: which processes of this machine use some files, asked the Restart Manager way.

It drives the Win32-shaped API exactly as an installer would (start a session, register
the files, RmGetList with the two-call pattern, end the session) on a throwaway store with
the host world, so what it prints is what RmGetList reports.
"""

from __future__ import annotations

import ctypes
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from . import winerror
from ._errors import RmError
from .win32._rstrtmgr import Simulator
from .win32._types import RM_APP_STATUS, RM_APP_TYPE, RM_PROCESS_INFO, RM_REBOOT_REASON

__all__ = ["WhoEntry", "filetime_to_datetime", "who"]

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
_GETLIST_TRIES = 5  # RM refreshes the list on every call (RmGetList page); others loop 5 times


def filetime_to_datetime(filetime: int) -> datetime:
    """A FILETIME (100 ns ticks since 1601-01-01 UTC) as an aware UTC datetime."""
    return _FILETIME_EPOCH + timedelta(microseconds=filetime // 10)


@dataclass(frozen=True)
class WhoEntry:
    """One RM_PROCESS_INFO row, plus the executable and user the OS reports for it."""

    pid: int
    start_time: int  # FILETIME
    name: str
    exe: str  # "" when the process does not let us read it
    user: str  # "" likewise
    app_type: RM_APP_TYPE
    status: RM_APP_STATUS
    ts_session: int
    restartable: bool
    reboot_reasons: RM_REBOOT_REASON  # of the whole list, as RmGetList returns them

    @property
    def started(self) -> datetime:
        return filetime_to_datetime(self.start_time)

    def as_json(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "start_time": self.start_time,
            "started": self.started.isoformat(),
            "name": self.name,
            "exe": self.exe,
            "user": self.user,
            "app_type": self.app_type.name,
            "status": int(self.status),
            "ts_session": self.ts_session,
            "restartable": self.restartable,
        }


def who(paths: Sequence[str]) -> list[WhoEntry]:
    """The processes RmGetList reports for *paths* (made absolute) on this machine.

    Raises :class:`ImportError` without psutil and :class:`RmError` when a call fails
    (e.g. ERROR_ACCESS_DENIED for a directory).
    """
    files = [os.path.abspath(path) for path in paths]
    if not files:
        return []
    with tempfile.TemporaryDirectory(prefix="rmcore-who-") as store:
        sim = Simulator(store, world="host")
        handle = ctypes.c_uint32(0xFFFFFFFF)
        key = ctypes.create_unicode_buffer(33)
        _check(sim.RmStartSession(ctypes.byref(handle), 0, key), "RmStartSession")
        try:
            names = (ctypes.c_wchar_p * len(files))(*files)
            code = sim.RmRegisterResources(handle.value, len(files), names, 0, None, 0, None)
            _check(code, "RmRegisterResources")
            rows, reasons = _get_list(sim, handle.value)
        finally:
            sim.RmEndSession(handle.value)
    return [_entry(row, reasons) for row in rows]


def _check(code: int, function: str) -> None:
    if code != winerror.ERROR_SUCCESS:
        raise RmError.from_code(code, function)


def _get_list(sim: Simulator, handle: int) -> tuple[list[RM_PROCESS_INFO], RM_REBOOT_REASON]:
    """RmGetList's two-call pattern, retried while the list keeps growing."""
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(0), ctypes.c_uint32(0)
    array: ctypes.Array[RM_PROCESS_INFO] | None = None
    for _ in range(_GETLIST_TRIES):
        count.value = 0 if array is None else len(array)
        code = sim.RmGetList(
            handle, ctypes.byref(needed), ctypes.byref(count), array, ctypes.byref(reasons)
        )
        if code == winerror.ERROR_SUCCESS:
            rows = [] if array is None else list(array[: count.value])
            return rows, RM_REBOOT_REASON(reasons.value)
        if code != winerror.ERROR_MORE_DATA:
            break
        array = (RM_PROCESS_INFO * needed.value)()
    raise RmError.from_code(code, "RmGetList")


def _entry(row: RM_PROCESS_INFO, reasons: RM_REBOOT_REASON) -> WhoEntry:
    pid = row.Process.dwProcessId
    exe, user = _exe_and_user(pid)
    return WhoEntry(
        pid=pid,
        start_time=row.Process.ProcessStartTime.to_int(),
        name=row.app_name,
        exe=exe,
        user=user,
        app_type=RM_APP_TYPE(row.ApplicationType),
        status=RM_APP_STATUS(row.AppStatus),
        ts_session=row.TSSessionId,
        restartable=bool(row.bRestartable),
        reboot_reasons=reasons,
    )


def _exe_and_user(pid: int) -> tuple[str, str]:
    """What RM_PROCESS_INFO does not carry, read from the OS ("" if unreadable or gone)."""
    import psutil  # present: the host world already needed it

    try:
        process = psutil.Process(pid)
    except psutil.Error:
        return "", ""
    values = []
    for read in (process.exe, process.username):
        try:
            values.append(read())
        except (psutil.Error, OSError):
            values.append("")
    return values[0], values[1]
