"""What the pytest plugin costs: per test that uses ``rm``, and at pytest start.

Run ``python benchmarks/bench_pytest.py`` (about 30 s) or ``--quick`` (a few seconds).

* **Fixture**: one pytest run (in a child process) of a generated file that alternates a
  test using no fixture with a test taking ``rm`` (memory store, the default); a
  ``conftest.py`` times every test's whole protocol (setup, call, teardown, report). The
  row is p50 (and p90) of the ``rm`` tests minus that of the bare tests, in µs.
* **Start**: wall time of ``python -m pytest`` on one trivial test, with the plugin and
  with ``-p no:rmcore``, alternated; the row is the ratio of their medians. Other
  installed plugins (Hypothesis's takes ~0.5 s here) dilute that ratio, so it is also
  measured with plugin autoloading off: bare pytest against ``-p rmcore.testing.plugin``.

The generated files live in the benchmark directory (default ``/dev/shm`` and ``/tmp``),
the child Pythons import this checkout's rmcore.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import _common
from _common import Row, stats

CONFTEST = """
import json, os, time
import pytest

_times = {"none": [], "rm": []}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    began = time.perf_counter_ns()
    yield
    _times["rm" if item.name.startswith("test_rm_") else "none"].append(
        time.perf_counter_ns() - began
    )


def pytest_sessionfinish(session):
    with open(os.environ["RMCORE_BENCH_OUT"], "w") as out:
        json.dump(_times, out)
"""

TEST_PAIR = """
def test_none_{i}():
    pass


def test_rm_{i}(rm):
    pass
"""

TRIVIAL = """
def test_trivial():
    assert True
"""

PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts="]


def fixture_cost(directory: str, pairs: int) -> tuple[float, float]:
    """(p50, p90) extra µs of a test taking ``rm`` over a bare one."""
    tests = os.path.join(directory, "fixture")
    os.makedirs(tests, exist_ok=True)
    with open(os.path.join(tests, "conftest.py"), "w", encoding="utf-8") as handle:
        handle.write(CONFTEST)
    with open(os.path.join(tests, "test_pairs.py"), "w", encoding="utf-8") as handle:
        handle.write("".join(TEST_PAIR.format(i=i) for i in range(pairs)))
    out = os.path.join(directory, "times.json")
    env = {**_common.child_env(), "RMCORE_BENCH_OUT": out}
    result = subprocess.run(
        [*PYTEST, "-p", "no:xdist", "--rootdir", tests, tests],
        env=env,
        cwd=tests,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pytest failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    with open(out, encoding="utf-8") as handle:
        times = json.load(handle)
    warm = pairs // 10  # the first tests import rmcore's modules
    bare, used = stats(times["none"][warm:]), stats(times["rm"][warm:])
    return (used.p50 - bare.p50) / 1e3, (used.p90 - bare.p90) / 1e3


def start_cost(directory: str, runs: int, *, bare: bool) -> tuple[float, float, float]:
    """(ratio of medians, median s with the plugin, median s without). *bare*: no plugin
    autoloaded, the plugin named with ``-p`` (pytest alone against pytest + rmcore), else
    every installed plugin against every one but rmcore (``-p no:rmcore``)."""
    tests = os.path.join(directory, "start")
    os.makedirs(tests, exist_ok=True)
    with open(os.path.join(tests, "test_trivial.py"), "w", encoding="utf-8") as handle:
        handle.write(TRIVIAL)
    env = _common.child_env()
    if bare:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        variants = {"with": ["-p", "rmcore.testing.plugin"], "without": []}
    else:
        variants = {"with": [], "without": ["-p", "no:rmcore"]}
    walls: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(runs):
        for name, extra in variants.items():
            began = time.perf_counter()
            result = subprocess.run(
                [*PYTEST, *extra, "--rootdir", tests, tests],
                env=env,
                cwd=tests,
                capture_output=True,
                text=True,
                check=False,
            )
            walls[name].append(time.perf_counter() - began)
            if result.returncode != 0:
                raise RuntimeError(f"pytest failed:\n{result.stdout[-2000:]}")
    with_plugin, without = stats(walls["with"]).p50, stats(walls["without"]).p50
    return with_plugin / without, with_plugin, without


def make_rows() -> dict[str, Row]:
    rows = [
        Row(
            "fixture",
            "`rm` fixture over a test using none (memory store)",
            "≤ +100 µs",
            "+us",
            100.0,
        ),
        Row("pytest_start", "pytest start: with the plugin / `-p no:rmcore`", "in the noise", "x"),
        Row("pytest_start_ms", "pytest start with every installed plugin (wall)", "-", "ms"),
        Row(
            "pytest_start_bare",
            "pytest start, autoload off: `-p rmcore.testing.plugin` / none",
            "in the noise",
            "x",
        ),
        Row("pytest_start_bare_ms", "pytest start, autoload off, no plugin (wall)", "-", "ms"),
    ]
    return {row.id: row for row in rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    _common.add_common_arguments(parser)
    args = parser.parse_args(argv)
    reps = args.reps or (1 if args.quick else 3)
    pairs, runs = (300, 2) if args.quick else (1000, 2)
    dirs = _common.bench_dirs(args.dirs)
    rows = make_rows()
    began = time.monotonic()
    for label, base in dirs:
        directory = _common.scratch_dir(base, "rmcore-bench-pytest-")
        try:
            for _rep in range(reps):
                p50, p90 = fixture_cost(directory, pairs)
                rows["fixture"].add(label, p50=p50, p90=p90)
                ratio, with_plugin, _without = start_cost(directory, runs, bare=False)
                rows["pytest_start"].add(label, p50=ratio)
                rows["pytest_start_ms"].add(label, p50=with_plugin * 1e3)
                ratio, _with_plugin, without = start_cost(directory, runs * 2, bare=True)
                rows["pytest_start_bare"].add(label, p50=ratio)
                rows["pytest_start_bare_ms"].add(label, p50=without * 1e3)
        finally:
            _common.remove(directory)
    return _common.print_report(
        "The pytest plugin's cost",
        dirs,
        (
            f"{reps} repetition(s): {pairs} test pairs per fixture run, {runs} starts of each "
            "kind per start run; p50 is the median of the repetitions."
        ),
        list(rows.values()),
        "bench_pytest",
        began,
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
