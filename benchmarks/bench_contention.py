"""8 processes on one store: aggregate throughput against the floor's, fairness, lost updates.

Run ``python benchmarks/bench_contention.py`` (about 40 s) or ``--quick`` (a few seconds).

For each directory and repetition, two phases of the same length, each with N processes
(default 8) released together by a barrier:

* **floor**: every process loops :class:`_common.Floor` updates of one shared record;
  its counter must end equal to the number of updates made (else updates were lost);
* **rmcore**: every process loops RmStartSession → RmJoinSession (a session the parent
  owns) → RmEndSession (leave) → RmEndSession (end), each call counted as one op. Each
  process keeps its first session and its first join, so that afterwards the store must
  hold exactly N + 1 sessions, the shared one with N secondaries, and its record's
  sequence must equal the joins plus the leaves made (each bumps it once): anything else
  is a lost update.

Reported: calls/s over updates/s (the throughput ratio), per-process op-count spread
(max/min), worst latency over p50 latency (how long the unluckiest call waited), and
lost updates, for both phases.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time
from array import array
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Event

import _common
from _common import Floor, Row, X, clock, stats

import rmcore
from rmcore.session._snapshot import Snapshot

TIMEOUT = 60.0


@dataclass
class Result:
    index: int
    pid: int = 0
    ops: int = 0
    joins: int = 0
    leaves: int = 0
    failures: int = 0
    latencies: bytes = b""
    error: str = ""


def floor_worker(
    directory: str, duration: float, barrier: Barrier, results: Queue[Result], index: int
) -> None:
    result = Result(index, os.getpid())
    try:
        floor = Floor(directory, create=False)
        latencies = array("q")
        barrier.wait()
        deadline = clock() + int(duration * 1e9)
        while (began := clock()) < deadline:
            floor.op()
            latencies.append(clock() - began)
        result.ops, result.latencies = len(latencies), latencies.tobytes()
    except BaseException as exc:  # report, never hang the parent
        result.error = f"{type(exc).__name__}: {exc}"
    results.put(result)


def rmcore_worker(
    store: str,
    shared_key: str,
    duration: float,
    barrier: Barrier,
    done: Event,
    results: Queue[Result],
    index: int,
) -> None:
    result = Result(index, os.getpid())
    try:
        sim = rmcore.Simulator(store, mutex_timeout=TIMEOUT)
        handle, joined = ctypes.c_uint32(), ctypes.c_uint32()
        key = ctypes.create_unicode_buffer(33)
        p_handle, p_joined = ctypes.byref(handle), ctypes.byref(joined)
        latencies = array("q")
        kept = False
        barrier.wait()
        deadline = clock() + int(duration * 1e9)
        while clock() < deadline:
            calls = [
                lambda: sim.RmStartSession(p_handle, 0, key),
                lambda: sim.RmJoinSession(p_joined, shared_key),
            ]
            if kept:
                calls += [
                    lambda: sim.RmEndSession(joined.value),
                    lambda: sim.RmEndSession(handle.value),
                ]
            for number, call in enumerate(calls):
                began = clock()
                code = call()
                latencies.append(clock() - began)
                if code != 0:
                    result.failures += 1
                    continue
                result.joins += number == 1
                result.leaves += number == 2
            kept = True
        result.ops, result.latencies = len(latencies), latencies.tobytes()
    except BaseException as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    results.put(result)
    done.wait(TIMEOUT)  # stay alive until the parent has checked the store


@dataclass
class Phase:
    ops_per_s: float
    spread: float
    worst_over_p50: float
    p50_us: float
    lost: int
    errors: list[str]


def summarize(got: list[Result], duration: float, lost: int) -> Phase:
    latencies = array("q")
    for result in got:
        latencies.frombytes(result.latencies)
    counts = [result.ops for result in got]
    s = stats(latencies)
    return Phase(
        ops_per_s=sum(counts) / duration,
        spread=max(counts) / min(counts) if min(counts) else float("inf"),
        worst_over_p50=s.max / s.p50,
        p50_us=s.p50 / 1e3,
        lost=lost,
        errors=[r.error for r in got if r.error]
        + [f"{r.failures} failed calls" for r in got if r.failures],
    )


def run_floor(directory: str, procs: int, duration: float) -> Phase:
    ctx = _common.mp_context()
    Floor(directory).close()  # a fresh record, counter 0
    barrier, results = ctx.Barrier(procs), ctx.Queue()
    workers = [
        ctx.Process(target=floor_worker, args=(directory, duration, barrier, results, i))  # type: ignore[attr-defined]
        for i in range(procs)
    ]
    for worker in workers:
        worker.start()
    got = [results.get(timeout=duration + TIMEOUT) for _ in workers]
    for worker in workers:
        worker.join()
    reader = Floor(directory, create=False)
    lost = sum(r.ops for r in got) - reader.counter()
    reader.close()
    return summarize(got, duration, lost)


def run_rmcore(directory: str, procs: int, duration: float) -> Phase:
    ctx = _common.mp_context()
    store = os.path.join(directory, f"store-{time.monotonic_ns()}")
    owner = rmcore.Simulator(store, max_sessions=procs + 8, mutex_timeout=TIMEOUT)
    handle, key = ctypes.c_uint32(), ctypes.create_unicode_buffer(33)
    if owner.RmStartSession(ctypes.byref(handle), 0, key) != 0:
        raise RuntimeError("could not start the shared session")
    shared = owner.handles()[handle.value].name
    barrier, done, results = ctx.Barrier(procs), ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(  # type: ignore[attr-defined]
            target=rmcore_worker, args=(store, key.value, duration, barrier, done, results, i)
        )
        for i in range(procs)
    ]
    for worker in workers:
        worker.start()
    got = [results.get(timeout=duration + TIMEOUT) for _ in workers]
    try:
        lost = check_store(owner, shared, got, procs)
    finally:
        done.set()
        for worker in workers:
            worker.join()
    owner.RmEndSession(handle.value)
    return summarize(got, duration, lost)


def check_store(owner: rmcore.Simulator, shared: str, got: list[Result], procs: int) -> int:
    """How many updates the store lost (0 if everything the workers did is there)."""
    table = Snapshot.read(owner.store)
    header = table.header(shared)
    if header is None:
        return sum(r.joins + r.leaves for r in got) or 1
    expected_sequence = sum(r.joins + r.leaves for r in got) & 0xFFFFFFFF
    lost = abs(expected_sequence - header.sequence)
    lost += abs(header.members - sum(r.joins - r.leaves for r in got))
    infos = owner.sessions.sessions()
    pids = {r.pid for r in got if not r.error}
    lost += abs(sum(1 for info in infos if info.owner.os_process.pid in pids) - len(pids))
    lost += len(infos) != procs + 1
    return lost


def make_rows() -> dict[str, Row]:
    rows = [
        Row(
            "throughput",
            "8 processes: rmcore calls/s ÷ floor updates/s",
            f"≥ 0.8{X}",
            "x",
            0.8,
            False,
        ),
        Row("rm_ops", "8 processes: rmcore calls/s (start/join/leave/end)", "-", "n"),
        Row("floor_ops", "8 processes: floor updates/s", "-", "n"),
        Row("rm_spread", "8 processes: rmcore per-process op count max/min", f"≤ 2{X}", "x", 2.0),
        Row("floor_spread", "8 processes: floor per-process op count max/min", "-", "x"),
        Row("rm_wait", "8 processes: rmcore worst call / p50 call", "near the floor's", "x"),
        Row("floor_wait", "8 processes: floor worst update / p50 update", "-", "x"),
        Row("lost", "8 processes: lost updates (rmcore + floor)", "0", "n", 0.0),
    ]
    return {row.id: row for row in rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    _common.add_common_arguments(parser)
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--duration", type=float, default=None, help="seconds per phase")
    args = parser.parse_args(argv)
    reps = args.reps or (1 if args.quick else 3)
    duration = args.duration or (0.6 if args.quick else 2.0)
    dirs = _common.bench_dirs(args.dirs)
    rows = make_rows()
    began = time.monotonic()
    for label, base in dirs:
        directory = _common.scratch_dir(base, "rmcore-bench-contention-")
        try:
            for _rep in range(reps):
                floor = run_floor(directory, args.procs, duration)
                rm = run_rmcore(directory, args.procs, duration)
                for error in floor.errors + rm.errors:
                    print(f"{label}: {error}", file=sys.stderr)
                rows["throughput"].add(label, p50=rm.ops_per_s / floor.ops_per_s)
                rows["rm_ops"].add(label, p50=rm.ops_per_s)
                rows["floor_ops"].add(label, p50=floor.ops_per_s)
                rows["rm_spread"].add(label, p50=rm.spread)
                rows["floor_spread"].add(label, p50=floor.spread)
                rows["rm_wait"].add(label, p50=rm.worst_over_p50)
                rows["floor_wait"].add(label, p50=floor.worst_over_p50)
                rows["lost"].add(label, p50=rm.lost + floor.lost)
        finally:
            _common.remove(directory)
    return _common.print_report(
        f"{args.procs} processes on one store",
        dirs,
        (
            f"{reps} repetition(s) of {duration:g} s per phase; p50 is the median of the "
            "repetitions (their range in brackets)."
        ),
        list(rows.values()),
        "bench_contention",
        began,
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
