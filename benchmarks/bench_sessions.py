"""RmStartSession / RmJoinSession / RmEndSession latency against the floor of the design.

Run ``python benchmarks/bench_sessions.py`` (about a minute) or ``--quick`` (a few seconds).

*The floor* is the cheapest locked store update: open the lock file, ``flock`` it, read a
~200-byte file, write a temp file, ``os.replace`` it over the original, close (unlock). Every
rmcore call needs at least that, so each call is reported as a ratio to the floor's p50,
measured in the same run, interleaved with the calls, on the same file system.

One *cycle* is what a Restart Manager client does: ``RmStartSession`` (own session), then
``RmJoinSession`` on a shared session another simulated process started, ``RmEndSession``
on that secondary handle, ``RmEndSession`` on the primary handle. Sections:

1. one process: per-call p50/p99, time inside the registry mutex, ratio to the floor;
2. 1/2/4/8 processes in a fixed window: per-call latency, mutex wait, per-process call
   counts; afterwards the store is checked for lost updates (session count, index links,
   the shared session's secondaries and its ``Sequence`` counter, which every join and
   leave bumps);
3. cost with 1, 16, 32, 64 live sessions already in the store (should be flat);
4. PASS/FAIL against the targets.

``--profile`` instead runs the one-process cycle under cProfile and prints where time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import fcntl
import io
import os
import pstats
import shutil
import sys
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import _common
from _common import Stats, critical_section, init_data_file, markdown_table, read_counter, stats, us

import rmcore
from rmcore.registry_store import RegistryMutex, RegistryStore
from rmcore.session._table import RESTART_MANAGER_KEY

OPS = ("RmStartSession", "RmJoinSession", "RmEndSession (secondary)", "RmEndSession (primary)")
JUDGED = ("RmStartSession", "RmJoinSession", "RmEndSession (primary)")
FLOOR = "floor: lock + read + temp write + os.replace + unlock"
MAX_SESSIONS = 64
MUTEX_TIMEOUT = 2.0
KEEP_SESSIONS = 2  # per process: the first cycles do not end their session ...
KEEP_JOINS = 2  # ... nor leave the shared one, so the final store state is predictable

# targets
RATIO_TARGET = 1.5
FLAT_TARGET = 1.3
WAIT_TARGET = 10.0
SPREAD_TARGET = 2.0

clock = time.perf_counter_ns


# -- instrumentation: time spent waiting for and holding the registry mutex ---------------------


class TimedMutex(RegistryMutex):
    """rmcore's mutex, unchanged, recording the wait and hold time of the last acquisition."""

    def __init__(self, lock_path: str) -> None:
        super().__init__(lock_path)
        self.last_wait = 0
        self.last_hold = 0

    @contextmanager
    def hold(self, timeout: float) -> Iterator[None]:
        t0 = clock()
        with super().hold(timeout):
            t1 = clock()
            self.last_wait = t1 - t0
            try:
                yield
            finally:
                self.last_hold = clock() - t1


def instrumented(sim: rmcore.Simulator) -> TimedMutex:
    store = sim.sessions.store
    mutex = TimedMutex(store.mutex.lock_path)
    store.mutex = mutex
    return mutex


# -- one cycle of calls -------------------------------------------------------------------------


@dataclass
class Samples:
    """Latencies per call (ns), mutex wait and hold per call, failures by code."""

    latency: dict[str, array[int]] = field(default_factory=lambda: {op: array("q") for op in OPS})
    wait: dict[str, array[int]] = field(default_factory=lambda: {op: array("q") for op in OPS})
    hold: dict[str, array[int]] = field(default_factory=lambda: {op: array("q") for op in OPS})
    failures: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    kept_sessions: int = 0
    kept_joins: int = 0
    joins: int = 0
    leaves: int = 0

    def add(self, op: str, elapsed: int, mutex: TimedMutex, code: int) -> bool:
        self.calls += 1
        if code != 0:
            key = f"{op}={code}"
            self.failures[key] = self.failures.get(key, 0) + 1
            return False
        self.latency[op].append(elapsed)
        self.wait[op].append(mutex.last_wait)
        self.hold[op].append(mutex.last_hold)
        return True

    def merge(self, other: Samples) -> None:
        for op in OPS:
            self.latency[op].extend(other.latency[op])
            self.wait[op].extend(other.wait[op])
            self.hold[op].extend(other.hold[op])
        for key, count in other.failures.items():
            self.failures[key] = self.failures.get(key, 0) + count
        self.calls += other.calls
        self.kept_sessions += other.kept_sessions
        self.kept_joins += other.kept_joins
        self.joins += other.joins
        self.leaves += other.leaves


def cycle(sim: rmcore.Simulator, mutex: TimedMutex, shared_key: str, out: Samples) -> None:
    """Start, join the shared session, leave it, end: four timed calls."""
    handle, key = ctypes.c_uint32(0xFFFFFFFF), ctypes.create_unicode_buffer(33)
    joined = ctypes.c_uint32(0xFFFFFFFF)
    p_handle, p_joined = ctypes.byref(handle), ctypes.byref(joined)

    t0 = clock()
    code = sim.RmStartSession(p_handle, 0, key)
    started = out.add(OPS[0], clock() - t0, mutex, code)

    t0 = clock()
    code = sim.RmJoinSession(p_joined, shared_key)
    did_join = out.add(OPS[1], clock() - t0, mutex, code)

    if did_join:
        out.joins += 1
        if out.kept_joins < KEEP_JOINS:
            out.kept_joins += 1
        else:
            t0 = clock()
            code = sim.RmEndSession(joined.value)
            if out.add(OPS[2], clock() - t0, mutex, code):
                out.leaves += 1

    if started:
        if out.kept_sessions < KEEP_SESSIONS:
            out.kept_sessions += 1
        else:
            t0 = clock()
            code = sim.RmEndSession(handle.value)
            out.add(OPS[3], clock() - t0, mutex, code)


def floor_cycle(lock_path: str, data_path: str, tmp_path: str) -> tuple[int, int]:
    """One floor update; returns (total ns, wait-for-lock ns)."""
    t0 = clock()
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        t1 = clock()
        critical_section(data_path, tmp_path)
    finally:
        os.close(fd)
    return clock() - t0, t1 - t0


@dataclass
class Fixture:
    """A store with an owner process holding *live* sessions; the first is the shared one."""

    directory: str
    owner: rmcore.Simulator
    shared_key: str
    shared_name: str
    max_sessions: int

    @classmethod
    def create(cls, directory: str, live: int = 1, max_sessions: int = MAX_SESSIONS) -> Fixture:
        owner = rmcore.Simulator(directory, max_sessions=max_sessions, mutex_timeout=MUTEX_TIMEOUT)
        keys = []
        for _ in range(live):
            handle, key = ctypes.c_uint32(), ctypes.create_unicode_buffer(33)
            code = owner.RmStartSession(ctypes.byref(handle), 0, key)
            if code != 0:
                raise RuntimeError(f"fixture RmStartSession failed with {code}")
            keys.append((handle.value, key.value))
        first_handle, first_key = keys[0]
        name = owner.handles()[first_handle].name
        return cls(directory, owner, first_key, name, max_sessions)

    @property
    def spec(self) -> StoreSpec:
        return StoreSpec(self.directory, self.shared_key, self.max_sessions)

    def worker_sim(self) -> tuple[rmcore.Simulator, TimedMutex]:
        return self.spec.worker_sim()


@dataclass(frozen=True)
class StoreSpec:
    """What a worker process needs to use a fixture's store (picklable, for spawn)."""

    directory: str
    shared_key: str
    max_sessions: int

    def worker_sim(self) -> tuple[rmcore.Simulator, TimedMutex]:
        sim = rmcore.Simulator(
            self.directory, max_sessions=self.max_sessions, mutex_timeout=MUTEX_TIMEOUT
        )
        return sim, instrumented(sim)


# -- section 1: one process, interleaved with the floor -----------------------------------------


def run_single(base: str, cycles: int, rounds: int) -> tuple[Samples, Stats, str]:
    fixture = Fixture.create(os.path.join(base, "single-store"))
    sim, mutex = fixture.worker_sim()
    floor_dir = os.path.join(base, "single-floor")
    os.mkdir(floor_dir)
    lock_path, data_path = os.path.join(floor_dir, "floor.lock"), os.path.join(floor_dir, "f")
    tmp_path = f"{data_path}.{os.getpid()}.tmp"
    init_data_file(data_path)
    # no KEEP_* here: the store holds exactly the shared session plus the cycle's own
    samples = Samples(kept_sessions=KEEP_SESSIONS, kept_joins=KEEP_JOINS)
    warm = Samples(kept_sessions=KEEP_SESSIONS, kept_joins=KEEP_JOINS)
    for _ in range(50):
        cycle(sim, mutex, fixture.shared_key, warm)
        floor_cycle(lock_path, data_path, tmp_path)
    floor: array[int] = array("q")
    per_round = max(1, cycles // rounds)
    for _ in range(rounds):
        for _ in range(per_round):
            cycle(sim, mutex, fixture.shared_key, samples)
        for _ in range(per_round * 2):
            floor.append(floor_cycle(lock_path, data_path, tmp_path)[0])
    floor_stats = stats(floor)
    rows = []
    for op in OPS:
        lat, hold = stats(samples.latency[op]), stats(samples.hold[op])
        rows.append(
            (
                op,
                lat.n,
                us(lat.p50),
                us(lat.p99),
                us(hold.p50),
                us(lat.p50 - hold.p50),
                f"{lat.p50 / floor_stats.p50:.2f}x",
            )
        )
    rows.append(
        (
            FLOOR,
            floor_stats.n,
            us(floor_stats.p50),
            us(floor_stats.p99),
            us(floor_stats.p50),
            "0",
            "1.00x",
        )
    )
    headers = (
        "call (1 process)",
        "n",
        "p50 µs",
        "p99 µs",
        "in mutex p50 µs",
        "outside mutex p50 µs",
        "p50 / floor p50",
    )
    table = markdown_table(headers, rows)
    if samples.failures:
        table += f"\n\nFailures: {samples.failures}"
    return samples, floor_stats, table


# -- section 2: N processes ---------------------------------------------------------------------


@dataclass
class ProcResult:
    index: int
    samples: Samples | None = None
    floor: bytes = b""  # array('q') of floor-cycle latencies
    floor_waits: bytes = b""
    floor_ops: int = 0
    error: str = ""

    @property
    def ops(self) -> int:
        return self.samples.calls if self.samples is not None else self.floor_ops


def session_worker(
    fixture: StoreSpec,
    duration: float,
    barrier: Barrier,
    results: Queue[ProcResult],
    index: int,
) -> None:
    try:
        sim, mutex = fixture.worker_sim()
        samples = Samples()
        barrier.wait()
        deadline = clock() + int(duration * 1e9)
        while clock() < deadline:
            cycle(sim, mutex, fixture.shared_key, samples)
        results.put(ProcResult(index, samples=samples))
    except BaseException as exc:  # report, never hang the parent
        results.put(ProcResult(index, error=f"{type(exc).__name__}: {exc}"))


def floor_worker(
    directory: str,
    duration: float,
    barrier: Barrier,
    results: Queue[ProcResult],
    index: int,
) -> None:
    try:
        lock_path, data_path = os.path.join(directory, "floor.lock"), os.path.join(directory, "f")
        tmp_path = f"{data_path}.{os.getpid()}.tmp"
        latencies, waits = array("q"), array("q")
        barrier.wait()
        deadline = clock() + int(duration * 1e9)
        while clock() < deadline:
            total, wait = floor_cycle(lock_path, data_path, tmp_path)
            latencies.append(total)
            waits.append(wait)
        results.put(
            ProcResult(
                index, floor=latencies.tobytes(), floor_waits=waits.tobytes(), floor_ops=len(waits)
            )
        )
    except BaseException as exc:
        results.put(ProcResult(index, error=f"{type(exc).__name__}: {exc}"))


def _run_procs(
    target: Callable[..., None],
    first_arg: object,
    procs: int,
    duration: float,
    start_method: str | None,
) -> list[ProcResult]:
    ctx = _common.mp_context(start_method)
    barrier = ctx.Barrier(procs)
    results: Queue[ProcResult] = ctx.Queue()
    workers = [
        ctx.Process(  # type: ignore[attr-defined]
            target=target, args=(first_arg, duration, barrier, results, i)
        )
        for i in range(procs)
    ]
    for worker in workers:
        worker.start()
    got = [results.get(timeout=duration + 120) for _ in workers]
    for worker in workers:
        worker.join()
    for result in got:
        if result.error:
            print(f"worker {result.index} failed: {result.error}", file=sys.stderr)
    return sorted(got, key=lambda r: r.index)


def spread(counts: list[int]) -> float:
    """Largest over smallest per-process count (infinite if a process got nothing done)."""
    low = min(counts, default=0)
    return max(counts) / low if low else float("inf")


@dataclass
class ConcurrencyResult:
    procs: int
    duration: float
    merged: Samples
    per_proc_ops: list[int]
    floor: Stats
    floor_wait: Stats
    floor_per_proc: list[int]
    floor_counter_ok: bool
    checks: dict[str, tuple[int, int]]  # name -> (found, expected)
    errors: list[str]

    def worst_max_over_p50(self) -> tuple[float, str]:
        worst, which = 0.0, ""
        for op in OPS:
            s = stats(self.merged.latency[op])
            if s.n and s.max_over_p50 > worst:
                worst, which = s.max_over_p50, op
        return worst, which

    @property
    def lost_updates(self) -> bool:
        return any(found != expected for found, expected in self.checks.values())


def run_concurrency(
    base: str, procs: int, duration: float, start_method: str | None
) -> ConcurrencyResult:
    floor_dir = os.path.join(base, f"floor-{procs}")
    os.mkdir(floor_dir)
    init_data_file(os.path.join(floor_dir, "f"))
    floor_results = _run_procs(floor_worker, floor_dir, procs, duration, start_method)
    floor_lat, floor_wait = array("q"), array("q")
    for result in floor_results:
        floor_lat.frombytes(result.floor)
        floor_wait.frombytes(result.floor_waits)
    floor_per_proc = [r.floor_ops for r in floor_results]

    fixture = Fixture.create(os.path.join(base, f"procs-{procs}"))
    got = _run_procs(session_worker, fixture.spec, procs, duration, start_method)
    merged = Samples()
    for result in got:
        if result.samples is not None:
            merged.merge(result.samples)
    store = RegistryStore(fixture.directory)
    sessions = store.subkeys(RESTART_MANAGER_KEY)
    links = store.subkeys("HKCU\\Software\\rmcore\\KeyIndex")
    shared = store.read_key(f"{RESTART_MANAGER_KEY}\\{fixture.shared_name}") or {}
    secondaries = shared["rmcore.Secondaries"].as_list() if "rmcore.Secondaries" in shared else []
    sequence = shared["Sequence"].as_int() if "Sequence" in shared else -1
    checks = {
        "session keys": (len(sessions), 1 + merged.kept_sessions),
        "key index links": (len(links), 1 + merged.kept_sessions),
        "shared session secondaries": (len(secondaries), merged.kept_joins),
        "shared session Sequence": (sequence, (merged.joins + merged.leaves) & 0xFFFFFFFF),
    }
    return ConcurrencyResult(
        procs=procs,
        duration=duration,
        merged=merged,
        per_proc_ops=[r.ops for r in got],
        floor=stats(floor_lat),
        floor_wait=stats(floor_wait),
        floor_per_proc=floor_per_proc,
        floor_counter_ok=read_counter(os.path.join(floor_dir, "f")) == sum(floor_per_proc),
        checks=checks,
        errors=[r.error for r in (*got, *floor_results) if r.error],
    )


def concurrency_tables(results: list[ConcurrencyResult]) -> str:
    rows = []
    for res in results:
        for op in OPS:
            lat, wait = stats(res.merged.latency[op]), stats(res.merged.wait[op])
            rows.append(
                (
                    res.procs,
                    op,
                    lat.n,
                    us(lat.p50),
                    us(lat.p99),
                    us(lat.max),
                    f"{lat.max_over_p50:.1f}",
                    us(wait.p50),
                    us(wait.p99),
                    us(wait.max),
                    f"{lat.p50 / res.floor.p50:.2f}x",
                )
            )
        rows.append(
            (
                res.procs,
                "floor",
                res.floor.n,
                us(res.floor.p50),
                us(res.floor.p99),
                us(res.floor.max),
                f"{res.floor.max_over_p50:.1f}",
                us(res.floor_wait.p50),
                us(res.floor_wait.p99),
                us(res.floor_wait.max),
                "1.00x",
            )
        )
    latency = markdown_table(
        (
            "procs",
            "call",
            "n",
            "p50 µs",
            "p99 µs",
            "max µs",
            "max/p50",
            "mutex wait p50 µs",
            "wait p99 µs",
            "wait max µs",
            "p50 / floor p50 (same N)",
        ),
        rows,
    )
    fair_rows = []
    for res in results:
        worst, which = res.worst_max_over_p50()
        fair_rows.append(
            (
                res.procs,
                "rmcore calls",
                f"{sum(res.per_proc_ops) / res.duration:,.0f}",
                min(res.per_proc_ops),
                max(res.per_proc_ops),
                f"{spread(res.per_proc_ops):.2f}",
                f"{worst:.1f} ({which})",
                "none" if not res.merged.failures else str(res.merged.failures),
                "; ".join(f"{k} {f}/{e}" for k, (f, e) in res.checks.items()),
            )
        )
        fair_rows.append(
            (
                res.procs,
                "floor cycles",
                f"{sum(res.floor_per_proc) / res.duration:,.0f}",
                min(res.floor_per_proc),
                max(res.floor_per_proc),
                f"{spread(res.floor_per_proc):.2f}",
                f"{res.floor.max_over_p50:.1f}",
                "none",
                "counter ok" if res.floor_counter_ok else "counter LOST UPDATES",
            )
        )
    fairness = markdown_table(
        (
            "procs",
            "workload",
            "ops/s",
            "min ops/proc",
            "max ops/proc",
            "max/min",
            "worst max/p50 latency",
            "failed calls",
            "store check (found/expected)",
        ),
        fair_rows,
    )
    return latency + "\n\n" + fairness


# -- section 3: cost against the number of live sessions ----------------------------------------


def run_scaling(
    base: str, counts: tuple[int, ...], cycles: int, rounds: int
) -> tuple[dict[int, Samples], str]:
    fixtures = {
        n: Fixture.create(os.path.join(base, f"live-{n}"), live=n, max_sessions=2 * max(counts))
        for n in counts
    }
    sims = {n: fixture.worker_sim() for n, fixture in fixtures.items()}
    # no KEEP_* here: the store holds exactly n live sessions plus the cycle's own
    results = {n: Samples(kept_sessions=KEEP_SESSIONS, kept_joins=KEEP_JOINS) for n in counts}
    for n in counts:
        sim, mutex = sims[n]
        warm = Samples(kept_sessions=KEEP_SESSIONS, kept_joins=KEEP_JOINS)
        for _ in range(20):
            cycle(sim, mutex, fixtures[n].shared_key, warm)
    per_round = max(1, cycles // rounds)
    for _ in range(rounds):
        for n in counts:
            sim, mutex = sims[n]
            for _ in range(per_round):
                cycle(sim, mutex, fixtures[n].shared_key, results[n])
    rows = []
    for op in OPS:
        p50s = {n: stats(results[n].latency[op]).p50 for n in counts}
        base_p50 = p50s[counts[0]]
        rows.append(
            (
                op,
                *(us(p50s[n]) for n in counts),
                f"{max(p50s.values()) / base_p50:.2f}x",
            )
        )
    headers = (
        "call p50 µs, by live sessions",
        *(str(n) for n in counts),
        f"max / p50 at {counts[0]}",
    )
    return results, markdown_table(headers, rows)


# -- profile ------------------------------------------------------------------------------------


def run_profile(base: str, cycles: int) -> str:
    fixture = Fixture.create(os.path.join(base, "profile-store"))
    sim, mutex = fixture.worker_sim()
    samples = Samples(kept_sessions=KEEP_SESSIONS, kept_joins=KEEP_JOINS)
    for _ in range(50):
        cycle(sim, mutex, fixture.shared_key, samples)
    profiler = cProfile.Profile(time.perf_counter)
    profiler.enable()
    for _ in range(cycles):
        cycle(sim, mutex, fixture.shared_key, samples)
    profiler.disable()
    out = io.StringIO()
    report = pstats.Stats(profiler, stream=out)
    report.sort_stats("tottime").print_stats(30)
    report.sort_stats("cumulative").print_stats(40)
    return out.getvalue()


# -- main ---------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short run (a few seconds)")
    parser.add_argument("--dir", default=None, help="where to put the stores (default: $TMPDIR)")
    parser.add_argument("--duration", type=float, default=None, help="multi-process window, s")
    parser.add_argument("--start-method", choices=("fork", "spawn", "forkserver"), default=None)
    parser.add_argument("--profile", action="store_true", help="cProfile the 1-process cycle")
    args = parser.parse_args(argv)

    base = _common.scratch_dir(args.dir, "rmcore-bench-sessions-")
    method = _common.mp_context(args.start_method).get_start_method()
    started = time.monotonic()
    try:
        if args.profile:
            print(run_profile(base, 300 if args.quick else 2000))
            return 0
        cycles = 400 if args.quick else 3000
        duration = args.duration or (1.0 if args.quick else 3.0)
        scale_cycles = 200 if args.quick else 1500
        counts = (1, 16, 32, 64)

        print("# Session benchmarks\n")
        print(_common.machine_info(base, method))
        print(
            f"\n## One process: {cycles:,} cycles, interleaved in 10 rounds with "
            f"{2 * cycles:,} floor updates\n"
        )
        print(
            "'in mutex' is the time between acquiring and releasing the registry mutex;\n"
            "the floor holds it for one read + temp write + os.replace.\n"
        )
        _single, floor, table = run_single(base, cycles, rounds=10)
        print(table)
        ratios = {op: stats(_single.latency[op]).p50 / floor.p50 for op in JUDGED}

        print(f"\n## 1/2/4/8 processes, {duration:g} s window each (floor window, then rmcore)\n")
        conc = [run_concurrency(base, n, duration, args.start_method) for n in (1, 2, 4, 8)]
        print(concurrency_tables(conc))

        print(
            f"\n## Live sessions already in the store ({scale_cycles:,} cycles each, "
            f"max_sessions={2 * max(counts)} so a start still fits at {max(counts)})\n"
        )
        scaling, table = run_scaling(base, counts, scale_cycles, rounds=10)
        print(table)

        eight = conc[-1]
        worst, which = eight.worst_max_over_p50()
        flat = {
            op: max(stats(scaling[n].latency[op]).p50 for n in counts)
            / stats(scaling[counts[0]].latency[op]).p50
            for op in JUDGED
        }
        spread8 = spread(eight.per_proc_ops)
        floor_spread = spread(eight.floor_per_proc)
        summary = [
            *(
                (
                    f"{op} p50 <= {RATIO_TARGET}x floor p50 (1 process)",
                    f"{ratios[op]:.2f}x",
                    verdict(ratios[op] <= RATIO_TARGET),
                )
                for op in JUDGED
            ),
            *(
                (
                    f"{op} flat from 1 to 64 live sessions (<= {FLAT_TARGET}x)",
                    f"{flat[op]:.2f}x",
                    verdict(flat[op] <= FLAT_TARGET),
                )
                for op in JUDGED
            ),
            (
                f"8 processes: max latency <= {WAIT_TARGET:g}x p50 (worst call)",
                f"{worst:.1f}x ({which})",
                verdict(worst <= WAIT_TARGET),
            ),
            (
                f"8 processes: per-process call counts within {SPREAD_TARGET:g}x",
                f"{spread8:.2f}x",
                verdict(spread8 <= SPREAD_TARGET),
            ),
            (
                "8 processes: no lost update, no failed call",
                "; ".join(f"{k} {f}/{e}" for k, (f, e) in eight.checks.items()),
                verdict(not eight.lost_updates and not eight.merged.failures),
            ),
            (
                f"reference, floor at 8 processes: max <= {WAIT_TARGET:g}x p50",
                f"{eight.floor.max_over_p50:.1f}x",
                verdict(eight.floor.max_over_p50 <= WAIT_TARGET),
            ),
            (
                f"reference, floor at 8 processes: counts within {SPREAD_TARGET:g}x",
                f"{floor_spread:.2f}x",
                verdict(floor_spread <= SPREAD_TARGET),
            ),
        ]
        print("\n## Targets\n")
        print(markdown_table(("target", "measured", "result"), summary))
        print(f"\n_total run time {time.monotonic() - started:.1f} s_")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
