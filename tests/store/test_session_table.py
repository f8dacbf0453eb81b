"""The session table on both stores: numbers and reuse, the limit, errors, logs, reap."""

from __future__ import annotations

from pathlib import Path

import pytest

from rmcore import winerror as we
from rmcore._errors import RmError
from rmcore.registry_store import RegType, RegValue, Store, open_store
from rmcore.session import ReapResult, Resources, SessionTable
from rmcore.session._identity import ProcessIdentity, SimulatedProcess, new_simulated_process
from rmcore.session._records import encode_call
from rmcore.session._snapshot import EXITED, RESOURCES_KEY, TABLE_KEY

DEAD_OS_PROCESS = ProcessIdentity(0x7FFFFFF0, 1)  # no such PID: never alive


@pytest.fixture(params=["memory", "disk"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return open_store(":memory:" if request.param == "memory" else str(tmp_path / "store"))


def table_on(store: Store, max_sessions: int = 64) -> SessionTable:
    return SessionTable(store, max_sessions=max_sessions, mutex_timeout=0.05)


def code_of(call: object) -> int:
    with pytest.raises(RmError) as failed:
        call()  # type: ignore[operator]
    return failed.value.winerror


def names(table: SessionTable) -> list[str]:
    return [info.name for info in table.sessions()]


def test_start_takes_the_lowest_free_or_abandoned_number(store: Store) -> None:
    table = table_on(store)
    quitter, stayer = new_simulated_process(), new_simulated_process()
    first, _ = table.start(quitter)
    table.register(first, Resources(files=("C:\\left-behind",)))
    assert table.start(stayer)[0].name == "Session0001"
    assert table.start(quitter)[0].name == "Session0002"
    table.mark_exited(quitter)  # Session0000 and Session0002 are abandoned
    assert [i.alive for i in table.sessions()] == [False, True, False]
    newcomer = new_simulated_process()
    reused, _ = table.start(newcomer)
    assert reused.name == "Session0000"  # the first abandoned one, overwritten
    assert table.resources(reused) == Resources()  # its log went with it
    assert table.hive()["HKCU\\Software\\Microsoft\\RestartManager\\Session0000"][
        "Sequence"
    ] == RegValue.dword(0)
    assert table.start(newcomer)[0].name == "Session0002"
    assert table.start(newcomer)[0].name == "Session0003"  # then a new one
    assert [i.alive for i in table.sessions()] == [True] * 4


def test_a_free_number_below_an_abandoned_one_comes_first(store: Store) -> None:
    table = table_on(store)
    me, gone = new_simulated_process(), new_simulated_process()
    ended, _ = table.start(me)
    table.start(gone)
    table.mark_exited(gone)
    table.end(ended, me, 0)
    assert table.start(me)[0].name == "Session0000"
    assert table.start(me)[0].name == "Session0001"  # now the abandoned one


def test_only_live_sessions_count_toward_the_limit(store: Store) -> None:
    table = table_on(store, max_sessions=2)
    me, gone = new_simulated_process(), new_simulated_process()
    table.start(me)
    table.start(gone)
    assert code_of(lambda: table.start(me)) == we.ERROR_MAX_SESSIONS_REACHED
    table.mark_exited(gone)
    second, _ = table.start(me)  # at the limit, the abandoned one is reused
    assert second.name == "Session0001"
    assert code_of(lambda: table.start(me)) == we.ERROR_MAX_SESSIONS_REACHED
    # A table filled higher by another configuration: live sessions count wherever they are.
    third, _ = table_on(store, max_sessions=3).start(me)
    assert third.name == "Session0002"
    table.end(second, me, 0)  # Session0001 is free, but 2 sessions are live
    assert code_of(lambda: table.start(me)) == we.ERROR_MAX_SESSIONS_REACHED
    table.end(third, me, 0)
    assert table.start(me)[0].name == "Session0001"


def test_join_validates_the_key_and_the_owner(store: Store) -> None:
    table = table_on(store)
    owner, member = new_simulated_process(), new_simulated_process()
    _ref, key = table.start(owner)
    assert table.join(key, member, 3).name == "Session0000"
    assert [i.secondaries for i in table.sessions()] == [1]
    assert code_of(lambda: table.join(b"\0" * 16, member, 4)) == 1219
    table.mark_exited(owner)
    assert code_of(lambda: table.join(key, member, 4)) == 1219  # abandoned: cannot validate


def test_handles_of_a_gone_session_are_6(store: Store) -> None:
    table = table_on(store)
    owner, member = new_simulated_process(), new_simulated_process()
    ref, key = table.start(owner)
    joined = table.join(key, member, 9)
    table.end(ref, owner, 0)
    for call in (
        lambda: table.end(joined, member, 9),
        lambda: table.register(joined, Resources(files=("C:\\x",))),
        lambda: table.resources(ref),
    ):
        assert code_of(call) == we.ERROR_INVALID_HANDLE
    reused, _ = table.start(owner)  # same number, another session: the old ref stays dead
    assert reused.name == ref.name and code_of(lambda: table.resources(ref)) == 6


def test_records_of_an_earlier_generation_are_ignored(store: Store) -> None:
    """A process killed between the table write and the log unlink leaves a log behind;
    the next session with that number must not inherit its records."""
    table = table_on(store)
    me = new_simulated_process()
    ref, _ = table.start(me)
    store.append_record(f"{RESOURCES_KEY}\\Session0000", encode_call(12345, ["C:\\old"], [], []))
    table.register(ref, Resources(files=("C:\\new",)))
    assert table.resources(ref).files == ("C:\\new",)
    assert table.sessions()[0].sequence == 1 and table.sessions()[0].files == 1


def test_failures_change_nothing(store: Store) -> None:
    table = table_on(store)
    me = new_simulated_process()
    ref, key = table.start(me)
    before = (store.read_key(TABLE_KEY), table.hive())
    with store.mutex.hold(1.0):
        for call in (lambda: table.start(me), lambda: table.join(key, me, 1)):
            assert code_of(call) == we.ERROR_SEM_TIMEOUT
        assert code_of(lambda: table.end(ref, me, 0)) == we.ERROR_SEM_TIMEOUT
    store.inject_write_failures(3)
    assert code_of(lambda: table.start(me)) == we.ERROR_WRITE_FAULT
    assert code_of(lambda: table.join(key, me, 1)) == we.ERROR_WRITE_FAULT
    assert code_of(lambda: table.register(ref, Resources(("C:\\f",)))) == 29
    assert (dict(store.read_key(TABLE_KEY) or {}), table.hive()) == (
        dict(before[0] or {}),
        before[1],
    )
    assert table.join(key, me, 1).name == ref.name  # the next write goes through


def test_on_write_follows_each_committed_change(store: Store) -> None:
    table = table_on(store)
    calls: list[str] = []
    table.on_write = calls.append
    me = new_simulated_process()
    ref, key = table.start(me)
    joined = table.join(key, me, 1)
    table.register(joined, Resources())  # nothing registered: nothing written
    table.register(joined, Resources(services=("S",)))
    table.end(joined, me, 1)
    table.end(ref, me, 0)
    assert calls == [
        "RmStartSession",
        "RmJoinSession",
        "RmRegisterResources",
        "RmEndSession",
        "RmEndSession",
    ]
    assert store.read_key(TABLE_KEY) is None  # no session, no table


def test_exit_markers_are_kept_only_while_needed(store: Store) -> None:
    table = table_on(store)
    owner, idle, member = (new_simulated_process() for _ in range(3))
    ref, key = table.start(owner)
    table.join(key, member, 2)
    table.mark_exited(idle)  # owns and joined nothing: nothing to remember
    assert EXITED not in (store.read_key(TABLE_KEY) or {})
    table.mark_exited(member)
    assert EXITED in (store.read_key(TABLE_KEY) or {})
    assert [i.secondaries for i in table.sessions()] == [0]  # the exited secondary
    table.end(ref, owner, 0)  # its only session is gone: so is the marker
    assert store.read_key(TABLE_KEY) is None


def test_reap_removes_what_the_dead_left_and_reports_the_rest(store: Store) -> None:
    table = table_on(store)
    alive, gone, member = (new_simulated_process() for _ in range(3))
    _kept, key = table.start(alive)
    table.join(key, member, 7)
    lost, _ = table.start(gone)
    table.register(lost, Resources(files=("C:\\f",)))
    stranger = SimulatedProcess(DEAD_OS_PROCESS, 0)
    table.start(stranger)  # its OS process is gone: abandoned without any marker
    table.mark_exited(gone)
    table.mark_exited(member)
    store.append_record(f"{RESOURCES_KEY}\\Session0042", b"orphan log")
    values = dict(store.read_key(TABLE_KEY) or {})
    values["Session0005"] = RegValue.binary(b"junk")  # unreadable record: reclaimable
    values["Backup"] = RegValue.sz("not ours")  # foreign: left alone, reported
    store.write_key(TABLE_KEY, values)

    result = table.reap()
    assert isinstance(result, ReapResult)
    assert result == ["Session0001", "Session0002", "Session0005"]
    assert f"{RESOURCES_KEY}\\Session0001" in result.files
    assert f"{RESOURCES_KEY}\\Session0042" in result.files
    assert [(p.path, p.reason) for p in result.problems] == [
        (f"{TABLE_KEY}\\Backup", "foreign value (left alone)")
    ]
    left = store.read_key(TABLE_KEY) or {}
    assert sorted(left) == ["Backup", "Session0000"]  # no marker, no dead secondary
    assert [(i.name, i.alive, i.secondaries) for i in table.sessions()] == [
        ("Session0000", True, 0)
    ]
    assert table.reap() == [] and table.reap().files == []


def test_junk_in_the_table_never_fails_an_operation(store: Store) -> None:
    table = table_on(store)
    store.write_key(
        TABLE_KEY,
        {
            "Session0000": RegValue.binary(b"\x01" * 70),  # wrong length
            "Session0001": RegValue(RegType.REG_SZ, b"x\0"),  # wrong type
            "Exited": RegValue.binary(b"123"),  # not a marker list
            "Session1": RegValue.dword(1),  # not a session name
        },
    )
    me = new_simulated_process()
    assert table.sessions() == []
    reasons = {p.path.rsplit("\\", 1)[1]: p.reason for p in table.problems()}
    assert reasons == {
        "Session0000": "unreadable session record (reclaimed by start or reap)",
        "Session0001": "unreadable session record (reclaimed by start or reap)",
        "Exited": "malformed exit markers (ignored)",
        "Session1": "foreign value (left alone)",
    }
    assert table.start(me)[0].name == "Session0000"  # junk is reclaimed like the abandoned
    assert code_of(lambda: table.join(b"\x01" * 16, me, 1)) == 1219
    assert names(table) == ["Session0000"]


def test_errors_name_their_cause(store: Store) -> None:
    table = table_on(store, max_sessions=1)
    owner = new_simulated_process()
    ref, key = table.start(owner)

    def reason(call: object) -> str:
        with pytest.raises(RmError) as failed:
            call()  # type: ignore[operator]
        return str(failed.value.reason)

    assert reason(lambda: table.start(owner)) == "1 sessions are live, the limit is 1"
    assert reason(lambda: table.join(b"\0" * 16, owner, 1)) == "no session has this key"
    with store.mutex.hold(1.0):
        assert "not acquired within 0.05 s" in reason(lambda: table.join(key, owner, 1))
    store.inject_write_failures(1)
    assert "injected write failure" in reason(lambda: table.join(key, owner, 1))
    table.mark_exited(owner)
    assert "owner is gone" in reason(lambda: table.join(key, owner, 1))
    table.reap()
    assert "session was ended" in reason(lambda: table.resources(ref))
