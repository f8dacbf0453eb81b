"""Helpers shared by the benchmark scripts: statistics, Markdown tables, machine facts.

Importing this module also puts the repository root on ``sys.path``, so the scripts run as
``python benchmarks/<name>.py`` from a checkout without installing rmcore.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

__all__ = [
    "PAYLOAD_SIZE",
    "REPO_ROOT",
    "Stats",
    "critical_section",
    "fs_type",
    "init_data_file",
    "machine_info",
    "markdown_table",
    "mp_context",
    "read_counter",
    "scratch_dir",
    "stats",
    "us",
]


PAYLOAD_SIZE = 200  # bytes: about the size of one session key file


# -- the floor: what one locked store update costs at least -------------------------------------


def critical_section(data_path: str, tmp_path: str) -> None:
    """Read the ~200-byte file, increment its counter, replace it atomically (temp + rename,
    no fsync: what rmcore's store does for one key)."""
    with open(data_path, "rb") as handle:
        blob = handle.read()
    new = b"%020d" % (int(blob[:20]) + 1)
    new += b"." * (PAYLOAD_SIZE - len(new))
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, new)
    finally:
        os.close(fd)
    os.replace(tmp_path, data_path)


def init_data_file(data_path: str) -> None:
    with open(data_path, "wb") as handle:
        handle.write(b"%020d" % 0 + b"." * (PAYLOAD_SIZE - 20))


def read_counter(data_path: str) -> int:
    with open(data_path, "rb") as handle:
        return int(handle.read(20))


# -- statistics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """Order statistics of a latency sample, in nanoseconds."""

    n: int
    p50: float
    p99: float
    max: float
    mean: float

    @property
    def max_over_p50(self) -> float:
        return self.max / self.p50 if self.p50 else float("inf")


def _rank(ordered: Sequence[int], q: float) -> float:
    """Percentile *q* (0..100) by linear interpolation between closest ranks."""
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def stats(samples: Iterable[int]) -> Stats:
    ordered = sorted(samples)
    if not ordered:
        nan = float("nan")
        return Stats(0, nan, nan, nan, nan)
    return Stats(
        n=len(ordered),
        p50=_rank(ordered, 50),
        p99=_rank(ordered, 99),
        max=float(ordered[-1]),
        mean=sum(ordered) / len(ordered),
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


# -- output -----------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; numeric-looking columns are right-aligned."""
    body = [[str(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def numeric(col: int) -> bool:
        cells = [row[col] for row in body if row[col] not in ("", "-")]
        return bool(cells) and all(
            c.replace(",", "").replace(".", "").replace("x", "").replace("%", "").isdigit()
            for c in cells
        )

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


# -- environment ------------------------------------------------------------------------------


def fs_type(path: str) -> str:
    """The file system type of *path*: the /proc/mounts entry, else ``stat -f``."""
    found = ""
    real = os.path.realpath(path)
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            best = -1
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
    stat_tool = shutil.which("stat")
    if stat_tool is not None:
        result = subprocess.run(
            [stat_tool, "-f", "-c", "%T", path], capture_output=True, text=True, check=False
        )
        reported = result.stdout.strip()
        if reported and reported != found:
            found = f"{found} (stat -f: {reported})" if found else reported
    return found or "unknown"


def _version(module: str) -> str:
    try:
        imported = __import__(module)
    except ImportError:
        return "not installed"
    return str(getattr(imported, "__version__", "?"))


def machine_info(directory: str, start_method: str) -> str:
    """A Markdown table of the facts that explain the numbers."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "-"
    rows = [
        ("CPUs (os.cpu_count / usable)", f"{os.cpu_count()} / {affinity}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("OS", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("bench directory", directory),
        ("file system", fs_type(directory)),
        ("load average (1/5/15 min)", load),
        ("multiprocessing start method", start_method),
        ("portalocker / filelock", f"{_version('portalocker')} / {_version('filelock')}"),
    ]
    return markdown_table(("item", "value"), rows)


def mp_context(name: str | None) -> multiprocessing.context.BaseContext:
    """The requested start method; default ``fork`` where it exists, else ``spawn``."""
    if name is None:
        name = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(name)


def scratch_dir(base: str | None, prefix: str) -> str:
    """A fresh private directory under *base* (default: the system temp dir)."""
    return tempfile.mkdtemp(prefix=prefix, dir=base)
