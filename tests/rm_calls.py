"""The one helper module for calling the Restart Manager API in tests (and in the child
processes they start, tests/mp_children).

Everything here calls a backend exactly as ctypes code calls rstrtmgr.dll: out-parameters
through ``byref``, string arrays as ``c_wchar_p`` arrays, structs as ctypes arrays.
"""

from __future__ import annotations

import ctypes
import itertools
from collections.abc import Iterable, Sequence
from ctypes import byref
from dataclasses import dataclass
from typing import Any

import rmcore
from rmcore.registry_store import open_store
from rmcore.session import SessionTable
from rmcore.win32._types import (
    RM_FILTER_INFO,
    RM_PROCESS_INFO,
    RM_UNIQUE_PROCESS,
    RmFilterTriggerFile,
    RmFilterTriggerProcess,
    RmFilterTriggerService,
    filetime_to_int,
)
from rmcore.world._world import App, World

SESSION0 = r"HKCU\Software\Microsoft\RestartManager\Session0000"
FILE = "C:\\Data\\locked.dat"


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


def wstrs(*names: str | None) -> ctypes.Array[ctypes.c_wchar_p]:
    """An ``LPCWSTR[]`` as C code builds it."""
    return (ctypes.c_wchar_p * len(names))(*names)


def primary(store: str, world: World, **kwargs: object) -> tuple[rmcore.Simulator, int, str]:
    """A Simulator on *world* that started a session: (sim, handle, key)."""
    sim = rmcore.Simulator(store, world=world, **kwargs)  # type: ignore[arg-type]
    code, handle, key = start(sim)
    assert code == 0
    return sim, handle, key


def secondary(store: str, world: World, key: str) -> tuple[rmcore.Simulator, int]:
    """Another simulated process on the same store and machine that joined *key*."""
    sim = rmcore.Simulator(store, world=world)
    code, handle = join(sim, key)
    assert code == 0
    return sim, handle


def unique(app: App) -> RM_UNIQUE_PROCESS:
    """The RM_UNIQUE_PROCESS naming *app* (rmcore's Windows layout)."""
    return RM_UNIQUE_PROCESS.of(app.pid, app.start_time)


def register(
    sim: rmcore.Simulator,
    handle: int,
    files: Sequence[str] = (),
    apps: Sequence[App] = (),
    services: Sequence[str] = (),
) -> int:
    """RmRegisterResources with NULL for every empty array."""
    procs = (RM_UNIQUE_PROCESS * len(apps))(*(unique(a) for a in apps)) if apps else None
    return sim.RmRegisterResources(
        handle,
        len(files),
        wstrs(*files) if files else None,
        len(apps),
        procs,
        len(services),
        wstrs(*services) if services else None,
    )


@dataclass(frozen=True)
class Row:
    """One RM_PROCESS_INFO as read back from the caller's buffer."""

    pid: int
    start_time: int
    app_name: str
    service_short_name: str
    app_type: int
    status: int
    ts_session: int
    restartable: int


def read_row(info: RM_PROCESS_INFO) -> Row:
    return Row(
        info.Process.dwProcessId,
        filetime_to_int(info.Process.ProcessStartTime),
        info.app_name,
        info.service_short_name,
        info.ApplicationType,
        info.AppStatus,
        info.TSSessionId,
        info.bRestartable,
    )


def get_list(sim: rmcore.Simulator, handle: int, capacity: int = 64) -> tuple[int, list[Row], int]:
    """One RmGetList call with room for *capacity* rows: (code, rows written, reasons)."""
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(capacity), ctypes.c_uint32(0)
    buffer = (RM_PROCESS_INFO * max(capacity, 1))()
    code = sim.RmGetList(handle, byref(needed), byref(count), buffer, byref(reasons))
    rows = [read_row(buffer[i]) for i in range(count.value)] if code == 0 else []
    return code, rows, reasons.value


def rows_by_pid(sim: rmcore.Simulator, handle: int) -> dict[int, Row]:
    code, rows, _ = get_list(sim, handle)
    assert code == 0
    by_pid = {row.pid: row for row in rows}
    assert len(by_pid) == len(rows), f"an app is listed twice: {rows}"
    return by_pid


def status_of(sim: rmcore.Simulator, handle: int, app: App) -> int:
    return rows_by_pid(sim, handle)[app.pid].status


class Recorder:
    """A status callback that records every percentage it is given."""

    def __init__(self) -> None:
        self.values: list[int] = []

    def __call__(self, percent: int) -> None:
        self.values.append(percent)


def assert_progress(values: Sequence[int]) -> None:
    """The documented callback contract: 0..100, strictly increasing, ending at 100."""
    assert values, "the callback was never called"
    assert all(0 <= v <= 100 for v in values), values
    assert all(a < b for a, b in itertools.pairwise(values)), values
    assert values[-1] == 100


# -- RmGetFilterList's buffer ----------------------------------------------------------------


@dataclass(frozen=True)
class FilterRecord:
    action: int
    trigger: int
    target: str | tuple[int, int]


def _wstr_in_buffer(address: int, start: int, end: int) -> str:
    """A NUL-terminated UTF-16 string at *address*, which must lie in [start, end)."""
    assert start <= address < end, "the string pointer points outside the buffer"
    units = []
    while True:
        assert address + 2 <= end, "the string runs past the end of the buffer"
        unit = ctypes.c_uint16.from_address(address).value
        if unit == 0:
            break
        units.append(unit)
        address += 2
    return b"".join(u.to_bytes(2, "little") for u in units).decode("utf-16-le")


def parse_filter_buffer(buffer: ctypes.Array[ctypes.c_ubyte], used: int) -> list[FilterRecord]:
    """Walk the RM_FILTER_INFO records by ``cbNextOffset``, reading strings with ctypes."""
    base = ctypes.addressof(buffer)
    end = base + used
    offset = 0
    records = []
    while True:
        assert offset + ctypes.sizeof(RM_FILTER_INFO) <= used
        record = RM_FILTER_INFO.from_address(base + offset)
        target: str | tuple[int, int]
        if record.FilterTrigger == RmFilterTriggerProcess:
            target = (record.Process.dwProcessId, filetime_to_int(record.Process.ProcessStartTime))
        elif record.FilterTrigger == RmFilterTriggerFile:
            pointer = ctypes.cast(record.strFilename, ctypes.c_void_p).value
            assert pointer is not None
            target = _wstr_in_buffer(pointer, base, end)
        else:
            assert record.FilterTrigger == RmFilterTriggerService
            pointer = ctypes.cast(record.strServiceShortName, ctypes.c_void_p).value
            assert pointer is not None
            target = _wstr_in_buffer(pointer, base, end)
        records.append(FilterRecord(record.FilterAction, record.FilterTrigger, target))
        assert len(records) <= 1000, "cbNextOffset chain does not end"
        if record.cbNextOffset == 0:
            return records
        assert record.cbNextOffset >= ctypes.sizeof(RM_FILTER_INFO)
        offset += record.cbNextOffset


def filter_list(sim: rmcore.Simulator, handle: int) -> list[FilterRecord]:
    """The session's filters through the documented two-call pattern."""
    needed = ctypes.c_uint32(0)
    code = sim.RmGetFilterList(handle, None, 0, byref(needed))
    if needed.value == 0:
        assert code == 0
        return []
    assert code == rmcore.winerror.ERROR_MORE_DATA
    buffer = (ctypes.c_ubyte * needed.value)()
    assert sim.RmGetFilterList(handle, buffer, needed.value, byref(needed)) == 0
    return parse_filter_buffer(buffer, needed.value)


def registry_values(store: object, key: str = SESSION0) -> dict[str, list[str]]:
    """The session key's REG_MULTI_SZ resource groups (RegFiles/RegProcs/RegSvcs NNNN), as
    the emulated hive shows them."""
    table = SessionTable(open_store(store, create=False), max_sessions=64, mutex_timeout=1)
    values = table.hive().get(key)
    assert values is not None
    return {
        name: value.as_list()
        for name, value in values.items()
        if name.startswith(("RegFiles", "RegProcs", "RegSvcs")) and name[-4:].isdigit()
    }


def gui_apps(world: World, count: int, files: Iterable[str] = (FILE,), **kw: object) -> list[App]:
    return [
        world.add_process(f"C:\\Apps\\app{i}.exe", files=list(files), **kw)  # type: ignore[arg-type]
        for i in range(count)
    ]
