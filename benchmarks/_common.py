"""Helpers shared by the benchmark scripts: the floor, timing, statistics, tables, results.

Every script reports its rows as a ratio to **the floor**, measured in the same run, in the
same directory, interleaved with the rows: one ``flock`` + read + JSON decode + modify +
encode + atomic replace (temp file + ``os.replace``) + unlock of a ~600-byte record (the
cheapest honest locked update of a store; :class:`Floor`). Nothing here asserts a time.

Importing this module also puts the repository root first on ``sys.path``, so the scripts
run as ``python benchmarks/<name>.py`` from a checkout and measure *that* checkout's rmcore.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import multiprocessing
import multiprocessing.context
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

__all__ = [
    "DASH",
    "REPO_ROOT",
    "Floor",
    "Row",
    "Stats",
    "X",
    "add_common_arguments",
    "bench_dirs",
    "clock",
    "fs_type",
    "init_record",
    "interleaved",
    "machine_info",
    "markdown_table",
    "mp_context",
    "print_report",
    "read_counter",
    "stats",
    "timing",
    "update_record",
    "us",
    "write_results",
]

clock = time.perf_counter_ns
X = "\N{MULTIPLICATION SIGN}"  # what ratios print with
DASH = "\N{EN DASH}"
DEFAULT_DIRS = "/dev/shm,/tmp"  # tmpfs and (here) ext4: the two file systems a store lives on


# -- the floor ----------------------------------------------------------------------------------


def floor_record() -> dict[str, Any]:
    """A ~600-byte JSON record shaped like a session with a few secondaries."""
    return {
        "key_hash": "5f" * 32,
        "owner": {"pid": 123456, "start": 133_987_654_321_000_000, "instance": 0},
        "sequence": 0,
        "generation": 9_876_543_210_123_456,
        "members": [
            {"pid": 200000 + i, "start": 133_987_654_321_000_000 + i, "instance": i, "handle": i}
            for i in range(5)
        ],
    }


def init_record(path: str) -> None:
    """Write the floor's record, its counter at 0."""
    with open(path, "w", encoding="ascii") as handle:
        json.dump(floor_record(), handle)


def update_record(path: str, tmp: str) -> None:
    """The floor's critical section: read (open/read/close), ``json.loads``, bump the
    counter, ``json.dumps``, write a temp file, ``os.replace`` it over the record."""
    fd = os.open(path, os.O_RDONLY)
    try:
        blob = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    record = json.loads(blob)
    record["sequence"] += 1
    data = json.dumps(record).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_counter(path: str) -> int:
    with open(path, "rb") as handle:
        return int(json.loads(handle.read())["sequence"])


class Floor:
    """One locked update of a ~600-byte JSON record, done as cheaply as Python can: a lock
    file descriptor kept open, ``flock``, :func:`update_record`, unlock. No fsync (nor does
    rmcore). Make one per process (it keeps a descriptor)."""

    def __init__(self, directory: str, *, create: bool = True) -> None:
        self.path = os.path.join(directory, "floor.json")
        self.tmp = f"{self.path}.{os.getpid()}.tmp"
        if create:
            init_record(self.path)
        self.lock_fd = os.open(os.path.join(directory, "floor.lock"), os.O_RDWR | os.O_CREAT, 0o600)

    def op(self) -> None:
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
        try:
            update_record(self.path, self.tmp)
        finally:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)

    def counter(self) -> int:
        return read_counter(self.path)

    def close(self) -> None:
        os.close(self.lock_fd)


# -- timing -------------------------------------------------------------------------------------


def interleaved(
    bodies: Mapping[str, Callable[[], int]],
    samples: int,
    *,
    rounds: int = 10,
    warmup: int = 10,
) -> dict[str, list[int]]:
    """*samples* samples of each body, round-robin in *rounds* blocks, so that drift on a
    noisy host hits every body alike. A body does one call and returns the ns it timed
    (so that what sets the call up or undoes it stays outside the timer)."""
    for body in bodies.values():
        for _ in range(warmup):
            body()
    out: dict[str, list[int]] = {name: [] for name in bodies}
    per_round = max(1, samples // rounds)
    for _ in range(rounds):
        for name, body in bodies.items():
            got = out[name]
            for _ in range(per_round):
                got.append(body())
    return out


def timing(call: Callable[[], object]) -> Callable[[], int]:
    """A body that times *call* as a whole."""

    def body() -> int:
        began = clock()
        call()
        return clock() - began

    return body


@dataclass(frozen=True)
class Stats:
    """Order statistics of a latency sample, in nanoseconds."""

    n: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @property
    def max_over_p50(self) -> float:
        return self.max / self.p50 if self.p50 else float("inf")


def _rank(ordered: Sequence[float], q: float) -> float:
    """Percentile *q* (0..100) by linear interpolation between closest ranks."""
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def stats(samples: Iterable[float]) -> Stats:
    ordered = sorted(samples)
    if not ordered:
        nan = float("nan")
        return Stats(0, nan, nan, nan, nan, nan)
    return Stats(
        len(ordered),
        _rank(ordered, 50),
        _rank(ordered, 90),
        _rank(ordered, 99),
        float(ordered[-1]),
        sum(ordered) / len(ordered),
    )


def us(ns: float) -> str:
    """Nanoseconds as microseconds, with a precision that suits the magnitude."""
    value = ns / 1000.0
    if value != value:  # NaN
        return "-"
    if value < 10:
        return f"{value:.2f}"
    if value < 1000:
        return f"{value:.1f}"
    return f"{value:,.0f}"


# -- results ------------------------------------------------------------------------------------


@dataclass
class Row:
    """One reported row: per file system, one measurement per repetition.

    A measurement is a dict with ``p50`` and ``p90`` (the compared metric: a ratio, or µs,
    or ms, per *unit*) plus whatever detail the script adds (``op_p50_us``, ...). *limit*
    and *lower* say what meeting the goal means (``p50 <= limit``, or ``>=``).
    """

    id: str
    op: str
    goal: str
    unit: str  # "x" (a ratio), "us", "ms", "+us" (µs more than a base), "n" (a count)
    limit: float | None = None
    lower: bool = True  # the goal is an upper bound
    fs: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    note: str = ""

    def add(self, fs_label: str, **measured: float) -> None:
        self.fs.setdefault(fs_label, []).append(measured)

    def median(self, fs_label: str, key: str = "p50") -> float:
        values = [m[key] for m in self.fs.get(fs_label, []) if key in m]
        return statistics.median(values) if values else float("nan")

    def met(self) -> bool | None:
        if self.limit is None or not self.fs:
            return None
        values = [self.median(label) for label in self.fs]
        if self.lower:
            return all(value <= self.limit for value in values)
        return all(value >= self.limit for value in values)


def fmt(value: float, unit: str) -> str:
    if value != value:
        return "-"
    if unit == "x":
        return f"{value:.2f}{X}"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "+us":
        return f"{value:+.0f} µs"
    if unit == "n":
        return f"{value:,.0f}"
    return f"{value:.1f} µs" if value < 100 else f"{value:,.0f} µs"


def cell(row: Row, fs_label: str, key: str = "p50") -> str:
    """The median over repetitions, with the range when there are several."""
    values = [m[key] for m in row.fs.get(fs_label, []) if key in m]
    if not values:
        return "-"
    middle = fmt(statistics.median(values), row.unit)
    if len(values) > 1 and key == "p50":
        low, high = fmt(min(values), row.unit), fmt(max(values), row.unit)
        return f"{middle} ({low.rstrip(X)}{DASH}{high})" if row.unit == "x" else middle
    return middle


def rows_table(rows: Sequence[Row], labels: Sequence[str]) -> str:
    """The script's own table: per file system, p50 (range over repetitions) and p90."""
    headers = ["op", "goal"]
    for label in labels:
        headers += [f"{label} p50", f"{label} p90"]
    headers.append("met")
    body = []
    for row in rows:
        cells = [row.op, row.goal]
        for label in labels:
            cells += [cell(row, label), cell(row, label, "p90")]
        met = row.met()
        cells.append("-" if met is None else ("yes" if met else "**no**"))
        body.append(cells)
    return markdown_table(headers, body)


def write_results(path: str | None, script: str, rows: Sequence[Row], extra: Any = None) -> None:
    if path is None:
        return
    payload = {"script": script, "rows": [asdict(row) for row in rows], "extra": extra}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1)


# -- arguments and directories ------------------------------------------------------------------


def print_report(
    title: str,
    dirs: Sequence[tuple[str, str]],
    note: str,
    rows: Sequence[Row],
    script: str,
    began: float,
    json_path: str | None,
) -> int:
    """A script's own table (title, machine, what a cell is, the rows), kept as JSON if asked."""
    print(f"# {title}\n")
    print(machine_info(dirs))
    print(f"\n{note}\n")
    print(rows_table(rows, [label for label, _ in dirs]))
    print(f"\n_{script} run time {time.monotonic() - began:.1f} s_")
    write_results(json_path, script, rows)
    return 0


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a short run (fewer samples, 1 rep)")
    parser.add_argument(
        "--dirs",
        default=DEFAULT_DIRS,
        help=f"comma-separated directories, one per file system (default {DEFAULT_DIRS})",
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3, quick 1)")
    parser.add_argument("--json", default=None, help="also write the results to this file")


def bench_dirs(spec: str) -> list[tuple[str, str]]:
    """``(label, directory)`` per usable directory of *spec*; the label is the file system
    type (``tmpfs``, ``ext4``, ...), made unique if two share one."""
    found: list[tuple[str, str]] = []
    for directory in (part.strip() for part in spec.split(",")):
        if not directory:
            continue
        if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
            print(f"skipping {directory}: not a writable directory", file=sys.stderr)
            continue
        label = fs_type(directory).split(" ")[0]
        if any(label == used for used, _ in found):
            label = f"{label}:{directory}"
        found.append((label, directory))
    return found


def scratch_dir(base: str | None, prefix: str) -> str:
    """A fresh private directory under *base* (default: the system temp dir)."""
    return tempfile.mkdtemp(prefix=prefix, dir=base)


def remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


# -- output -------------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; numeric-looking columns are right-aligned."""
    body = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))

    def numeric(col: int) -> bool:
        cells = [row[col] for row in body if row[col] not in ("", "-")]
        allowed = set(f"0123456789,.x{X}%+-{DASH}() µsm")
        return bool(cells) and all(c[0] in "0123456789+-" and set(c) <= allowed for c in cells)

    right = [numeric(i) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(widths[i]) if right[i] else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        ("-" * (w + 1) + ":") if right[i] else ("-" * (w + 2)) for i, w in enumerate(widths)
    )
    return "\n".join([line(list(headers)), rule + "|", *(line(r) for r in body)])


# -- environment --------------------------------------------------------------------------------


def fs_type(path: str) -> str:
    """The file system type of *path*, from /proc/mounts (else ``stat -f``)."""
    real = os.path.realpath(path)
    found, best = "", -1
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for entry in mounts:
                fields = entry.split()
                if len(fields) < 3:
                    continue
                mount_point = fields[1].replace("\\040", " ")
                inside = real == mount_point or real.startswith(mount_point.rstrip("/") + "/")
                if inside and len(mount_point) > best:
                    best, found = len(mount_point), fields[2]
    except OSError:
        pass
    if not found and shutil.which("stat"):
        result = subprocess.run(
            ["stat", "-f", "-c", "%T", path], capture_output=True, text=True, check=False
        )
        found = result.stdout.strip()
    return found or "unknown"


def machine_info(dirs: Sequence[tuple[str, str]]) -> str:
    """A Markdown table of the facts that explain the numbers."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "-"
    rows = [
        ("CPUs (os.cpu_count / usable)", f"{os.cpu_count()} / {affinity}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("OS", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("directories", ", ".join(f"{d} ({label})" for label, d in dirs)),
        ("load average (1/5/15 min)", load),
    ]
    return markdown_table(("item", "value"), rows)


def mp_context(name: str | None = None) -> multiprocessing.context.BaseContext:
    """The requested start method; default ``fork`` where it exists, else ``spawn``."""
    if name is None:
        name = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(name)


def child_env() -> dict[str, str]:
    """The environment for a child Python that must import this checkout's rmcore."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT) + (os.pathsep + path if path else "")}
