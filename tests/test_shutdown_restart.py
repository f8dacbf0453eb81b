"""RmShutdown, RmRestart, RmCancelCurrentTask: every documented rule and code (their pages)."""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable, Iterable

import pytest
from rm_calls import (
    FILE,
    Recorder,
    assert_progress,
    get_list,
    gui_apps,
    primary,
    register,
    rows_by_pid,
    secondary,
    status_of,
)

import rmcore
from rmcore import winerror as we
from rmcore.session import _fidelity
from rmcore.win32._types import (
    RM_WRITE_STATUS_CALLBACK,
    RmConsole,
    RmExplorer,
    RmForceShutdown,
    RmOtherWindow,
    RmShutdownOnlyRegistered,
    RmStatusErrorOnRestart,
    RmStatusErrorOnStop,
    RmStatusRestarted,
    RmStatusRunning,
    RmStatusStopped,
    RmUnknownApp,
)
from rmcore.world import _engine
from rmcore.world._world import App, World

WAIT = 10.0  # a safety net against a hung test, never a synchronisation device


class RecordingWorld(World):
    """A World that also records every relaunch RmRestart asks for, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.start_requests: list[str] = []

    def start_again(self, app: App) -> bool:
        self.start_requests.append(app.image_path)
        return super().start_again(app)


@pytest.fixture
def world() -> RecordingWorld:
    return RecordingWorld()


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waiting for a hung app happens on the simulated clock: any real sleep is a failure."""

    def forbidden(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) during a simulated shutdown")

    monkeypatch.setattr(time, "sleep", forbidden)


def _setup(store: str, world: World, **kwargs: object) -> tuple[rmcore.Simulator, int]:
    sim, handle, _key = primary(store, world, **kwargs)
    assert register(sim, handle, [FILE]) == 0
    return sim, handle


# == RmShutdown ==============================================================================


def test_shutdown_order_gui_console_services_explorer(store: str, world: RecordingWorld) -> None:
    explorer = world.add_process("C:\\Windows\\explorer.exe", files=[FILE], app_type=RmExplorer)
    service = world.add_service("Spooler", files=[FILE])
    console = world.add_process("C:\\tool.exe", files=[FILE], app_type=RmConsole)
    other = world.add_process("C:\\dialog.exe", files=[FILE], app_type=RmOtherWindow)
    gui = world.add_process("C:\\editor.exe", files=[FILE])
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, None) == 0
    order = world.stop_requests
    assert len(order) == 5
    assert set(order[:2]) == {gui.id, other.id}  # both GUI apps first
    assert order[2:] == [console.id, service.id, explorer.id]  # then console, services, Explorer
    assert not any(a.running for a in (explorer, service, console, other, gui))


def test_unknown_app_shutdown_rank(store: str, world: RecordingWorld) -> None:
    console = world.add_process("C:\\tool.exe", files=[FILE], app_type=RmConsole)
    unknown = world.add_process("C:\\hidden.exe", files=[FILE], app_type=RmUnknownApp)
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, RmForceShutdown, None) == 0
    expected = [unknown.id, console.id]
    if _engine._SHUTDOWN_RANK[RmConsole] < _fidelity.UNKNOWN_APP_SHUTDOWN_RANK:
        expected.reverse()
    assert world.stop_requests == expected


def test_status_after_shutdown_is_stopped(store: str, world: RecordingWorld) -> None:
    apps = gui_apps(world, 2)
    svc = world.add_service("BITS", files=[FILE])
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, None) == 0
    rows = rows_by_pid(sim, handle)
    assert set(rows) == {apps[0].pid, apps[1].pid, svc.pid}  # still listed after shutdown
    assert {pid: row.status for pid, row in rows.items()} == dict.fromkeys(rows, RmStatusStopped)


@pytest.mark.parametrize("behaviour", [{"refuses_shutdown": True}, {"shutdown_delay": 45.0}])
def test_unresponsive_app_without_force_is_351(
    store: str, world: RecordingWorld, behaviour: dict[str, object], no_sleep: None
) -> None:
    before = world.add_process("C:\\a.exe", files=[FILE])
    hung = world.add_process("C:\\hung.exe", files=[FILE], **behaviour)
    after = world.add_process("C:\\b.exe", files=[FILE])
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, None) == we.ERROR_FAIL_SHUTDOWN == 351
    assert (before.running, hung.running, after.running) == (False, True, False)
    assert world.stop_requests == [before.id, hung.id, after.id]  # the others still stopped
    assert world.now == _engine.HUNG_APP_TIMEOUT == 30.0  # waited 30 simulated seconds
    statuses = rows_by_pid(sim, handle)
    assert statuses[hung.pid].status & RmStatusErrorOnStop
    assert statuses[hung.pid].status & RmStatusRunning
    assert statuses[before.pid].status == statuses[after.pid].status == RmStatusStopped
    # RmShutdown page: call RmRestart even after a partial failure; it restarts what was stopped
    assert sim.RmRestart(handle, 0, None) == 0
    assert before.running and after.running


@pytest.mark.parametrize("behaviour", [{"refuses_shutdown": True}, {"shutdown_delay": 45.0}])
def test_unresponsive_app_with_force_is_stopped_on_the_simulated_clock(
    store: str, world: RecordingWorld, behaviour: dict[str, object], no_sleep: None
) -> None:
    polite = world.add_process("C:\\a.exe", files=[FILE], shutdown_delay=2.5)
    hung = world.add_process("C:\\hung.exe", files=[FILE], **behaviour)
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, RmForceShutdown, None) == 0
    assert not polite.running and not hung.running
    assert world.now == 2.5 + 30.0  # forced after 30 s of simulated time, no real wait
    assert rows_by_pid(sim, handle)[hung.pid].status == RmStatusStopped


def test_hung_service_forced_after_20_seconds(
    store: str, world: RecordingWorld, no_sleep: None
) -> None:
    svc = world.add_service("Slow", files=[FILE], refuses_shutdown=True)
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, RmForceShutdown, None) == 0
    assert not svc.running
    assert world.now == _engine.SERVICE_KILL_TIMEOUT == 20.0


def test_slow_but_responsive_app_is_not_a_failure(
    store: str, world: RecordingWorld, no_sleep: None
) -> None:
    slow = world.add_process("C:\\slow.exe", files=[FILE], shutdown_delay=29.0)
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, None) == 0
    assert not slow.running and world.now == 29.0


def test_unknown_app_is_shut_down_only_by_force(store: str, world: RecordingWorld) -> None:
    ghost = world.add_process("C:\\ghost.exe", files=[FILE], app_type=RmUnknownApp)
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, None) == 351
    assert ghost.running
    assert status_of(sim, handle, ghost) & RmStatusErrorOnStop
    assert sim.RmShutdown(handle, RmForceShutdown, None) == 0
    assert not ghost.running


def test_only_registered_with_a_non_restartable_app_shuts_down_nothing(
    store: str, world: RecordingWorld
) -> None:
    good = world.add_process("C:\\good.exe", files=[FILE], restartable=True)
    bad = world.add_process("C:\\legacy.exe", files=[FILE], restartable=False)
    sim, handle = _setup(store, world)
    code = sim.RmShutdown(handle, RmShutdownOnlyRegistered | RmForceShutdown, None)
    assert code == _fidelity.SHUTDOWN_ONLY_REGISTERED_REFUSAL
    assert code != 0
    assert world.stop_requests == []
    assert good.running and bad.running
    assert {r.status for r in rows_by_pid(sim, handle).values()} == {RmStatusRunning}


def test_only_registered_when_all_restartable_shuts_down(store: str, world: RecordingWorld) -> None:
    apps = gui_apps(world, 2, restartable=True)
    svc = world.add_service("BITS", files=[FILE], restartable=False)  # services always are
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, RmShutdownOnlyRegistered, None) == 0
    assert not any(a.running for a in [*apps, svc])


@pytest.mark.parametrize(
    "make",
    [
        lambda w, pid: w.add_process("C:\\csrss.exe", files=[FILE], critical=True),
        lambda w, pid: w.add_service("RpcSs", files=[FILE], critical=True),
        lambda w, pid: w.add_process("C:\\admin.exe", files=[FILE], other_user=True),
        lambda w, pid: w.add_process("C:\\rdp.exe", files=[FILE], ts_session=7),
        lambda w, pid: w.add_process("C:\\setup.exe", files=[FILE], pid=pid),
    ],
    ids=["critical-process", "critical-service", "permission", "session", "self"],
)
def test_reboot_reason_makes_shutdown_350_and_stops_nothing(
    store: str, world: RecordingWorld, make: Callable[[World, int], App]
) -> None:
    sim, handle, _ = primary(store, world)
    ordinary = gui_apps(world, 2)
    blocker = make(world, sim.pid)
    assert register(sim, handle, [FILE]) == 0
    assert sim.RmShutdown(handle, RmForceShutdown, None) == we.ERROR_FAIL_NOACTION_REBOOT == 350
    assert world.stop_requests == []
    assert all(a.running for a in [*ordinary, blocker])
    assert {r.status for r in rows_by_pid(sim, handle).values()} == {RmStatusRunning}


@pytest.mark.parametrize("count", [0, 1, 3, 7, 150])
@pytest.mark.parametrize("kind", ["python", "ctypes"])
def test_shutdown_progress_strictly_increasing_to_100(
    store: str, world: RecordingWorld, count: int, kind: str
) -> None:
    apps = [
        world.add_process(f"C:\\Apps\\a{i}.exe", pid=100_000 + 8 * i, files=[FILE])
        for i in range(count)
    ]
    sim, handle = _setup(store, world)
    assert all(a.pid != sim.pid for a in apps)
    seen: list[tuple[int, int]] = []  # (percent, apps stopped so far)

    def record(percent: int) -> None:
        seen.append((percent, len(world.stop_requests)))

    callback = RM_WRITE_STATUS_CALLBACK(record) if kind == "ctypes" else record
    assert sim.RmShutdown(handle, 0, callback) == 0
    assert_progress([p for p, _ in seen])
    assert len(seen) <= 101
    for percent, done in seen:  # never reports more than has been done
        assert percent * count <= 100 * done or count == 0
    assert not any(a.running for a in apps)


def test_restart_progress_strictly_increasing_to_100(store: str, world: RecordingWorld) -> None:
    gui_apps(world, 5)
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, None) == 0
    calls = Recorder()
    assert sim.RmRestart(handle, 0, RM_WRITE_STATUS_CALLBACK(calls)) == 0
    assert_progress(calls.values)


def test_null_callbacks_are_accepted(store: str, world: RecordingWorld) -> None:
    app = gui_apps(world, 1)[0]
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, RM_WRITE_STATUS_CALLBACK()) == 0
    assert sim.RmRestart(handle, 0, 0) == 0
    assert app.running


def test_shutdown_by_secondary(store: str, world: RecordingWorld) -> None:
    sim, handle, key = primary(store, world)
    helper, helper_handle = secondary(store, world, key)
    app = gui_apps(world, 1)[0]
    assert register(helper, helper_handle, [FILE]) == 0
    assert (
        helper.RmShutdown(helper_handle, RmForceShutdown, None)
        == _fidelity.SECONDARY_CALLS_PRIMARY_ONLY_RESULT
        == 1219
    )
    assert app.running and world.stop_requests == []
    assert helper.RmRestart(helper_handle, 0, None) == _fidelity.SECONDARY_CALLS_PRIMARY_ONLY_RESULT
    assert sim.RmShutdown(handle, 0, None) == 0
    assert helper.RmRestart(helper_handle, 0, None) == _fidelity.SECONDARY_CALLS_PRIMARY_ONLY_RESULT
    assert not app.running


def test_shutdown_and_restart_unknown_handle_are_6(store: str, world: RecordingWorld) -> None:
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle + 1, 0, None) == we.ERROR_INVALID_HANDLE
    assert sim.RmRestart(handle + 1, 0, None) == we.ERROR_INVALID_HANDLE
    assert sim.RmEndSession(handle) == 0
    assert sim.RmShutdown(handle, 0, None) == 6
    assert sim.RmRestart(handle, 0, None) == 6


def test_shutdown_and_restart_mutex_held_are_121(store: str, world: RecordingWorld) -> None:
    app = gui_apps(world, 1)[0]
    sim, handle = _setup(store, world, mutex_timeout=0.05)
    with rmcore.hold_registry_mutex(store):
        assert sim.RmShutdown(handle, 0, None) == we.ERROR_SEM_TIMEOUT
    assert app.running
    assert sim.RmShutdown(handle, 0, None) == 0
    with rmcore.hold_registry_mutex(store):
        assert sim.RmRestart(handle, 0, None) == 121
    assert not app.running


def test_shutdown_with_nothing_affected_is_success(store: str, world: RecordingWorld) -> None:
    sim, handle = _setup(store, world)
    calls = Recorder()
    assert sim.RmShutdown(handle, 0, calls) == 0
    assert calls.values == [100]
    assert sim.RmRestart(handle, 0, None) == 0  # RmShutdown was called


# == RmRestart ===============================================================================


def test_restart_before_shutdown_is_776(store: str, world: RecordingWorld) -> None:
    app = gui_apps(world, 1)[0]
    sim, handle = _setup(store, world)
    assert sim.RmRestart(handle, 0, None) == we.ERROR_REQUEST_OUT_OF_SEQUENCE == 776
    assert get_list(sim, handle)[0] == 0
    assert sim.RmRestart(handle, 0, None) == 776  # RmGetList is not RmShutdown
    assert app.running and world.start_requests == []


@pytest.mark.parametrize("flags", [1, 0x10, 0xFFFFFFFF])
def test_restart_flags_must_be_zero(store: str, world: RecordingWorld, flags: int) -> None:
    app = gui_apps(world, 1)[0]
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, None) == 0
    assert sim.RmRestart(handle, flags, None) == we.ERROR_BAD_ARGUMENTS == 160
    assert not app.running and world.start_requests == []


def test_restart_exactly_the_stopped_restartable_apps_in_reverse_order(
    store: str, world: RecordingWorld
) -> None:
    explorer = world.add_process("C:\\Windows\\explorer.exe", files=[FILE], app_type=RmExplorer)
    svc = world.add_service("Spooler", image_path="C:\\spoolsv.exe", files=[FILE])
    console = world.add_process("C:\\tool.exe", files=[FILE], app_type=RmConsole)
    legacy = world.add_process("C:\\legacy.exe", files=[FILE], restartable=False)
    editor = world.add_process("C:\\editor.exe", files=[FILE])
    bystander = world.add_process("C:\\bystander.exe", files=["C:\\unrelated"])
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, None) == 0
    stop_paths = {a.id: a.image_path for a in world.apps}
    shutdown_order = [stop_paths[i] for i in world.stop_requests]
    assert sim.RmRestart(handle, 0, None) == 0
    expected = [p for p in reversed(shutdown_order) if p != legacy.image_path]
    assert world.start_requests == expected
    assert world.start_requests[0] == explorer.image_path
    assert world.start_requests[-1] == editor.image_path
    assert (explorer.running, svc.running, console.running, editor.running) == (True,) * 4
    assert not legacy.running and bystander.running
    rows = rows_by_pid(sim, handle)
    for app in (explorer, svc, console, editor):
        assert rows[app.pid].status & RmStatusRestarted
        assert rows[app.pid].status & RmStatusRunning
    assert rows[legacy.pid].status & RmStatusStopped
    assert not rows[legacy.pid].status & (RmStatusRestarted | RmStatusRunning)
    assert bystander.pid not in rows


def test_restart_failure_is_352(store: str, world: RecordingWorld) -> None:
    first = world.add_process("C:\\first.exe", files=[FILE])
    broken = world.add_process("C:\\broken.exe", files=[FILE], restart_fails=True)
    last = world.add_process("C:\\last.exe", files=[FILE])
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, None) == 0
    assert sim.RmRestart(handle, 0, None) == we.ERROR_FAIL_RESTART == 352
    assert (first.running, broken.running, last.running) == (True, False, True)
    rows = rows_by_pid(sim, handle)
    assert rows[broken.pid].status & RmStatusErrorOnRestart
    assert not rows[broken.pid].status & RmStatusRestarted
    for ok in (first, last):
        assert rows[ok.pid].status & RmStatusRestarted
        assert not rows[ok.pid].status & RmStatusErrorOnRestart


def test_restarted_app_reported_under_its_new_identity(store: str, world: RecordingWorld) -> None:
    app = gui_apps(world, 1)[0]
    old_start = app.start_time
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, None) == 0
    assert sim.RmRestart(handle, 0, None) == 0
    assert app.start_time != old_start
    assert rows_by_pid(sim, handle)[app.pid].start_time == app.start_time


def _second_cycle(store: str, world: RecordingWorld) -> tuple[rmcore.Simulator, int, list[App]]:
    """Shutdown, Restart, the relaunched apps open the file again, Shutdown again."""
    apps = gui_apps(world, 2)
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, None) == 0
    assert sim.RmRestart(handle, 0, None) == 0
    assert all(a.running for a in apps)
    for app in apps:
        world.hold(app, FILE)
    assert sim.RmShutdown(handle, 0, None) == 0
    assert not any(a.running for a in apps)
    return sim, handle, apps


def test_second_cycle_getlist_lists_each_app_once_as_stopped(
    store: str, world: RecordingWorld
) -> None:
    """RmGetList reports each affected app once, with its current status (RmGetList page)."""
    sim, handle, apps = _second_cycle(store, world)
    code, rows, _ = get_list(sim, handle)
    assert code == 0
    assert sorted(r.pid for r in rows) == sorted(a.pid for a in apps)
    assert all(r.status & RmStatusStopped and not r.status & RmStatusRunning for r in rows)


def test_second_cycle_restart_restarts_again(store: str, world: RecordingWorld) -> None:
    """RmRestart restarts the apps RmShutdown stopped (RmRestart page), also the second time."""
    sim, handle, apps = _second_cycle(store, world)
    assert sim.RmRestart(handle, 0, None) == 0
    assert all(a.running for a in apps)
    assert len(world.start_requests) == 4


# == RmCancelCurrentTask =====================================================================


class _CancelFromAnotherThread:
    """A status callback that, the first time it runs, has a second thread call
    RmCancelCurrentTask and waits for that call to return before returning itself."""

    def __init__(self, sim: rmcore.Simulator, handle: int) -> None:
        self.sim, self.handle = sim, handle
        self.values: list[int] = []
        self.cancel_result: int | None = None
        self.done = threading.Event()

    def _cancel(self) -> None:
        self.cancel_result = self.sim.RmCancelCurrentTask(self.handle)
        self.done.set()

    def __call__(self, percent: int) -> None:
        self.values.append(percent)
        if len(self.values) == 1:
            thread = threading.Thread(target=self._cancel)
            thread.start()
            assert self.done.wait(WAIT)
            thread.join()


def test_cancel_shutdown_from_another_thread(store: str, world: RecordingWorld) -> None:
    apps = gui_apps(world, 4)
    sim, handle = _setup(store, world)
    callback = _CancelFromAnotherThread(sim, handle)
    assert sim.RmShutdown(handle, 0, callback) == we.ERROR_CANCELLED == 1223
    assert callback.cancel_result == we.ERROR_SUCCESS  # a cancellation was requested
    assert len(callback.values) == 1  # returned at the next step
    assert world.stop_requests == [apps[0].id]
    assert [a.running for a in apps] == [False, True, True, True]
    rows = rows_by_pid(sim, handle)
    assert rows[apps[0].pid].status == RmStatusStopped
    assert {rows[a.pid].status for a in apps[1:]} == {RmStatusRunning}
    # a later RmShutdown finishes the job, and is not itself cancelled
    assert sim.RmShutdown(handle, 0, None) == 0
    assert not any(a.running for a in apps)
    assert world.stop_requests == [a.id for a in apps]
    assert sim.RmRestart(handle, 0, None) == 0
    assert all(a.running for a in apps)


def test_restart_after_a_cancelled_shutdown_restarts_what_it_stopped(
    store: str, world: RecordingWorld
) -> None:
    """RmShutdown was called and stopped an app before the cancel took effect, so RmRestart
    is not "before RmShutdown" (776, RmRestart page): it brings back what was stopped."""
    apps = gui_apps(world, 3)
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, _CancelFromAnotherThread(sim, handle)) == 1223
    assert [a.running for a in apps] == [False, True, True]
    assert sim.RmRestart(handle, 0, None) == 0
    assert all(a.running for a in apps)


def test_cancel_restart_from_another_thread(store: str, world: RecordingWorld) -> None:
    apps = gui_apps(world, 4)
    sim, handle = _setup(store, world)
    assert sim.RmShutdown(handle, 0, None) == 0
    callback = _CancelFromAnotherThread(sim, handle)
    assert sim.RmRestart(handle, 0, callback) == 1223
    assert callback.cancel_result == 0
    assert [a.running for a in apps] == [False, False, False, True]  # reverse order: last first
    assert world.start_requests == [apps[3].image_path]
    rows = rows_by_pid(sim, handle)
    assert rows[apps[3].pid].status & RmStatusRestarted
    assert not any(rows[a.pid].status & RmStatusRestarted for a in apps[:3])
    assert sim.RmRestart(handle, 0, None) == 0  # a later RmRestart finishes the job
    assert all(a.running for a in apps)
    assert world.start_requests == [a.image_path for a in reversed(apps)]


class _BlockingWorld(RecordingWorld):
    """``holders`` (the first step of RmGetList) has another thread cancel, and waits."""

    def __init__(self) -> None:
        super().__init__()
        self.sim: rmcore.Simulator | None = None
        self.handle = 0
        self.armed = False
        self.cancel_result: int | None = None

    def holders(self, paths: Iterable[str]) -> list[App]:
        if self.armed:
            self.armed = False
            done = threading.Event()

            def cancel() -> None:
                assert self.sim is not None
                self.cancel_result = self.sim.RmCancelCurrentTask(self.handle)
                done.set()

            thread = threading.Thread(target=cancel)
            thread.start()
            assert done.wait(WAIT)
            thread.join()
        return super().holders(paths)


def test_cancel_getlist_from_another_thread(store: str) -> None:
    world = _BlockingWorld()
    gui_apps(world, 2)
    sim, handle = _setup(store, world)
    world.sim, world.handle, world.armed = sim, handle, True
    needed, count, reasons = ctypes.c_uint32(0), ctypes.c_uint32(0), ctypes.c_uint32(0)
    out = (ctypes.byref(needed), ctypes.byref(count), None, ctypes.byref(reasons))
    assert sim.RmGetList(handle, *out) == we.ERROR_CANCELLED
    assert world.cancel_result == 0
    code, rows, _ = get_list(sim, handle)  # the next call is not cancelled
    assert code == 0 and len(rows) == 2


def test_cancel_without_task_does_not_cancel_the_next_one(
    store: str, world: RecordingWorld
) -> None:
    apps = gui_apps(world, 3)
    sim, handle = _setup(store, world)
    assert sim.RmCancelCurrentTask(handle) == _fidelity.CANCEL_WITHOUT_TASK_RESULT
    assert sim.RmCancelCurrentTask(handle) == _fidelity.CANCEL_WITHOUT_TASK_RESULT
    assert get_list(sim, handle)[0] == 0
    assert sim.RmCancelCurrentTask(handle) == _fidelity.CANCEL_WITHOUT_TASK_RESULT
    assert sim.RmShutdown(handle, 0, None) == 0
    assert not any(a.running for a in apps)
    assert sim.RmCancelCurrentTask(handle) == _fidelity.CANCEL_WITHOUT_TASK_RESULT
    assert sim.RmRestart(handle, 0, None) == 0
    assert all(a.running for a in apps)


def test_cancel_during_a_task_is_success_whatever_the_no_task_decision(
    store: str, world: RecordingWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ERROR_SUCCESS is documented for a requested cancellation (RmCancelCurrentTask page); only the
    no-task case is a decision, so changing that decision must not change this result."""
    monkeypatch.setattr(_fidelity, "CANCEL_WITHOUT_TASK_RESULT", we.ERROR_REQUEST_OUT_OF_SEQUENCE)
    gui_apps(world, 3)
    sim, handle = _setup(store, world)
    callback = _CancelFromAnotherThread(sim, handle)
    assert sim.RmShutdown(handle, 0, callback) == 1223
    assert callback.cancel_result == we.ERROR_SUCCESS


def test_cancel_from_secondary(store: str, world: RecordingWorld) -> None:
    _sim, _handle, key = primary(store, world)
    helper, helper_handle = secondary(store, world, key)
    expected = _fidelity.SECONDARY_CALLS_PRIMARY_ONLY_RESULT
    assert expected == we.ERROR_SESSION_CREDENTIAL_CONFLICT == 1219
    assert helper.RmCancelCurrentTask(helper_handle) == expected


def test_secondary_cancel_does_not_cancel_the_primarys_task(
    store: str, world: RecordingWorld
) -> None:
    apps = gui_apps(world, 3)
    sim, handle, key = primary(store, world)
    helper, helper_handle = secondary(store, world, key)
    assert register(sim, handle, [FILE]) == 0
    results: list[int] = []

    def callback(percent: int) -> None:
        if not results:
            results.append(helper.RmCancelCurrentTask(helper_handle))

    assert sim.RmShutdown(handle, 0, callback) == 0
    assert results == [1219]
    assert not any(a.running for a in apps)


def test_cancel_unknown_handle_is_6(store: str, world: RecordingWorld) -> None:
    sim, handle, _ = primary(store, world)
    assert sim.RmCancelCurrentTask(handle + 1) == we.ERROR_INVALID_HANDLE
    assert sim.RmCancelCurrentTask(0xFFFFFFFF) == 6
    assert sim.RmEndSession(handle) == 0
    assert sim.RmCancelCurrentTask(handle) == 6
