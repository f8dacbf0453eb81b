"""The ``rmcore`` command: ``demo``, ``sessions``, ``reap`` and ``who``.

Exit codes: 0 success; 1 the operation failed (the Win32 code is printed); 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import winerror
from ._errors import RmError
from .registry_store import RegistryStore, StoreError
from .session._fidelity import DEFAULT_MUTEX_TIMEOUT
from .session._table import SessionInfo, SessionTable

__all__ = ["main"]


def _table(store: str | None, mutex_timeout: float) -> SessionTable:
    return SessionTable(RegistryStore(store), max_sessions=64, mutex_timeout=mutex_timeout)


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
    }


def _cmd_sessions(args: argparse.Namespace) -> int:
    table = _table(args.store, args.mutex_timeout)
    infos = table.sessions()
    if args.json:
        print(
            json.dumps({"store": table.store.path, "sessions": [_session_json(i) for i in infos]})
        )
        return 0
    print(f"store: {table.store.path}")
    if not infos:
        print("no sessions")
        return 0
    print(f"{'SESSION':<12} {'OWNER PID':>9} {'STATE':<9} {'SECONDARIES':>11} {'SEQUENCE':>8}")
    for info in infos:
        state = "alive" if info.alive else "abandoned"
        print(
            f"{info.name:<12} {info.owner.os_process.pid:>9} {state:<9} "
            f"{info.secondaries:>11} {info.sequence:>8}"
        )
    return 0


def _cmd_reap(args: argparse.Namespace) -> int:
    table = _table(args.store, args.mutex_timeout)
    reaped = table.reap()
    if args.json:
        print(json.dumps({"store": table.store.path, "reaped": reaped}))
    else:
        print(f"reaped {len(reaped)} abandoned session(s)" + (": " if reaped else ""), end="")
        print(", ".join(reaped))
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rmcore", description="Windows Restart Manager session semantics, on any OS."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="walk through a primary and a secondary installer and the failure modes"
    )
    demo.add_argument("--store", help="store directory (default: a fresh temporary one)")
    demo.set_defaults(run=_cmd_demo)
    for name, run, text in (
        ("sessions", _cmd_sessions, "list the sessions of a store"),
        ("reap", _cmd_reap, "remove abandoned sessions (their owner process is gone)"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--store", help="store directory (default: $RMCORE_STORE or per-user)")
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument(
            "--mutex-timeout", type=float, default=DEFAULT_MUTEX_TIMEOUT, help=argparse.SUPPRESS
        )
        sub.set_defaults(run=run)
    who = commands.add_parser("who", help="list the processes of this machine using the files")
    who.add_argument("paths", nargs="+", metavar="PATH", help="files to look for")
    who.add_argument("--json", action="store_true", help="print JSON")
    who.set_defaults(run=_cmd_who)
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
