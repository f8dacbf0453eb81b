"""Fault injection: chosen calls fail with chosen codes and change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from rm_calls import join, start

import rmcore


def _files(store: str) -> list[str]:
    return sorted(str(p.relative_to(store)) for p in Path(store).rglob("Session*.key"))


def test_next_n_calls_fail_then_calls_succeed(sim: rmcore.Simulator, store: str) -> None:
    sim.faults.fail_next("RmStartSession", 121, times=2)
    assert [start(sim)[0] for _ in range(3)] == [121, 121, 0]
    assert [info.name for info in sim.sessions.sessions()] == ["Session0000"]
    assert sim.faults.pending("RmStartSession") is None


def test_after_k_good_calls(sim: rmcore.Simulator) -> None:
    sim.faults.fail_next("RmStartSession", 353, times=1, after=2)
    assert [start(sim)[0] for _ in range(4)] == [0, 0, 353, 0]


@pytest.mark.parametrize("code", [121, 29, 14, 353, 1219])
def test_injected_code_changes_nothing(sim: rmcore.Simulator, store: str, code: int) -> None:
    _, handle, key = start(sim)
    before = _files(store)
    for function in ("RmStartSession", "RmJoinSession", "RmEndSession"):
        sim.faults.fail_next(function, code)
    assert start(sim)[0] == code
    assert join(sim, key) == (code, 0xFFFFFFFF)
    assert sim.RmEndSession(handle) == code
    assert _files(store) == before
    assert sim.RmEndSession(handle) == 0


def test_process_faults_stay_in_their_process(store: str) -> None:
    a, b = rmcore.Simulator(store), rmcore.Simulator(store)
    a.faults.fail_next("RmStartSession", 29)
    assert start(b)[0] == 0
    assert start(a)[0] == 29


def test_store_faults_reach_every_process(store: str) -> None:
    a, b = rmcore.Simulator(store), rmcore.Simulator(store)
    rmcore.StoreFaults(store).fail_next("RmJoinSession", 14, times=2)
    key = start(a)[2]
    assert join(a, key)[0] == 14
    assert join(b, key)[0] == 14
    assert join(b, key)[0] == 0
    assert a.store_faults.pending("RmJoinSession") is None


def test_clear_removes_every_rule(sim: rmcore.Simulator) -> None:
    sim.faults.fail_next("RmStartSession", 121)
    sim.store_faults.fail_next("RmEndSession", 121)
    sim.faults.clear()
    sim.store_faults.clear()
    code, handle, _ = start(sim)
    assert (code, sim.RmEndSession(handle)) == (0, 0)


@pytest.mark.parametrize(
    ("function", "code", "times", "after"),
    [
        ("RmStart", 121, 1, 0),
        ("RmStartSession", 0, 1, 0),
        ("RmEndSession", 6, 0, 0),
        ("RmEndSession", 6, 1, -1),
    ],
)
def test_nonsense_rules_are_refused(
    sim: rmcore.Simulator, function: str, code: int, times: int, after: int
) -> None:
    with pytest.raises(ValueError):
        sim.faults.fail_next(function, code, times, after=after)


def test_mutex_held_for_simulated_seconds(sim: rmcore.Simulator, store: str) -> None:
    sim.faults.hold_registry_mutex(5.0)
    assert start(sim)[0] == 121
    sim.clock.advance(4.9)
    assert start(sim)[0] == 121
    assert _files(store) == []
    sim.clock.advance(0.1)
    assert start(sim)[0] == 0
    # functions that do not take the mutex are unaffected
    sim.faults.hold_registry_mutex(5.0)
    assert sim.RmCancelCurrentTask(0) == 0


def test_failing_writes_are_29_and_change_nothing(sim: rmcore.Simulator, store: str) -> None:
    _, _handle, key = start(sim)
    before = _files(store)
    sim.faults.fail_writes(times=2)
    assert start(sim)[0] == 29
    assert join(sim, key)[0] == 29
    assert _files(store) == before and [i.secondaries for i in sim.sessions.sessions()] == [0]
    assert join(sim, key)[0] == 0  # the third write succeeds


def test_out_of_memory(sim: rmcore.Simulator) -> None:
    sim.faults.out_of_memory("RmStartSession", times=1)
    assert [start(sim)[0], start(sim)[0]] == [14, 0]


def test_crash_after_write_leaves_the_change_and_kills_the_process(store: str) -> None:
    victim, other = rmcore.Simulator(store), rmcore.Simulator(store)
    victim.faults.crash_after_write("RmStartSession")
    with pytest.raises(rmcore.SimulatorExited, match="crashed inside RmStartSession"):
        start(victim)
    infos = other.sessions.sessions()
    assert len(infos) == 1 and infos[0].alive is False  # written, then its owner died
    assert other.sessions.reap() == ["Session0000"]
    with pytest.raises(ValueError):
        other.faults.crash_after_write("RmGetFilterList")


def test_app_that_ignores_polite_requests(store: str) -> None:
    world = rmcore.World()
    world.add_process("C:\\slow.exe", files=["C:\\f.dll"], refuse_polls=1)
    sim = rmcore.Simulator(store, world=world)
    with rmcore.Session.start(sim) as session:
        session.register(files=["C:\\f.dll"])
        with pytest.raises(rmcore.FailShutdownError):
            session.shutdown()  # the first request is ignored
        session.shutdown()  # the second one is honoured
        assert session.affected_apps().apps[0].status & rmcore.win32.RmStatusStopped


def test_app_that_takes_too_long_is_forced_on_the_simulated_clock(store: str) -> None:
    world = rmcore.World()
    world.add_process("C:\\slow.exe", files=["C:\\f.dll"], shutdown_delay=45.0)
    sim = rmcore.Simulator(store, world=world)
    assert sim.clock is world.clock
    with rmcore.Session.start(sim) as session:
        session.register(files=["C:\\f.dll"])
        with pytest.raises(rmcore.FailShutdownError):
            session.shutdown()
        assert world.now == 30.0  # waited the documented 30 s, in simulated time only
        session.shutdown(force=True)
        assert world.now == 60.0


def test_reset_starts_the_process_over(store: str) -> None:
    primary = rmcore.Simulator(store, mutex_timeout=0.2)
    secondary = rmcore.Simulator(store, mutex_timeout=0.2)
    code, own, key = start(primary)
    assert code == 0
    assert start(secondary)[0] == 0  # the secondary's own session
    assert join(secondary, key)[0] == 0
    primary.faults.fail_next("RmGetList", 5)
    primary.store_faults.fail_next("RmJoinSession", 1219)
    assert primary.calls and primary.faults.armed and secondary.store_faults.armed

    secondary.reset()  # it leaves the primary's session and ends its own
    assert secondary.handles() == {} and len(secondary.calls) == 0
    assert [info.name for info in primary.sessions.sessions()] == ["Session0000"]
    assert not primary.store_faults.armed  # a store fault is every process's: disarmed
    assert primary.faults.armed  # a process fault is the primary's own: kept

    primary.reset()
    assert primary.handles() == {} and not primary.faults.armed
    assert primary.sessions.sessions() == []
    assert primary.RmEndSession(own) == 6  # the handle died with the reset
    code, handle, _key = start(primary)
    assert code == 0 and handle != own  # handle values are still never reused
