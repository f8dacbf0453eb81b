"""Owner liveness with real processes: PID + start time, pidfd polling, zombies, fork."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from rmcore.session import _liveness
from rmcore.session._identity import ProcessIdentity, current_process, process_start_time

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL and fork")


def identity_of(pid: int) -> ProcessIdentity:
    deadline = time.monotonic() + 30
    while (start := process_start_time(pid)) is None:
        assert time.monotonic() < deadline, "the child never showed up"
        time.sleep(0.01)
    return ProcessIdentity(pid, start)


def test_the_calling_process_is_alive() -> None:
    assert _liveness.os_process_running(current_process())
    assert not _liveness.pid_gone(os.getpid())


@posix_only
def test_a_killed_child_is_dead_even_as_a_zombie() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        identity = identity_of(child.pid)
        assert _liveness.os_process_running(identity)
        assert _liveness.os_process_running(identity)  # the second answer: from the pidfd
        recycled = ProcessIdentity(child.pid, identity.start_time - 10**9)  # 100 s earlier
        assert not _liveness.os_process_running(recycled)  # same PID, another process
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _liveness.os_process_running(identity):  # not reaped yet: a zombie
            assert time.monotonic() < deadline, "a killed process still counts as running"
            time.sleep(0.01)
        assert child.wait(30) == -signal.SIGKILL
        assert not _liveness.os_process_running(identity)
        assert _liveness.pid_gone(child.pid)
    finally:
        child.kill()
        child.wait(30)


@posix_only
def test_the_cache_stays_bounded_and_a_forked_child_starts_afresh() -> None:
    for n in range(_liveness._CACHE_SIZE + 10):
        _liveness.os_process_running(ProcessIdentity(0x7FFFFF00 - n, 1))  # no such PIDs
    assert len(_liveness._cache) <= _liveness._CACHE_SIZE
    pid = os.fork()
    if pid == 0:  # the child: an empty cache, and it still answers
        ok = not _liveness._cache and _liveness.os_process_running(current_process())
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
