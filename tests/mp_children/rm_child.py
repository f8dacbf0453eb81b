"""Child-process roles for tests/test_multiprocess.py: one real OS process per invocation.

Run as ``python rm_child.py ROLE STORE [ARGS...]`` with ``rmcore`` importable. A child talks
to the test on stdout, one JSON object per line (flushed at once), and waits for the test's
go-ahead by reading a line from stdin; EOF on stdin counts as a go-ahead too, so a child
never outlives a test that crashed.

Roles:

``secondary STORE KEY``
    join the session KEY names, report ``joined``; on the next stdin line end the handle,
    report ``ended``; exit 0.
``race STORE MAX_SESSIONS COUNT GATE``
    report ``ready``; wait until the file GATE exists (every racer starts at once); call
    RmStartSession COUNT times, report ``started`` with every code, handle and key; on the
    next stdin line end every session it started, report ``ended``; exit 0.
``hold STORE``
    hold the store's registry write mutex, report ``held``; release it on the next stdin
    line, report ``released``; exit 0.
``churn STORE``
    start, register, join and end sessions in a loop as fast as it can, never returning; it
    reports ``running`` after its first completed RmStartSession. Meant to be SIGKILLed.
``killpoint STORE N``
    run a fixed start/register/join/end scenario and SIGKILL itself just before its N-th
    (0-based) file system mutation (``os.write``, ``os.replace``, ``os.unlink``, as rmcore's
    store calls them): with a temp file created but empty, or written but not yet renamed,
    a log record not yet appended, or between the steps of one operation (the table
    written, the log not yet unlinked). If the scenario makes fewer than N + 1 mutations
    it reports ``done`` with its codes and the number of mutations it made, and exits 0.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import rmcore
from rmcore.session import _fidelity

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rm_calls import join, start

_GATE_DEADLINE = 60.0


def report(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, "pid": os.getpid(), **fields}) + "\n")
    sys.stdout.flush()


def wait_for_parent() -> None:
    sys.stdin.readline()


def role_secondary(store: str, key: str) -> None:
    sim = rmcore.Simulator(store, mutex_timeout=30.0)
    code, handle = join(sim, key)
    report("joined", code=code, handle=handle)
    wait_for_parent()
    report("ended", code=sim.RmEndSession(handle) if code == 0 else None)


def role_race(store: str, max_sessions: str, count: str, gate: str) -> None:
    # A long mutex timeout: the race is about the limit, not about contention timeouts.
    sim = rmcore.Simulator(store, max_sessions=int(max_sessions), mutex_timeout=60.0)
    report("ready")
    deadline = time.monotonic() + _GATE_DEADLINE
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            report("gate-timeout")
            return
        time.sleep(0.0005)
    results = [start(sim) for _ in range(int(count))]
    report("started", results=results)
    wait_for_parent()
    report("ended", codes=[sim.RmEndSession(handle) for code, handle, _ in results if code == 0])


def role_hold(store: str) -> None:
    with rmcore.hold_registry_mutex(store):
        report("held")
        wait_for_parent()
    report("released")


def register(sim: rmcore.Simulator, handle: int, path: str) -> int:
    files = (ctypes.c_wchar_p * 1)(path)
    return int(sim.RmRegisterResources(handle, 1, files, 0, None, 0, None))


def role_churn(store: str) -> None:
    primary = rmcore.Simulator(store, mutex_timeout=60.0)
    other = rmcore.Simulator(store, mutex_timeout=60.0)  # a second simulated process
    sessions: list[tuple[int, str]] = []
    joined: list[int] = []
    announced = False
    n = 0
    while True:
        n += 1
        code, handle, key = start(primary)
        if code == 0:
            sessions.append((handle, key))
            code = register(primary, handle, f"C:\\churn\\{n}.dll")
            if code != 0:
                report("unexpected", call="RmRegisterResources", code=code)
        else:  # never 353 here: it keeps at most 5 live, the rest are abandoned
            report("unexpected", call="RmStartSession", code=code)
        if not announced:
            report("running", code=code)
            announced = True
        if sessions:
            code, handle = join(other, sessions[n % len(sessions)][1])
            if code == 0:
                joined.append(handle)
            else:
                report("unexpected", call="RmJoinSession", code=code)
        if len(joined) > 3:
            code = other.RmEndSession(joined.pop(0))
            if code not in (0, _fidelity.STALE_SECONDARY_HANDLE_RESULT):  # primary ended it
                report("unexpected", call="RmEndSession(secondary)", code=code)
        if len(sessions) > 4:
            code = primary.RmEndSession(sessions.pop(0)[0])
            if code != 0:
                report("unexpected", call="RmEndSession(primary)", code=code)


def role_killpoint(store: str, n: str) -> None:
    remaining = int(n)
    mutating = ("write", "replace", "unlink")
    real = {name: getattr(os, name) for name in mutating}

    def intercept(name: str) -> Callable[..., Any]:
        def mutation(*args: Any, **kwargs: Any) -> Any:
            nonlocal remaining
            if remaining == 0:
                os.kill(os.getpid(), signal.SIGKILL)
                time.sleep(60)  # not reached: a signal to oneself arrives before kill returns
            remaining -= 1
            return real[name](*args, **kwargs)

        return mutation

    # Patched on the os module itself, for this process only and only for the scenario:
    # rmcore's store calls them as os.<name>, and nothing else here uses them meanwhile.
    for name in mutating:
        setattr(os, name, intercept(name))

    primary = rmcore.Simulator(store, mutex_timeout=60.0)
    other = rmcore.Simulator(store, mutex_timeout=60.0)
    ok = []
    code_a, handle_a, key_a = start(primary)
    code_b, handle_b, key_b = start(primary)
    ok += [code_a, code_b, register(primary, handle_a, "C:\\a.dll")]
    code, joined_a = join(other, key_a)
    ok.append(code)
    code, joined_b = join(other, key_b)
    ok += [code, register(other, joined_b, "C:\\b.dll")]  # a secondary registers
    ok.append(other.RmEndSession(joined_a))  # a secondary leaves
    ok.append(primary.RmEndSession(handle_b))  # a primary ends a joined session
    code, _handle_c, _key_c = start(primary)  # one more, left open at exit
    ok.append(code)
    for name, function in real.items():
        setattr(os, name, function)
    report("done", codes=ok, mutations=int(n) - remaining)


ROLES: dict[str, Callable[..., None]] = {
    "secondary": role_secondary,
    "race": role_race,
    "hold": role_hold,
    "churn": role_churn,
    "killpoint": role_killpoint,
}


def main(argv: list[str]) -> None:
    ROLES[argv[0]](*argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
