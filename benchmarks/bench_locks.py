"""Cross-process file locks on the store's file system: latency and fairness.

Run ``python benchmarks/bench_locks.py`` (about a minute) or ``--quick`` (a few seconds).

Part 1, latency: one process, no contention, lock + unlock timed as one sample, for

* ``fcntl.flock`` on a descriptor kept open,
* ``fcntl.flock`` on a descriptor opened and closed per acquisition (what rmcore does),
* rmcore's own ``RegistryMutex.hold`` (the previous line plus its Python wrapper),
* ``portalocker.lock``/``unlock`` on a file kept open,
* ``portalocker.Lock`` as a context manager (opens the file per acquisition),
* ``filelock.FileLock`` (opens the file per acquisition).

Part 2, fairness: N processes (default 8) start together on a barrier and, for a fixed
time, loop lock -> read + JSON decode/encode -> write a temp file + ``os.replace`` -> unlock.
The file (the floor's ~600-byte JSON record, benchmarks/_common.py) holds a counter each
iteration increments, so a lock that lets two writers in at
once shows up as a lost update. Reported: per-process iteration counts (min, max, their
ratio) and the wait to acquire (p50, p99, max, max/p50), for each locking strategy.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import itertools
import os
import shutil
import sys
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

import _common
import filelock
import portalocker
from _common import (
    Stats,
    init_record,
    markdown_table,
    read_counter,
    stats,
    update_record,
    us,
)

from rmcore.registry_store import MutexTimeout, RegistryMutex

LOCK_TIMEOUT = 2.0  # seconds, rmcore's default mutex timeout
POLL_INTERVAL = 100e-6  # portalocker check_interval / filelock poll_interval

# -- part 1: uncontended latency ----------------------------------------------------------------

LatencyRun = Callable[[str, int], list[int]]


def _lat_flock_kept_open(path: str, n: int) -> list[int]:
    clock, flock, ex, un = time.perf_counter_ns, fcntl.flock, fcntl.LOCK_EX, fcntl.LOCK_UN
    out = [0] * n
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        for i in range(n):
            t0 = clock()
            flock(fd, ex)
            flock(fd, un)
            out[i] = clock() - t0
    finally:
        os.close(fd)
    return out


def _lat_flock_reopen(path: str, n: int) -> list[int]:
    clock, flock, ex_nb = time.perf_counter_ns, fcntl.flock, fcntl.LOCK_EX | fcntl.LOCK_NB
    opn, close, flags = os.open, os.close, os.O_RDWR | os.O_CREAT
    out = [0] * n
    for i in range(n):
        t0 = clock()
        fd = opn(path, flags, 0o600)
        flock(fd, ex_nb)
        close(fd)  # closing the only descriptor releases the lock
        out[i] = clock() - t0
    return out


def _lat_rmcore_mutex(path: str, n: int) -> list[int]:
    clock = time.perf_counter_ns
    mutex = RegistryMutex(path)
    out = [0] * n
    for i in range(n):
        t0 = clock()
        with mutex.hold(LOCK_TIMEOUT):
            pass
        out[i] = clock() - t0
    return out


def _lat_portalocker_lock_unlock(path: str, n: int) -> list[int]:
    clock, lock, unlock, ex = (
        time.perf_counter_ns,
        portalocker.lock,
        portalocker.unlock,
        portalocker.LOCK_EX,
    )
    out = [0] * n
    with open(path, "a") as handle:
        for i in range(n):
            t0 = clock()
            lock(handle, ex)
            unlock(handle)
            out[i] = clock() - t0
    return out


def _lat_context_manager(lock: AbstractContextManager[object], n: int) -> list[int]:
    """Latency of ``with lock: pass`` (the lock libraries' own high-level API)."""
    clock = time.perf_counter_ns
    out = [0] * n
    for i in range(n):
        t0 = clock()
        with lock:
            pass
        out[i] = clock() - t0
    return out


def _lat_portalocker_lock_cm(path: str, n: int) -> list[int]:
    lock = portalocker.Lock(path, timeout=LOCK_TIMEOUT, check_interval=POLL_INTERVAL)
    return _lat_context_manager(lock, n)


def _lat_filelock(path: str, n: int) -> list[int]:
    lock = filelock.FileLock(path, timeout=LOCK_TIMEOUT, poll_interval=POLL_INTERVAL)
    return _lat_context_manager(lock, n)


LATENCY_VARIANTS: dict[str, LatencyRun] = {
    "fcntl.flock, fd kept open": _lat_flock_kept_open,
    "fcntl.flock, open/close per acquisition": _lat_flock_reopen,
    "rmcore RegistryMutex.hold (reopen + NB flock)": _lat_rmcore_mutex,
    "portalocker.lock/unlock, file kept open": _lat_portalocker_lock_unlock,
    "portalocker.Lock (context manager)": _lat_portalocker_lock_cm,
    "filelock.FileLock": _lat_filelock,
}


def run_latency(directory: str, iterations: int, rounds: int) -> str:
    """Every variant, *rounds* times round-robin, so drift on a noisy host hits all alike."""
    per_round = max(1, iterations // rounds)
    samples: dict[str, list[int]] = {name: [] for name in LATENCY_VARIANTS}
    paths = {
        name: os.path.join(directory, f"latency-{i}.lock")
        for i, name in enumerate(LATENCY_VARIANTS)
    }
    for name, run in LATENCY_VARIANTS.items():  # warm-up: imports, caches, dentries
        run(paths[name], 200)
    for _ in range(rounds):
        for name, run in LATENCY_VARIANTS.items():
            samples[name].extend(run(paths[name], per_round))
    base = stats(samples["fcntl.flock, fd kept open"]).p50
    rows = []
    for name, got in samples.items():
        s = stats(got)
        rows.append((name, s.n, us(s.p50), us(s.p99), us(s.mean), f"{s.p50 / base:.1f}x", _kops(s)))
    headers = ("lock + unlock", "n", "p50 µs", "p99 µs", "mean µs", "p50 vs kept fd", "kops/s")
    return markdown_table(headers, rows)


def _kops(s: Stats) -> str:
    return f"{1e6 / s.mean:.0f}" if s.mean else "-"


# -- part 2: fairness under contention ----------------------------------------------------------

Holder = Callable[[], AbstractContextManager[object]]
HolderFactory = Callable[[str], Holder]


def _holder_flock_kept_open(path: str) -> Holder:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    @contextlib.contextmanager
    def hold() -> Iterator[None]:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    return hold


def _holder_flock_reopen(path: str) -> Holder:
    @contextlib.contextmanager
    def hold() -> Iterator[None]:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    return hold


def _holder_rmcore(path: str) -> Holder:
    mutex = RegistryMutex(path)
    return lambda: mutex.hold(LOCK_TIMEOUT)


def _holder_portalocker(path: str) -> Holder:
    lock = portalocker.Lock(path, timeout=LOCK_TIMEOUT, check_interval=POLL_INTERVAL)
    return lambda: lock


def _holder_filelock(path: str) -> Holder:
    lock = filelock.FileLock(path, timeout=LOCK_TIMEOUT, poll_interval=POLL_INTERVAL)
    return lambda: lock


FAIRNESS_VARIANTS: dict[str, HolderFactory] = {
    "(i) flock, fd kept open, blocking": _holder_flock_kept_open,
    "(ii) flock, reopen per acquisition, blocking": _holder_flock_reopen,
    "(iii) rmcore RegistryMutex (NB try, then kernel-queued waiter)": _holder_rmcore,
    "(iv) portalocker.Lock, check_interval 100 µs": _holder_portalocker,
    "(v) filelock.FileLock, poll_interval 100 µs": _holder_filelock,
}

TIMEOUT_ERRORS: tuple[type[BaseException], ...] = (
    MutexTimeout,
    portalocker.exceptions.LockException,
    filelock.Timeout,
)


@dataclass
class WorkerResult:
    index: int
    ops: int
    timeouts: int
    waits: bytes  # array('q') of acquisition waits in ns, timed-out attempts included
    error: str = ""


def fairness_worker(
    variant: str,
    lock_path: str,
    data_path: str,
    duration: float,
    barrier: Barrier,
    results: Queue[WorkerResult],
    index: int,
) -> None:
    """One contender: loop lock/read/replace/unlock until the common window closes."""
    try:
        hold = FAIRNESS_VARIANTS[variant](lock_path)
        tmp_path = f"{data_path}.{os.getpid()}.tmp"
        clock = time.perf_counter_ns
        waits = array("q")
        ops = timeouts = 0
        barrier.wait()
        deadline = clock() + int(duration * 1e9)
        while clock() < deadline:
            t0 = clock()
            try:
                with hold():
                    t1 = clock()
                    update_record(data_path, tmp_path)
            except TIMEOUT_ERRORS:
                timeouts += 1
                waits.append(clock() - t0)
                continue
            waits.append(t1 - t0)
            ops += 1
        result = WorkerResult(index, ops, timeouts, waits.tobytes())
    except BaseException as exc:  # report, never hang the parent
        result = WorkerResult(index, 0, 0, b"", f"{type(exc).__name__}: {exc}")
    results.put(result)


@dataclass
class FairnessRow:
    variant: str
    procs: int
    duration: float
    counts: list[int]
    timeouts: int
    wait: Stats
    counter_ok: bool
    errors: list[str]

    @property
    def spread(self) -> float:
        low = min(self.counts)
        return max(self.counts) / low if low else float("inf")

    def cells(self) -> tuple[object, ...]:
        spread = "∞" if self.spread == float("inf") else f"{self.spread:.2f}"
        return (
            self.variant,
            f"{sum(self.counts) / self.duration:,.0f}",
            min(self.counts),
            max(self.counts),
            spread,
            us(self.wait.p50),
            us(self.wait.p99),
            us(self.wait.max),
            f"{self.wait.max_over_p50:,.0f}",
            self.timeouts,
            "ok" if self.counter_ok else "LOST UPDATES",
            " ".join(str(c) for c in sorted(self.counts)),
        )


FAIRNESS_HEADERS = (
    "lock (N processes, fixed window)",
    "ops/s",
    "min ops/proc",
    "max ops/proc",
    "max/min",
    "wait p50 µs",
    "wait p99 µs",
    "wait max µs",
    "max/p50",
    "timeouts",
    "counter",
    "per-process ops (sorted)",
)


_slots = itertools.count()


def run_fairness(
    variant: str, directory: str, procs: int, duration: float, start_method: str | None
) -> FairnessRow:
    ctx = _common.mp_context(start_method)
    slot = next(_slots)
    lock_path = os.path.join(directory, f"fair-{slot}.lock")
    data_path = os.path.join(directory, f"fair-{slot}.dat")
    init_record(data_path)
    barrier = ctx.Barrier(procs)
    results: Queue[WorkerResult] = ctx.Queue()
    workers = [
        ctx.Process(  # type: ignore[attr-defined]
            target=fairness_worker,
            args=(variant, lock_path, data_path, duration, barrier, results, i),
        )
        for i in range(procs)
    ]
    for worker in workers:
        worker.start()
    got: list[WorkerResult] = [results.get(timeout=duration + 120) for _ in workers]
    for worker in workers:
        worker.join()
    waits = array("q")
    for result in got:
        waits.frombytes(result.waits)
    counts = [r.ops for r in sorted(got, key=lambda r: r.index)]
    return FairnessRow(
        variant=variant,
        procs=procs,
        duration=duration,
        counts=counts,
        timeouts=sum(r.timeouts for r in got),
        wait=stats(waits),
        counter_ok=read_counter(data_path) == sum(counts),
        errors=[r.error for r in got if r.error],
    )


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short run (a few seconds)")
    parser.add_argument("--dir", default=None, help="where to put lock files (default: $TMPDIR)")
    parser.add_argument("--procs", type=int, default=8, help="contending processes (default 8)")
    parser.add_argument("--duration", type=float, default=None, help="fairness window, s")
    parser.add_argument("--rounds", type=int, default=None, help="fairness repetitions")
    parser.add_argument("--start-method", choices=("fork", "spawn", "forkserver"), default=None)
    args = parser.parse_args(argv)

    iterations = 4_000 if args.quick else 40_000
    duration = args.duration or (1.0 if args.quick else 2.0)
    rounds = args.rounds or (1 if args.quick else 2)
    directory = _common.scratch_dir(args.dir, "rmcore-bench-locks-")
    method = _common.mp_context(args.start_method).get_start_method()
    started = time.monotonic()
    try:
        print("# Lock benchmarks\n")
        print(_common.machine_info([(_common.fs_type(directory), directory)]))
        print(f"\nmultiprocessing start method: {method}")
        print(f"\n## Lock + unlock latency, one process, no contention ({iterations:,} each)\n")
        print(run_latency(directory, iterations, rounds=10))
        print(
            f"\n## Fairness: {args.procs} processes x {duration:g} s, each loop = lock → read "
            f"~600-byte JSON record → write temp + os.replace → unlock\n"
        )
        print(
            f"Waits are time-to-acquire, timed-out attempts ({LOCK_TIMEOUT:g} s) included; "
            f"'counter' checks that no increment was lost.\n"
        )
        rows: list[FairnessRow] = []
        for round_no in range(rounds):
            for variant in FAIRNESS_VARIANTS:
                row = run_fairness(variant, directory, args.procs, duration, args.start_method)
                if rounds > 1:
                    row.variant = f"{row.variant} #{round_no + 1}"
                rows.append(row)
                for error in row.errors:
                    print(f"worker error in {variant}: {error}", file=sys.stderr)
        print(markdown_table(FAIRNESS_HEADERS, (row.cells() for row in rows)))
        print(f"\n_total run time {time.monotonic() - started:.1f} s_")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
