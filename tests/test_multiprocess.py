"""Sessions shared between real OS processes: join by key, the 64 limit under a race, the
registry write mutex held elsewhere, and processes SIGKILLed in the middle of writing.

Every child is a fresh interpreter running ``tests/mp_children/rm_child.py`` (see its
docstring for the roles and the line protocol) on its own store under ``tmp_path``. The
tests wait for conditions with generous deadlines and never assert on how long anything took.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from rm_calls import join, start

import rmcore
from rmcore import winerror as we
from rmcore.registry_store import RegValue, open_store
from rmcore.session import _fidelity
from rmcore.session._records import read_header
from rmcore.session._snapshot import RESOURCES_KEY, TABLE_KEY, session_number

REPO = Path(__file__).resolve().parents[1]
CHILD_SCRIPT = Path(__file__).resolve().parent / "mp_children" / "rm_child.py"
DEADLINE = 60.0  # generous: only a hung child ever gets near it

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")


# -- child processes ---------------------------------------------------------------------------


class Child:
    """One ``rm_child.py`` process: JSON events in from its stdout, go-aheads out to its stdin."""

    def __init__(self, role: str, args: list[str], log: Path) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
        self.role = role
        self.log = log
        self._stderr: IO[str] = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD_SCRIPT), role, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )
        self.pid = self.proc.pid
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._pump = threading.Thread(target=self._read_stdout, daemon=True)
        self._pump.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._events.put(json.loads(line))
        self._events.put(None)

    def _describe(self) -> str:
        self._stderr.flush()
        return f"{self.role} child pid {self.pid}, stderr:\n{self.log.read_text()}"

    def expect(self, event: str) -> dict[str, Any]:
        """The child's next event, which must be *event*."""
        try:
            message = self._events.get(timeout=DEADLINE)
        except queue.Empty:
            pytest.fail(f"no {event!r} within {DEADLINE} s from {self._describe()}")
        if message is None:
            pytest.fail(f"exited ({self.proc.wait()}) before {event!r}: {self._describe()}")
        assert message["event"] == event, (message, self._describe())
        assert message["pid"] == self.pid
        return message

    def leftover_events(self) -> list[dict[str, Any]]:
        """Events the child sent that nobody expected (after it exited)."""
        self._pump.join(DEADLINE)
        events: list[dict[str, Any]] = []
        while True:
            message = self._events.get_nowait()
            if message is None:
                return events
            events.append(message)

    def go_ahead(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def exit_code(self) -> int:
        """Close its stdin (the last go-ahead) and wait for it to exit."""
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        try:
            return self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"did not exit within {DEADLINE} s: {self._describe()}")

    def sigkill(self) -> int:
        """SIGKILL it and reap it (``wait``); return its exit status."""
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(DEADLINE)

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(DEADLINE)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._stderr.close()


Spawn = Callable[..., Child]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """``spawn(role, *args)`` starts a child; whatever still runs at teardown is killed."""
    children: list[Child] = []

    def make(role: str, *args: object) -> Child:
        log = tmp_path / f"child-{len(children)}-{role}.stderr"
        child = Child(role, [str(a) for a in args], log)
        children.append(child)
        return child

    yield make
    for child in children:
        child.cleanup()


# -- store inspection --------------------------------------------------------------------------


def table_values(store: str) -> dict[str, RegValue]:
    """The session table key's values, read without the mutex (nothing is created)."""
    return dict(open_store(store, create=False).read_key(TABLE_KEY) or {})


def session_names(store: str) -> list[str]:
    return sorted(name for name in table_values(store) if session_number(name) is not None)


def session_logs(store: str) -> list[str]:
    return open_store(store, create=False).logs(RESOURCES_KEY)


def temp_files(store: str) -> list[str]:
    return sorted(str(p) for p in Path(store).rglob("*.tmp"))


def snapshot(store: str) -> dict[str, tuple[str, bytes | str]]:
    """Every file, link and directory of the store with its contents."""
    tree: dict[str, tuple[str, bytes | str]] = {}
    for root, dirs, files in os.walk(store):
        for name in dirs:
            tree[os.path.relpath(os.path.join(root, name), store)] = ("dir", "")
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, store)
            if os.path.islink(path):
                tree[rel] = ("link", os.readlink(path))
            else:
                tree[rel] = ("file", Path(path).read_bytes())
    return tree


def assert_every_session_decodes(store: str) -> list[str]:
    """Read the table back (it raises if torn) and unpack every session record in it."""
    values = table_values(store)
    names = session_names(store)
    for name in names:
        assert read_header(values[name].data) is not None, name
    assert set(values) <= {*names, "Exited"}, sorted(values)
    return names


# -- (a) a secondary in another OS process -----------------------------------------------------


def test_secondary_in_another_process_joins_by_key_and_both_end(store: str, spawn: Spawn) -> None:
    primary = rmcore.Simulator(store, mutex_timeout=5.0)
    code, handle, key = start(primary)
    assert code == 0

    child = spawn("secondary", store, key)
    assert child.expect("joined")["code"] == 0
    [info] = primary.sessions.sessions()
    assert info.owner.os_process.pid == os.getpid()
    assert info.alive and info.secondaries == 1  # the child's handle, seen from here

    child.go_ahead()
    assert child.expect("ended")["code"] == 0
    assert child.exit_code() == 0
    [info] = primary.sessions.sessions()
    assert info.alive and info.secondaries == 0

    assert primary.RmEndSession(handle) == 0
    assert primary.sessions.sessions() == []
    assert session_names(store) == [] and session_logs(store) == []


def test_secondary_in_another_process_after_primary_ended(store: str, spawn: Spawn) -> None:
    """The primary ends first: the other process's handle names no session any more."""
    primary = rmcore.Simulator(store, mutex_timeout=5.0)
    code, handle, key = start(primary)
    assert code == 0
    child = spawn("secondary", store, key)
    assert child.expect("joined")["code"] == 0
    assert primary.RmEndSession(handle) == 0
    assert session_names(store) == []
    child.go_ahead()
    # docs/fidelity.md, spec 7.7: ERROR_INVALID_HANDLE (6)
    assert child.expect("ended")["code"] == _fidelity.STALE_SECONDARY_HANDLE_RESULT
    assert child.exit_code() == 0
    assert session_names(store) == [] and session_logs(store) == []


# -- (b) eight processes race for the 64 sessions ----------------------------------------------


def test_eight_processes_race_for_64_sessions(store: str, spawn: Spawn, tmp_path: Path) -> None:
    racers, total, limit = 8, 100, 64
    gate = tmp_path / "gate"
    shares = [total // racers + (i < total % racers) for i in range(racers)]
    children = [spawn("race", store, limit, share, gate) for share in shares]
    for child in children:
        child.expect("ready")
    gate.touch()  # every racer polls for it: they all start together
    results = {child.pid: child.expect("started")["results"] for child in children}

    codes = [code for rows in results.values() for code, _handle, _key in rows]
    assert len(codes) == total
    assert Counter(codes) == {0: limit, we.ERROR_MAX_SESSIONS_REACHED: total - limit}
    for rows in results.values():
        mine = [code for code, _handle, _key in rows]
        # Nobody ends a session during the race: once full, the table stays full.
        assert mine == sorted(mine), mine
        handles = [handle for code, handle, _key in rows if code == 0]
        assert len(set(handles)) == len(handles)
    keys = [key for rows in results.values() for code, _handle, key in rows if code == 0]
    assert len(set(keys)) == limit
    assert all(len(k) == 32 and set(k) <= set("0123456789abcdef") for k in keys)

    # The store, while every racer is still alive.
    assert session_names(store) == [f"Session{n:04d}" for n in range(limit)]
    assert_every_session_decodes(store)
    assert temp_files(store) == []
    observer = rmcore.Simulator(store, max_sessions=limit, mutex_timeout=30.0)
    infos = observer.sessions.sessions()
    assert len(infos) == limit
    assert all(info.alive and info.secondaries == 0 for info in infos)
    won = {pid: [code for code, _h, _k in rows].count(0) for pid, rows in results.items()}
    owners = Counter(info.owner.os_process.pid for info in infos)
    assert owners == {pid: count for pid, count in won.items() if count}
    # No session is abandoned, so nothing may be reclaimed: a 65th start is still 353.
    assert start(observer)[0] == we.ERROR_MAX_SESSIONS_REACHED
    # Each key names its own session: joining all 64 reaches 64 different sessions.
    joined = [join(observer, key) for key in keys]
    assert [code for code, _ in joined] == [0] * limit
    assert len({ref.name for ref in observer.handles().values()}) == limit
    assert [observer.RmEndSession(handle) for _, handle in joined] == [0] * limit

    for child in children:
        child.go_ahead()
    for child in children:
        ended = child.expect("ended")["codes"]
        assert ended == [0] * won[child.pid]
        assert child.exit_code() == 0
    assert session_names(store) == [] and temp_files(store) == []
    assert open_store(store, create=False).read_key(TABLE_KEY) is None  # no session, no table


# -- (c) the registry write mutex held by another process --------------------------------------


def test_mutex_held_by_another_process_times_out_and_changes_nothing(
    store: str, spawn: Spawn
) -> None:
    sim = rmcore.Simulator(store, mutex_timeout=0.2)
    member = rmcore.Simulator(store, mutex_timeout=0.2)
    code, kept, key = start(sim)
    assert code == 0
    code, doomed, _ = start(sim)
    assert code == 0
    code, secondary = join(member, key)
    assert code == 0

    holder = spawn("hold", store)
    holder.expect("held")
    before, listing = snapshot(store), sim.sessions.sessions()

    handle = ctypes.c_uint32(0xFFFFFFFF)
    buffer = ctypes.create_unicode_buffer(rmcore.win32.CCH_RM_SESSION_KEY + 1)
    assert sim.RmStartSession(ctypes.byref(handle), 0, buffer) == we.ERROR_SEM_TIMEOUT
    assert handle.value == 0xFFFFFFFF and buffer.value == ""  # no outputs written
    assert join(member, key)[0] == we.ERROR_SEM_TIMEOUT
    assert sim.RmEndSession(doomed) == we.ERROR_SEM_TIMEOUT
    assert member.RmEndSession(secondary) == we.ERROR_SEM_TIMEOUT

    assert snapshot(store) == before
    assert sim.sessions.sessions() == listing

    holder.go_ahead()
    holder.expect("released")
    assert holder.exit_code() == 0
    # The handles the failed calls got are still good.
    assert sim.RmEndSession(doomed) == 0
    assert member.RmEndSession(secondary) == 0
    code, again = join(member, key)
    assert code == 0
    code, fresh, _ = start(sim)
    assert code == 0
    assert [member.RmEndSession(again), sim.RmEndSession(fresh), sim.RmEndSession(kept)] == [0] * 3
    assert session_names(store) == [] and session_logs(store) == []


@posix_only
def test_sigkilled_mutex_holder_releases_the_mutex(store: str, spawn: Spawn) -> None:
    sim = rmcore.Simulator(store, mutex_timeout=0.2)
    holder = spawn("hold", store)
    holder.expect("held")
    assert start(sim)[0] == we.ERROR_SEM_TIMEOUT  # it does hold it
    assert session_names(store) == []
    assert holder.sigkill() == -signal.SIGKILL
    code, handle, _ = start(sim)  # the kernel dropped the dead holder's flock
    assert code == 0
    assert sim.RmEndSession(handle) == 0


# -- (d) processes SIGKILLed in the middle of writing ------------------------------------------


def check_after_kill(store: str, scratch: Path) -> None:
    """What must hold once every process that used *store* is dead and reaped."""
    names = assert_every_session_decodes(store)
    observer = rmcore.Simulator(store, mutex_timeout=30.0)
    infos = observer.sessions.sessions()
    assert sorted(info.name for info in infos) == names  # none skipped as unreadable
    assert all(not info.alive and info.secondaries == 0 for info in infos), infos

    # reap() works (on a copy, so that abandoned sessions pile up in the real store).
    copy = scratch / "reaped"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(store, copy, symlinks=True)
    reaper = rmcore.Simulator(copy, mutex_timeout=30.0)
    reaped = reaper.sessions.reap()
    assert sorted(reaped) == names and reaped.problems == []
    assert session_names(str(copy)) == [] and reaper.sessions.sessions() == []
    assert temp_files(str(copy)) == [] and session_logs(str(copy)) == []

    # Abandoned sessions do not count toward the limit, and every session left here is
    # abandoned: a start at the limit takes the lowest number, free or abandoned: 0.
    probe = rmcore.Simulator(store, max_sessions=max(1, len(names)), mutex_timeout=30.0)
    code, handle, key = start(probe)
    assert code == 0
    assert probe.handles()[handle].name == "Session0000"
    assert session_names(store) == sorted({*names, "Session0000"})
    assert join(observer, key)[0] == 0  # the new session is whole
    assert probe.sessions.resources(probe.handles()[handle]).files == ()  # nothing inherited
    assert probe.RmEndSession(handle) == 0


@posix_only
def test_processes_sigkilled_while_churning_leave_a_usable_store(
    store: str, spawn: Spawn, tmp_path: Path
) -> None:
    rng = random.Random(1234)
    observer = rmcore.Simulator(store, mutex_timeout=30.0)
    abandoned_by_killed = 0
    for _round in range(24):
        child = spawn("churn", store)
        assert child.expect("running")["code"] == 0
        time.sleep(rng.uniform(0.0, 0.04))  # let it get somewhere, then kill it
        assert child.sigkill() == -signal.SIGKILL
        assert child.leftover_events() == []  # no unexpected code while it ran
        owners = [info.owner.os_process.pid for info in observer.sessions.sessions()]
        abandoned_by_killed += owners.count(child.pid)
        check_after_kill(store, tmp_path)
    assert abandoned_by_killed > 0  # the kills did leave their sessions behind

    names = session_names(store)
    assert sorted(rmcore.Simulator(store).sessions.reap()) == names
    assert session_names(store) == []
    assert temp_files(store) == []
    assert session_logs(store) == [], "reap() left logs of sessions that are gone"


def _killpoint_mutations(store: str, spawn: Spawn) -> int:
    """How many store mutations the killpoint scenario makes when nothing kills it."""
    child = spawn("killpoint", store, 10**9)
    done = child.expect("done")
    assert child.exit_code() == 0
    assert done["codes"] == [0] * 9
    return int(done["mutations"])


@posix_only
def test_sigkill_at_every_write_step_leaves_no_trace_after_reap(
    tmp_path: Path, spawn: Spawn
) -> None:
    """A child SIGKILLs itself just before each store mutation of a start/join/end scenario
    in turn; after it dies the store is usable and reap() leaves nothing of it behind."""
    mutations = _killpoint_mutations(str(tmp_path / "count"), spawn)
    assert mutations >= 10  # the scenario's writes really were intercepted
    leftovers: dict[int, list[str]] = {}
    for point in range(mutations):
        store = str(tmp_path / f"kill-{point}")
        child = spawn("killpoint", store, point)
        assert child.proc.wait(DEADLINE) == -signal.SIGKILL
        assert child.leftover_events() == []
        check_after_kill(store, tmp_path)

        reaper = rmcore.Simulator(store, mutex_timeout=30.0)
        reaper.sessions.reap()
        remaining = sorted(rel for rel, (kind, _) in snapshot(store).items() if kind != "dir")
        if remaining != [".rmcore-store", "registry.lock"]:
            leftovers[point] = remaining
    assert leftovers == {}, f"left behind after reap, by kill point: {leftovers}"
