"""Reading the whole table for people (listing, the Windows-shaped view, problems) and
reaping what dead processes left. One unreadable entry never fails the rest."""

from __future__ import annotations

from collections.abc import Iterable

from ..registry_store import Problem, RegType, RegValue, Store, StoreError
from . import _fidelity
from ._hive import RESTART_MANAGER_KEY, render_session
from ._identity import ProcessIdentity, SimulatedProcess
from ._liveness import pid_gone
from ._records import (
    Call,
    Header,
    call_generation,
    decode_call,
    read_members,
    unpack_procs,
    with_members,
)
from ._snapshot import (
    EXITED,
    RESOURCES_KEY,
    TABLE_KEY,
    Snapshot,
    commit,
    drop_log,
    log_path,
    session_number,
)
from ._types import Resources, SessionInfo

__all__ = ["calls", "calls_in", "hive", "problems", "reap", "sessions"]


def calls(store: Store, name: str, header: Header) -> list[Call]:
    """The session's registration calls, in order: records of another generation (left by
    an earlier session with this number) and malformed ones are skipped."""
    return calls_in(store.read_records(log_path(name)), header.generation)


def calls_in(records: Iterable[bytes], generation: int) -> list[Call]:
    """The calls among *records* that belong to the session of *generation*."""
    found = []
    for record in records:
        if call_generation(record) == generation:
            call = decode_call(record)
            if call is not None:
                found.append(call)
    return found


def _readable(store: Store) -> Snapshot:
    """The table, or an empty one if it cannot be read (``problems`` reports why)."""
    try:
        return Snapshot.read(store)
    except StoreError:
        return Snapshot(None)


def _calls_or_none(store: Store, name: str, header: Header) -> list[Call]:
    try:
        return calls(store, name, header)
    except StoreError:
        return []


def sessions(store: Store) -> list[SessionInfo]:
    table = _readable(store)
    infos = []
    for _number, name in table.numbered():
        header = table.header(name)
        if header is None:
            continue
        members = read_members(table.data(name) or b"", header)
        registered = _calls_or_none(store, name, header)
        owner = SimulatedProcess(ProcessIdentity(header.pid, header.start), header.instance)
        infos.append(
            SessionInfo(
                name,
                owner,
                table.alive(header.owner),
                sum(table.alive(member[:3]) for member in members),
                _fidelity.SEQUENCE_AT_START + len(registered),
                len(Resources.from_calls(registered).files),
            )
        )
    return infos


def hive(store: Store) -> dict[str, dict[str, RegValue]]:
    table = _readable(store)
    view = {}
    for _number, name in table.numbered():
        header = table.header(name)
        if header is not None:
            view[f"{RESTART_MANAGER_KEY}\\{name}"] = render_session(
                header, _calls_or_none(store, name, header)
            )
    return view


def problems(store: Store) -> list[Problem]:
    """The store's own problem scan, plus junk values in the table and foreign logs."""
    found = store.scan()
    try:
        table = Snapshot.read(store)
        logs = store.logs(RESOURCES_KEY)
    except StoreError:
        return found  # the scan names the entry that cannot be read
    for name, value in table.values.items():
        where = f"{TABLE_KEY}\\{name}"
        if name == EXITED:
            if value.type is not RegType.REG_BINARY or unpack_procs(value.data) is None:
                found.append(Problem(where, "malformed exit markers (ignored)"))
        elif session_number(name) is None:
            found.append(Problem(where, "foreign value (left alone)"))
        elif table.header(name) is None:
            found.append(Problem(where, "unreadable session record (reclaimed by start or reap)"))
    for name in logs:
        if session_number(name) is None:
            found.append(Problem(f"{RESOURCES_KEY}\\{name}", "foreign log (left alone)"))
    return found


def reap(store: Store) -> tuple[list[str], list[str]]:
    """Under the mutex: the sessions removed and the files (logs, temp files) removed."""
    removed: list[str] = []
    files: list[str] = []
    try:
        table: Snapshot | None = Snapshot.read(store)
    except StoreError:
        table = None  # unreadable: which logs belong to no session cannot be known
    if table is not None:
        changes: dict[str, bytes | None] = {}
        for _number, name in table.numbered():
            header = table.header(name)
            if header is None or not table.alive(header.owner):
                changes[name] = None
                removed.append(name)
                continue
            members = read_members(table.data(name) or b"", header)
            live = [member for member in members if table.alive(member[:3])]
            if len(live) != len(members):  # secondaries that died without leaving
                changes[name] = with_members(header, live)
        if changes or EXITED in table.values:
            table = commit(store, table, changes, exited=table.exited())
        for name in store.logs(RESOURCES_KEY):
            orphan = session_number(name) is not None and name not in table.values
            if orphan and drop_log(store, name):
                files.append(log_path(name))
    files.extend(store.remove_stray_temp_files(pid_gone))
    return removed, files
