"""What the ``rm`` fixture costs per test, against a floor measured in the same run.

The fixture makes a fresh temporary store and a Simulator on it (a private store is never
opened again, so teardown records nothing). The floor is what pytest's own ``tmp_path``
costs: one fresh temporary directory. Run ``python benchmarks/bench_fixture.py``
(``--quick`` for a short run).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import _common
from _common import machine_info, markdown_table, stats

import rmcore


def _floor(base: str) -> None:
    tempfile.mkdtemp(dir=base)


def _fixture(base: str) -> None:
    rmcore.Simulator(tempfile.mkdtemp(dir=base))


def _fixture_with_a_session(base: str) -> None:
    sim = rmcore.Simulator(tempfile.mkdtemp(dir=base))
    with rmcore.Session.start(sim):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, per_round = (5, 100) if args.quick else (10, 300)
    base = tempfile.mkdtemp(prefix="rmcore-bench-fixture-")
    samples: dict[str, list[int]] = {"floor": [], "rm fixture": [], "rm fixture + 1 session": []}
    bodies = {
        "floor": _floor,
        "rm fixture": _fixture,
        "rm fixture + 1 session": _fixture_with_a_session,
    }
    try:
        for _ in range(rounds):  # interleaved, so machine noise hits every variant alike
            for name, body in bodies.items():
                for _ in range(per_round):
                    began = time.perf_counter_ns()
                    body(base)
                    samples[name].append(time.perf_counter_ns() - began)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    floor_p50 = stats(samples["floor"]).p50
    print("# Fixture setup cost\n")
    print(machine_info(base, "-"))
    rows = []
    for name, values in samples.items():
        summary = stats(values)
        rows.append(
            [
                name,
                str(summary.n),
                f"{summary.p50 / 1000:.1f}",
                f"{summary.p99 / 1000:.1f}",
                f"{summary.p50 / floor_p50:.2f}x",
                f"{1e9 / summary.p50:,.0f}",
            ]
        )
    print()
    print(
        markdown_table(
            ["setup + teardown", "n", "p50 µs", "p99 µs", "vs floor", "per second"], rows
        )
    )


if __name__ == "__main__":
    assert _common.REPO_ROOT
    main()
