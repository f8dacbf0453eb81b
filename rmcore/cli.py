"""The ``rmcore`` command: ``demo``, ``sessions``, ``reap``, ``who`` and ``replay``.

Exit codes: 0 success; 1 the operation failed (the Win32 code is printed); 2 bad usage.
``replay``: 0 rmcore agrees with every recorded call; 1 divergences (printed); 2 the trace
cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from . import __version__, winerror
from ._errors import RmError
from .registry_store import DiskStore, Problem, StoreError, open_store
from .session import ReapResult, SessionInfo, SessionTable
from .session._fidelity import DEFAULT_MUTEX_TIMEOUT

__all__ = ["main"]


def _store_path(text: str) -> str:
    """``--store``: a path the shell user typed, made absolute here (the store layer refuses
    relative ones); ``:memory:`` would vanish with this process, so it is refused too."""
    if not text or text == ":memory:":
        raise argparse.ArgumentTypeError(f"need a store directory, not {text!r}")
    return os.path.abspath(text)


def _table(args: argparse.Namespace, *, create: bool) -> SessionTable:
    try:
        store = open_store(args.store, create=create)
    except ValueError as exc:  # e.g. a relative $RMCORE_STORE: a usage error, like --store
        print(f"rmcore {args.command}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return SessionTable(store, max_sessions=64, mutex_timeout=args.mutex_timeout)


def _session_json(info: SessionInfo) -> dict[str, object]:
    return {
        "name": info.name,
        "number": info.number,
        "owner_pid": info.owner.os_process.pid,
        "owner_start_time": info.owner.os_process.start_time,
        "owner_instance": info.owner.instance,
        "alive": info.alive,
        "secondaries": info.secondaries,
        "sequence": info.sequence,
        "files": info.files,
    }


def _problems_json(problems: list[Problem]) -> list[dict[str, str]]:
    return [{"path": problem.path, "reason": problem.reason} for problem in problems]


def _print_problems(problems: list[Problem]) -> None:
    if problems:
        print(f"problems ({len(problems)}, left alone):")
        for problem in problems:
            print(f"  {problem.path}: {problem.reason}")


def _cmd_sessions(args: argparse.Namespace) -> int:
    table = _table(args, create=False)  # read-only: creates, chmods and locks nothing
    infos, problems = table.sessions(), table.problems()
    where = table.store.describe()
    if args.json:
        listing: dict[str, object] = {
            "store": where,
            "sessions": [_session_json(i) for i in infos],
            "problems": _problems_json(problems),
        }
        if args.hive:
            listing["hive"] = {
                key: {name: [value.type.name, value.display()] for name, value in values.items()}
                for key, values in table.hive().items()
            }
        print(json.dumps(listing))
        return 0
    print(f"store: {where}")
    if args.hive:
        _print_hive(table)
    elif not infos:
        print("no sessions")
    else:
        print(
            f"{'SESSION':<12} {'OWNER PID':>9} {'STATE':<9} {'SECONDARIES':>11} "
            f"{'SEQUENCE':>8} {'FILES':>5}"
        )
        for info in infos:
            state = "alive" if info.alive else "abandoned"
            print(
                f"{info.name:<12} {info.owner.os_process.pid:>9} {state:<9} "
                f"{info.secondaries:>11} {info.sequence:>8} {info.files:>5}"
            )
    _print_problems(problems)
    return 0


def _print_hive(table: SessionTable) -> None:
    """The sessions as regedit would show HKCU\\Software\\Microsoft\\RestartManager."""
    view = table.hive()
    if not view:
        print("no sessions")
    for key, values in view.items():
        print(key)
        for name, value in values.items():
            print(f"  {name:<14} {value.type.name:<13} {value.display()}")


def _cmd_reap(args: argparse.Namespace) -> int:
    existing = _table(args, create=False).store  # checks the location, creates nothing
    where = existing.describe()
    exists = not isinstance(existing, DiskStore) or existing.exists
    # No store there (or an empty directory): nothing to reap, and no store is made for it.
    result = _table(args, create=True).reap() if exists else ReapResult([], [], [])
    if args.json:
        reaped = {"reaped": list(result), "files": result.files}
        problems = _problems_json(result.problems)
        print(json.dumps({"store": where, **reaped, "problems": problems}))
        return 0
    print(f"reaped {len(result)} abandoned session(s)" + (": " if result else ""), end="")
    print(", ".join(result))
    if result.files:
        print(f"removed {len(result.files)} leftover file(s): {', '.join(result.files)}")
    _print_problems(result.problems)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(args.store)


def _cmd_who(args: argparse.Namespace) -> int:
    try:
        from ._who import who

        entries = who(args.paths)
    except ImportError as exc:
        print(f"rmcore who: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([entry.as_json() for entry in entries]))
        return 0
    if not entries:
        print("no process uses these files")
        return 0
    print(f"{'PID':>7}  {'START':<25}  {'NAME':<16}  EXE")
    for entry in entries:
        started = entry.started.astimezone().isoformat(timespec="seconds")
        print(f"{entry.pid:>7}  {started:<25}  {entry.name:<16}  {entry.exe}")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from .testing.replay import TraceError, load_trace, replay

    try:
        report = replay(load_trace(args.trace))
    except TraceError as exc:
        print(f"rmcore replay: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_json()) if args.json else report)
    return 0 if report.ok else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rmcore", description="Windows Restart Manager session semantics, on any OS."
    )
    parser.add_argument("--version", action="version", version=f"rmcore {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="walk through a primary and a secondary installer and the failure modes"
    )
    demo.add_argument("--store", help="store directory (default: a fresh temporary one)")
    demo.set_defaults(run=_cmd_demo)
    for name, run, text in (
        ("sessions", _cmd_sessions, "list the sessions of a store (read-only)"),
        ("reap", _cmd_reap, "remove what dead processes left: abandoned sessions, temp files"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument(
            "--store",
            type=_store_path,
            help="store directory (default: $RMCORE_STORE or per-user)",
        )
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument(
            "--mutex-timeout", type=float, default=DEFAULT_MUTEX_TIMEOUT, help=argparse.SUPPRESS
        )
        sub.set_defaults(run=run, hive=False)
    commands.choices["sessions"].add_argument(
        "--hive",
        action="store_true",
        help="show HKCU\\Software\\Microsoft\\RestartManager as Windows would hold it",
    )
    who = commands.add_parser("who", help="list the processes of this machine using the files")
    who.add_argument("paths", nargs="+", metavar="PATH", help="files to look for")
    who.add_argument("--json", action="store_true", help="print JSON")
    who.set_defaults(run=_cmd_who)
    replay = commands.add_parser(
        "replay", help="replay a trace of real rstrtmgr.dll calls against the simulator"
    )
    replay.add_argument("trace", metavar="TRACE", help="a trace file (RMCORE_TRACE's output)")
    replay.add_argument("--json", action="store_true", help="print the report as JSON")
    replay.set_defaults(run=_cmd_replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except RmError as exc:
        print(f"rmcore {args.command}: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(
            f"rmcore {args.command}: {winerror.describe(winerror.ERROR_WRITE_FAULT)} ({exc})",
            file=sys.stderr,
        )
        return 1
    return code
