"""RmRegisterResources and RmGetList: every documented rule and code (their pages,
restartmanager.h, field reports)."""

from __future__ import annotations

import ctypes
import re
from ctypes import byref, wintypes

import pytest
from rm_calls import (
    FILE,
    SESSION0,
    Row,
    get_list,
    primary,
    read_row,
    register,
    registry_values,
    rows_by_pid,
    secondary,
    start,
    unique,
    wstrs,
)
from windows_style import CallerProcessInfo as WinRM_PROCESS_INFO
from windows_style import CallerUniqueProcess as WinRM_UNIQUE_PROCESS

import rmcore
from rmcore import winerror as we
from rmcore.session import _fidelity
from rmcore.win32._types import (
    RM_INVALID_TS_SESSION,
    RM_PROCESS_INFO,
    RM_UNIQUE_PROCESS,
    RmConsole,
    RmCritical,
    RmExplorer,
    RmMainWindow,
    RmOtherWindow,
    RmRebootReasonCriticalProcess,
    RmRebootReasonCriticalService,
    RmRebootReasonDetectedSelf,
    RmRebootReasonNone,
    RmRebootReasonPermissionDenied,
    RmRebootReasonSessionMismatch,
    RmService,
    RmStatusRunning,
    RmUnknownApp,
    filetime_to_int,
)
from rmcore.world._world import World

WinFILETIME = wintypes.FILETIME


@pytest.fixture
def world() -> World:
    return World()


def _resources(store: str) -> dict[str, list[str]]:
    return registry_values(store)


# == RmRegisterResources =====================================================================


@pytest.mark.parametrize("which", ["files", "processes", "services"])
def test_register_nonzero_count_with_null_array_is_160(
    store: str, world: World, which: str
) -> None:
    sim, handle, _ = primary(store, world)
    args = {
        "files": (1, None, 0, None, 0, None),
        "processes": (0, None, 1, None, 0, None),
        "services": (0, None, 0, None, 1, None),
    }[which]
    assert sim.RmRegisterResources(handle, *args) == we.ERROR_BAD_ARGUMENTS == 160
    assert _resources(store) == {}


@pytest.mark.parametrize("which", ["files", "processes", "services"])
def test_register_count_past_the_array_is_an_access_violation(
    store: str, world: World, which: str
) -> None:
    """The DLL would read past the caller's array; rmcore never does: it raises what
    Windows' ctypes raises for an access violation, and registers nothing."""
    sim, handle, _ = primary(store, world)
    app = world.add_process("C:\\a.exe")
    files, procs, svcs = wstrs("C:\\a"), (RM_UNIQUE_PROCESS * 1)(unique(app)), wstrs("Spooler")
    args = {
        "files": (2, files, 0, None, 0, None),
        "processes": (0, None, 2, procs, 0, None),
        "services": (0, None, 0, None, 2, svcs),
    }[which]
    with pytest.raises(OSError, match="exception: access violation reading 0x"):
        sim.RmRegisterResources(handle, *args)
    assert _resources(store) == {}


@pytest.mark.parametrize("bad", [None, ""])
@pytest.mark.parametrize("which", ["files", "services"])
def test_register_null_or_empty_name_is_160_and_registers_nothing(
    store: str, world: World, which: str, bad: str | None
) -> None:
    sim, handle, _ = primary(store, world)
    names = wstrs("C:\\ok.txt" if which == "files" else "Spooler", bad)
    if which == "files":
        code = sim.RmRegisterResources(handle, 2, names, 0, None, 0, None)
    else:
        code = sim.RmRegisterResources(handle, 0, None, 0, None, 2, names)
    assert code == 160
    assert _resources(store) == {}  # the good name before it was not registered either


def test_register_zero_counts_with_null_arrays_is_success(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    assert sim.RmRegisterResources(handle, 0, None, 0, None, 0, None) == 0
    assert _resources(store) == {}


def test_register_unknown_handle_is_6(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    assert sim.RmRegisterResources(handle + 7, 1, wstrs("C:\\a"), 0, None, 0, None) == 6
    assert sim.RmRegisterResources(0xFFFFFFFF, 1, wstrs("C:\\a"), 0, None, 0, None) == 6
    assert sim.RmEndSession(handle) == 0
    assert sim.RmRegisterResources(handle, 1, wstrs("C:\\a"), 0, None, 0, None) == 6


def test_register_bad_arguments_and_bad_handle(store: str, world: World) -> None:
    sim, _handle, _ = primary(store, world)
    expected = 160  # a decision: arguments are checked before the handle
    assert sim.RmRegisterResources(99, 1, None, 0, None, 0, None) == expected


def test_register_mutex_held_is_121_and_registers_nothing(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world, mutex_timeout=0.05)
    with rmcore.hold_registry_mutex(store):
        assert register(sim, handle, ["C:\\a"]) == we.ERROR_SEM_TIMEOUT == 121
    assert _resources(store) == {}
    assert register(sim, handle, ["C:\\a"]) == 0
    assert _resources(store) == {"RegFiles0000": ["C:\\a"]}


def test_register_writes_numbered_groups_per_call(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    notepad = world.add_process(
        "C:\\Windows\\notepad.exe", pid=0x1234, start_time=0x01DA_0000_89AB_CDEF
    )
    assert register(sim, handle, ["C:\\a", "C:\\b"], [notepad], ["Spooler"]) == 0
    assert _resources(store) == {
        "RegFiles0000": ["C:\\a", "C:\\b"],
        "RegProcs0000": ["00001234:01da0000:89abcdef"],
        "RegSvcs0000": ["Spooler"],
    }
    assert register(sim, handle, ["C:\\c"]) == 0
    assert register(sim, handle, services=["WSearch", "BITS"]) == 0
    assert _resources(store) == {
        "RegFiles0000": ["C:\\a", "C:\\b"],
        "RegFiles0001": ["C:\\c"],
        "RegProcs0000": ["00001234:01da0000:89abcdef"],
        "RegSvcs0000": ["Spooler"],
        "RegSvcs0001": ["WSearch", "BITS"],
    }


def test_regprocs_entry_format_is_pid_high_low(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    apps = [world.add_process(f"C:\\p{i}.exe") for i in range(3)]
    assert register(sim, handle, apps=apps) == 0
    entries = _resources(store)["RegProcs0000"]
    assert len(entries) == 3
    for app, entry in zip(apps, entries, strict=True):
        assert re.fullmatch(r"[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8}", entry), entry
        pid, high, low = (int(part, 16) for part in entry.split(":"))
        assert (pid, (high << 32) | low) == app.id
        assert len(entry) == 26


def test_registrations_accumulate_and_all_count_in_getlist(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    a = world.add_process("C:\\a.exe", files=["C:\\one"])
    b = world.add_process("C:\\b.exe", files=["C:\\two"])
    c = world.add_process("C:\\c.exe")
    s = world.add_service("Spooler")
    assert register(sim, handle, ["C:\\one"]) == 0
    assert set(rows_by_pid(sim, handle)) == {a.pid}
    assert register(sim, handle, ["C:\\two"]) == 0
    assert register(sim, handle, apps=[c]) == 0
    assert register(sim, handle, services=["Spooler"]) == 0
    assert set(rows_by_pid(sim, handle)) == {a.pid, b.pid, c.pid, s.pid}


def test_duplicates_are_kept_per_call_and_listed_once(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    app = world.add_process("C:\\a.exe", files=["C:\\x"])
    assert register(sim, handle, ["C:\\x", "C:\\y", "C:\\x"], [app, app], ["BITS", "BITS"]) == 0
    assert register(sim, handle, ["C:\\y", "C:\\z"], [app], ["BITS"]) == 0
    pid, start = app.id
    entry = f"{pid:08x}:{start >> 32:08x}:{start & 0xFFFFFFFF:08x}"
    assert _resources(store) == {  # each call is one group per kind, its names as given
        "RegFiles0000": ["C:\\x", "C:\\y", "C:\\x"],
        "RegFiles0001": ["C:\\y", "C:\\z"],
        "RegProcs0000": [entry, entry],
        "RegProcs0001": [entry],
        "RegSvcs0000": ["BITS", "BITS"],
        "RegSvcs0001": ["BITS"],
    }
    code, rows, _ = get_list(sim, handle)
    assert code == 0 and [r.pid for r in rows] == [pid]  # listed once, by file and by PID


def test_two_thousand_paths_in_one_call(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    paths = [f"C:\\Program Files\\Product\\file{i:04d}.dll" for i in range(2000)]
    holder = world.add_process("C:\\host.exe", files=[paths[1999]])
    assert sim.RmRegisterResources(handle, 2000, wstrs(*paths), 0, None, 0, None) == 0
    assert _resources(store) == {"RegFiles0000": paths}
    assert set(rows_by_pid(sim, handle)) == {holder.pid}


def test_secondary_registers_and_primary_sees_it(store: str, world: World) -> None:
    sim, handle, key = primary(store, world)
    helper, helper_handle = secondary(store, world, key)
    app = world.add_process("C:\\locker.exe", files=["C:\\shared.dll"])
    assert register(sim, handle, ["C:\\mine.dll"]) == 0
    assert register(helper, helper_handle, ["C:\\shared.dll"]) == 0
    assert _resources(store) == {
        "RegFiles0000": ["C:\\mine.dll"],
        "RegFiles0001": ["C:\\shared.dll"],
    }
    assert set(rows_by_pid(sim, handle)) == {app.pid}


def test_processes_as_rmcore_rm_unique_process_array(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    apps = [world.add_process(f"C:\\p{i}.exe") for i in range(2)]
    array = (RM_UNIQUE_PROCESS * 2)(*(unique(a) for a in apps))
    assert ctypes.sizeof(RM_UNIQUE_PROCESS) == 12
    assert sim.RmRegisterResources(handle, 0, None, 2, array, 0, None) == 0
    assert set(rows_by_pid(sim, handle)) == {a.pid for a in apps}


def test_processes_as_callers_windows_style_struct(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    apps = [world.add_process(f"C:\\p{i}.exe") for i in range(2)]
    array = (WinRM_UNIQUE_PROCESS * 2)()
    for slot, app in zip(array, apps, strict=True):
        slot.dwProcessId = app.pid
        slot.ProcessStartTime.dwLowDateTime = app.start_time & 0xFFFFFFFF
        slot.ProcessStartTime.dwHighDateTime = app.start_time >> 32
    assert sim.RmRegisterResources(handle, 0, None, 2, array, 0, None) == 0
    assert sim.RmRegisterResources(handle, 0, None, 1, byref(array[0]), 0, None) == 0  # &one
    rows = rows_by_pid(sim, handle)
    assert {pid: r.start_time for pid, r in rows.items()} == {a.pid: a.start_time for a in apps}
    assert len(_resources(store)["RegProcs0000"]) == 2


def test_process_with_wrong_start_time_is_not_the_process(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    app = world.add_process("C:\\a.exe")
    stale = unique(app)
    stale.ProcessStartTime.dwLowDateTime ^= 1  # a recycled PID: another process
    assert sim.RmRegisterResources(handle, 0, None, 1, (RM_UNIQUE_PROCESS * 1)(stale), 0, None) == 0
    assert get_list(sim, handle)[:2] == (0, [])


def test_nonexistent_service_registers(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    assert register(sim, handle, services=["NoSuchService"]) == 0
    assert get_list(sim, handle) == (0, [], RmRebootReasonNone)


# == RmGetList ===============================================================================


def test_empty_session_getlist_null_buffer_is_success(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    needed, count, reasons = ctypes.c_uint32(99), ctypes.c_uint32(0), ctypes.c_uint32(99)
    assert sim.RmGetList(handle, byref(needed), byref(count), None, byref(reasons)) == 0
    assert (needed.value, count.value, reasons.value) == (0, 0, RmRebootReasonNone)


def test_unlocked_file_gives_no_processes(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    world.add_process("C:\\idle.exe", files=["C:\\other"])
    assert register(sim, handle, [FILE]) == 0
    assert get_list(sim, handle) == (0, [], RmRebootReasonNone)


def test_two_call_pattern(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    apps = [world.add_process(f"C:\\a{i}.exe", files=[FILE]) for i in range(3)]
    assert register(sim, handle, [FILE]) == 0
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(0), ctypes.c_uint32(77)
    assert sim.RmGetList(handle, byref(needed), byref(count), None, byref(reasons)) == 234
    assert needed.value == 3
    assert count.value == _fidelity.GETLIST_COUNT_ON_MORE_DATA
    assert reasons.value == RmRebootReasonNone
    buffer = (RM_PROCESS_INFO * needed.value)()
    count.value = needed.value
    assert sim.RmGetList(handle, byref(needed), byref(count), buffer, byref(reasons)) == 0
    assert (needed.value, count.value) == (3, 3)
    assert sorted(buffer[i].Process.dwProcessId for i in range(3)) == sorted(a.pid for a in apps)


def test_too_small_buffer_is_234_and_writes_nothing(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    for i in range(3):
        world.add_process(f"C:\\a{i}.exe", files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    buffer = (RM_PROCESS_INFO * 2)()
    ctypes.memset(buffer, 0x5A, ctypes.sizeof(buffer))
    before = bytes(buffer)
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(2), ctypes.c_uint32(0)
    code = sim.RmGetList(handle, byref(needed), byref(count), buffer, byref(reasons))
    assert code == we.ERROR_MORE_DATA == 234
    assert needed.value == 3
    assert count.value == _fidelity.GETLIST_COUNT_ON_MORE_DATA
    assert bytes(buffer) == before


def test_larger_buffer_fills_only_count_rows(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    world.add_process("C:\\a.exe", files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    buffer = (RM_PROCESS_INFO * 4)()
    ctypes.memset(ctypes.byref(buffer, ctypes.sizeof(RM_PROCESS_INFO)), 0x5A, 3 * 668)
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(4), ctypes.c_uint32(0)
    assert sim.RmGetList(handle, byref(needed), byref(count), buffer, byref(reasons)) == 0
    assert (needed.value, count.value) == (1, 1)
    assert bytes(buffer)[668:] == b"\x5a" * (3 * 668)


def test_list_is_recomputed_on_every_call(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    first = world.add_process("C:\\first.exe", files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(0), ctypes.c_uint32(0)
    assert sim.RmGetList(handle, byref(needed), byref(count), None, byref(reasons)) == 234
    assert needed.value == 1
    late = world.add_process("C:\\late.exe")
    world.hold(
        late, FILE
    )  # starts holding the file between the two calls (Microsoft's samples loop on it)
    buffer = (RM_PROCESS_INFO * 1)()
    count.value = 1
    assert sim.RmGetList(handle, byref(needed), byref(count), buffer, byref(reasons)) == 234
    assert needed.value == 2 and count.value == _fidelity.GETLIST_COUNT_ON_MORE_DATA
    assert buffer[0].Process.dwProcessId == 0  # still nothing written
    world.release(first, FILE)
    count.value = 1
    assert sim.RmGetList(handle, byref(needed), byref(count), buffer, byref(reasons)) == 0
    assert (needed.value, count.value, buffer[0].Process.dwProcessId) == (1, 1, late.pid)
    world.exit(late)
    assert get_list(sim, handle)[:2] == (0, [])


@pytest.mark.parametrize(
    ("app_type", "ts_session", "restartable"),
    [
        (RmMainWindow, 1, True),
        (RmOtherWindow, 1, False),
        (RmConsole, 1, True),
        (RmExplorer, 1, True),
        (RmUnknownApp, 1, False),
    ],
)
def test_process_row_fields(
    store: str, world: World, app_type: int, ts_session: int, restartable: bool
) -> None:
    sim, handle, _ = primary(store, world)
    app = world.add_process(
        "C:\\Program Files\\Editor\\editor.exe",
        name="Friendly Editor",
        pid=0x4321,
        start_time=0x01DA_1234_5678_9ABC,
        files=[FILE],
        app_type=app_type,
        ts_session=ts_session,
        restartable=restartable,
    )
    assert register(sim, handle, [FILE]) == 0
    code, rows, reasons = get_list(sim, handle)
    assert code == 0 and reasons == RmRebootReasonNone
    assert rows == [
        Row(
            pid=app.pid,
            start_time=0x01DA_1234_5678_9ABC,
            app_name="Friendly Editor",
            service_short_name="",
            app_type=app_type,
            status=RmStatusRunning,
            ts_session=ts_session,
            restartable=int(restartable),
        )
    ]


def test_default_app_name_is_the_exe_name(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    world.add_process("C:\\Windows\\notepad.exe", files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    assert get_list(sim, handle)[1][0].app_name == "notepad.exe"


@pytest.mark.parametrize("declared_restartable", [True, False])
def test_service_row_fields(store: str, world: World, declared_restartable: bool) -> None:
    sim, handle, _ = primary(store, world)
    svc = world.add_service(
        "Spooler", display_name="Print Spooler", files=[FILE], restartable=declared_restartable
    )
    assert register(sim, handle, [FILE]) == 0
    code, rows, reasons = get_list(sim, handle)
    assert code == 0
    mismatch = _fidelity.SERVICES_CAUSE_SESSION_MISMATCH  # service in session 0, caller in 1
    assert reasons == (RmRebootReasonSessionMismatch if mismatch else RmRebootReasonNone)
    assert rows == [
        Row(
            pid=svc.pid,
            start_time=svc.start_time,
            app_name="Print Spooler",  # services: the long (display) name
            service_short_name="Spooler",
            app_type=RmService,
            status=RmStatusRunning,
            ts_session=RM_INVALID_TS_SESSION & 0xFFFFFFFF,  # "unused for services"
            restartable=1,  # always TRUE for services (RM_PROCESS_INFO page)
        )
    ]


def test_service_registered_by_short_name_any_case(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    svc = world.add_service("WSearch", display_name="Windows Search")
    assert register(sim, handle, services=["wsearch"]) == 0
    row = rows_by_pid(sim, handle)[svc.pid]
    assert (row.service_short_name, row.app_type) == ("WSearch", RmService)


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ({"other_user": True}, RmRebootReasonPermissionDenied),
        ({"critical": True}, RmRebootReasonCriticalProcess),
    ],
)
def test_reboot_reasons_of_processes(
    store: str, world: World, behaviour: dict[str, bool], reason: int
) -> None:
    sim, handle, _ = primary(store, world)
    app = world.add_process("C:\\x.exe", files=[FILE], restartable=True, **behaviour)
    normal = world.add_process("C:\\normal.exe", files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    code, rows, reasons = get_list(sim, handle)
    assert code == 0 and reasons == reason
    by_pid = {r.pid: r for r in rows}
    assert by_pid[app.pid].app_type == RmCritical == 1000
    assert by_pid[app.pid].restartable == 0  # "always FALSE for critical system processes"
    assert by_pid[normal.pid].app_type == RmMainWindow
    assert by_pid[normal.pid].restartable == 1


def test_critical_service_reason(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    svc = world.add_service("RpcSs", files=[FILE], critical=True)
    assert register(sim, handle, [FILE]) == 0
    code, rows, reasons = get_list(sim, handle)
    assert code == 0 and reasons == RmRebootReasonCriticalService == 0x8
    assert [(r.pid, r.app_type) for r in rows] == [(svc.pid, RmCritical)]


def test_detected_self(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    me = world.add_process("C:\\setup.exe", pid=sim.pid, files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    code, rows, reasons = get_list(sim, handle)
    assert code == 0 and reasons == RmRebootReasonDetectedSelf == 0x10
    assert [(r.pid, r.app_type, r.restartable) for r in rows] == [(me.pid, RmCritical, 0)]


def test_session_mismatch(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)  # ts_session=1
    other = world.add_process("C:\\x.exe", files=[FILE], ts_session=2)
    world.add_process("C:\\same.exe", files=[FILE], ts_session=1)
    assert register(sim, handle, [FILE]) == 0
    code, rows, reasons = get_list(sim, handle)
    assert code == 0 and reasons == RmRebootReasonSessionMismatch == 0x2
    row = next(r for r in rows if r.pid == other.pid)
    assert row.ts_session == 2
    # RmCritical covers critical processes, no permission and the installer itself (§2.5);
    # a process in another TS session keeps its own type.
    assert row.app_type == RmMainWindow


def test_session_is_the_callers(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world, ts_session=2)
    world.add_process("C:\\x.exe", files=[FILE], ts_session=2)
    assert register(sim, handle, [FILE]) == 0
    assert get_list(sim, handle)[2] == RmRebootReasonNone


def test_reasons_combine(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    world.add_process("C:\\a.exe", files=[FILE], other_user=True)
    world.add_process("C:\\b.exe", files=[FILE], critical=True)
    world.add_process("C:\\c.exe", files=[FILE], ts_session=5)
    world.add_service("RpcSs", files=[FILE], critical=True)
    world.add_process("C:\\me.exe", pid=sim.pid, files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    code, rows, reasons = get_list(sim, handle)
    assert code == 0 and len(rows) == 5
    assert reasons == 0x1 | 0x2 | 0x4 | 0x8 | 0x10


def test_registered_directory_is_5(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    world.add_directory("C:\\Program Files\\Product")
    world.add_process("C:\\a.exe", files=[FILE])
    assert register(sim, handle, [FILE, "C:\\Program Files\\Product"]) == 0  # accepted here
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(0), ctypes.c_uint32(0)
    code = sim.RmGetList(handle, byref(needed), byref(count), None, byref(reasons))
    assert code == we.ERROR_ACCESS_DENIED == 5


def test_secondary_getlist_is_1219(store: str, world: World) -> None:
    sim, handle, key = primary(store, world)
    helper, helper_handle = secondary(store, world, key)
    world.add_process("C:\\a.exe", files=[FILE])
    assert register(helper, helper_handle, [FILE]) == 0
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(0), ctypes.c_uint32(0)
    code = helper.RmGetList(helper_handle, byref(needed), byref(count), None, byref(reasons))
    assert code == we.ERROR_SESSION_CREDENTIAL_CONFLICT == 1219
    assert get_list(sim, handle)[0] == 0


@pytest.mark.parametrize("null", ["needed", "count", "reasons"])
def test_getlist_null_out_pointer_is_160(store: str, world: World, null: str) -> None:
    sim, handle, _ = primary(store, world)
    world.add_process("C:\\a.exe", files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    refs = {name: byref(ctypes.c_uint32(0)) for name in ("needed", "count", "reasons")}
    refs[null] = None  # type: ignore[assignment]
    code = sim.RmGetList(handle, refs["needed"], refs["count"], None, refs["reasons"])
    assert code == 160


def test_getlist_unknown_handle_is_6(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(0), ctypes.c_uint32(0)
    assert sim.RmGetList(handle + 1, byref(needed), byref(count), None, byref(reasons)) == 6
    assert sim.RmEndSession(handle) == 0
    assert sim.RmGetList(handle, byref(needed), byref(count), None, byref(reasons)) == 6


def test_getlist_mutex_held_is_121(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world, mutex_timeout=0.05)
    world.add_process("C:\\a.exe", files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    buffer = (RM_PROCESS_INFO * 4)()
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(4), ctypes.c_uint32(0)
    with rmcore.hold_registry_mutex(store):
        code = sim.RmGetList(handle, byref(needed), byref(count), buffer, byref(reasons))
    assert code == we.ERROR_SEM_TIMEOUT == 121
    assert buffer[0].Process.dwProcessId == 0
    assert get_list(sim, handle)[0] == 0


def test_getlist_into_callers_windows_style_struct(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    app = world.add_process(
        "C:\\a.exe", name="Ä app ✓", files=[FILE], app_type=RmConsole, restartable=False
    )
    svc = world.add_service("BITS", display_name="Background Intelligent Transfer", files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    buffer = (WinRM_PROCESS_INFO * 2)()
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(2), ctypes.c_uint32(0)
    assert sim.RmGetList(handle, byref(needed), byref(count), buffer, byref(reasons)) == 0
    assert count.value == 2
    rows = {buffer[i].Process.dwProcessId: buffer[i] for i in range(2)}
    mine, theirs = rows[app.pid], rows[svc.pid]
    assert filetime_to_int(mine.Process.ProcessStartTime) == app.start_time
    assert (mine.strAppName, mine.strServiceShortName) == ("Ä app ✓", "")
    assert (mine.ApplicationType, mine.AppStatus, mine.TSSessionId, mine.bRestartable) == (
        RmConsole,
        RmStatusRunning,
        1,
        0,
    )
    assert (theirs.strAppName, theirs.strServiceShortName) == (
        "Background Intelligent Transfer",
        "BITS",
    )
    assert (theirs.ApplicationType, theirs.TSSessionId, theirs.bRestartable) == (
        RmService,
        0xFFFFFFFF,  # RM_INVALID_TS_SESSION as a DWORD, even in a 64-bit c_ulong
        1,
    )


def test_long_names_are_cut_to_the_arrays(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    world.add_process("C:\\a.exe", name="N" * 300, files=[FILE])
    world.add_service("S" * 70, display_name="D" * 300, files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    code, rows, _ = get_list(sim, handle)
    assert code == 0
    assert sorted(len(r.app_name) for r in rows) == [255, 255]
    assert sorted(len(r.service_short_name) for r in rows) == [0, 63]


def test_getlist_typed_null_array_is_null(store: str, world: World) -> None:
    """ctypes code with argtypes passes NULL as a typed NULL pointer; it is still NULL."""
    sim, handle, _ = primary(store, world)
    world.add_process("C:\\a.exe", files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(0), ctypes.c_uint32(0)
    null = ctypes.POINTER(RM_PROCESS_INFO)()
    code = sim.RmGetList(handle, byref(needed), byref(count), null, byref(reasons))
    assert (code, needed.value) == (234, 1)


def test_getlist_through_a_bare_pointer(store: str, world: World) -> None:
    sim, handle, _ = primary(store, world)
    app = world.add_process("C:\\a.exe", files=[FILE])
    assert register(sim, handle, [FILE]) == 0
    buffer = (RM_PROCESS_INFO * 2)()
    pointer = ctypes.cast(buffer, ctypes.POINTER(RM_PROCESS_INFO))
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(2), ctypes.c_uint32(0)
    assert sim.RmGetList(handle, byref(needed), byref(count), pointer, byref(reasons)) == 0
    assert read_row(buffer[0]).pid == app.pid and count.value == 1


def test_independent_sessions_see_their_own_resources(store: str, world: World) -> None:
    sim, first, _ = primary(store, world)
    code, second, _ = start(sim)
    assert code == 0
    a = world.add_process("C:\\a.exe", files=["C:\\a"])
    b = world.add_process("C:\\b.exe", files=["C:\\b"])
    assert register(sim, first, ["C:\\a"]) == 0
    assert register(sim, second, ["C:\\b"]) == 0
    assert set(rows_by_pid(sim, first)) == {a.pid}
    assert set(rows_by_pid(sim, second)) == {b.pid}
    assert registry_values(store, SESSION0.replace("0000", "0001")) == {"RegFiles0000": ["C:\\b"]}
