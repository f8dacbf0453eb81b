"""Run every benchmark and print the one combined table (the README's "Performance" table).

Run ``python benchmarks/report.py`` (under 3 minutes) or ``--quick`` (about 20 s). Each
script runs in a child process on the same directories (default ``/dev/shm`` and
``/tmp``); their own tables go to stderr, the combined table to stdout.

``--save FILE`` keeps the results as JSON; ``--before FILE`` adds the p50 of an earlier
saved run (for instance of the code before a change) beside each row.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import _common
from _common import Row, cell, markdown_table

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = ("bench_ops.py", "bench_contention.py", "bench_pytest.py")


def run_script(script: str, args: argparse.Namespace) -> list[Row]:
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "results.json")
        command = [sys.executable, os.path.join(HERE, script), "--dirs", args.dirs, "--json", out]
        if args.quick:
            command.append("--quick")
        if args.reps:
            command += ["--reps", str(args.reps)]
        print(f"## {script}\n", file=sys.stderr, flush=True)
        subprocess.run(command, check=True, stdout=sys.stderr)
        with open(out, encoding="utf-8") as handle:
            payload = json.load(handle)
    return [Row(**row) for row in payload["rows"]]


def load(path: str) -> dict[str, Row]:
    with open(path, encoding="utf-8") as handle:
        return {row["id"]: Row(**row) for row in json.load(handle)["rows"]}


def combined(rows: list[Row], labels: list[str], before: dict[str, Row] | None) -> str:
    headers = ["op", "goal"]
    for label in labels:
        if before is not None:
            headers.append(f"{label} p50 before")
        headers += [f"{label} p50", f"{label} p90"]
    headers.append("met")
    body: list[list[str]] = []
    for row in rows:
        cells = [row.op, row.goal]
        for label in labels:
            if before is not None:
                old = before.get(row.id)
                cells.append(cell(old, label).split(" (")[0] if old is not None else "-")
            cells += [cell(row, label), cell(row, label, "p90")]
        met = row.met()
        cells.append("-" if met is None else ("yes" if met else "**no**"))
        body.append(cells)
    return markdown_table(headers, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    _common.add_common_arguments(parser)
    parser.add_argument("--save", default=None, help="write all results to this JSON file")
    parser.add_argument("--before", default=None, help="a file --save wrote, to compare with")
    parser.add_argument("--no-locks", action="store_true", help="skip bench_locks.py")
    parser.add_argument("--load", default=None, help="print a run --save kept (run nothing)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    rows: list[Row] = []
    if args.load:
        rows = list(load(args.load).values())
    else:
        for script in SCRIPTS:
            rows += run_script(script, args)
    locks = ""
    if not args.no_locks and not args.load:
        print("## bench_locks.py\n", file=sys.stderr, flush=True)
        lock_dir = _common.bench_dirs(args.dirs)[-1][1]
        locks = subprocess.run(
            [sys.executable, os.path.join(HERE, "bench_locks.py"), "--quick", "--dir", lock_dir],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    labels: list[str] = []
    for row in rows:
        labels += [label for label in row.fs if label not in labels]
    before = load(args.before) if args.before else None
    dirs = _common.bench_dirs(args.dirs)
    print("# rmcore performance, as ratios to the floor measured in the same run\n")
    print(_common.machine_info(dirs))
    reps = args.reps or (1 if args.quick else 3)
    print(
        f"\n{reps} repetition(s) per file system; a cell is the median of the repetitions "
        "(p50: with their range); 'met' judges the p50 medians of every file system.\n"
    )
    print(combined(rows, labels, before))
    if locks:
        print("\n" + locks[locks.index("\n## ") :].strip())
    print(f"\n_report run time {time.monotonic() - began:.0f} s_")
    if args.save:
        payload: dict[str, Any] = {"rows": [row.__dict__ for row in rows]}
        with open(args.save, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
