"""The Restart Manager session table: start, join, end, register, resources.

Each operation takes the registry write mutex, reads the table key once, changes at most
one session record, writes the key back in one atomic replace, and lets go (End then
unlinks the session's log; Register appends one record to it instead of writing the
table). No directory listing, no link, no marker file on these paths, and join and leave
cost the same however many files are registered. Layout: :mod:`._snapshot`,
:mod:`._records`; the Windows-shaped view: :meth:`SessionTable.hive`. Errors surface as
:class:`~rmcore.RmError` subclasses carrying the Win32 code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .. import winerror
from .._errors import RmError
from ..registry_store import Problem, RegValue, Store
from . import _fidelity, _maintenance
from ._hive import RESTART_MANAGER_KEY
from ._identity import SimulatedProcess
from ._keys import hash_key, key_to_bytes, new_key
from ._records import Proc, encode_call, new_record, read_members, with_member, with_members
from ._snapshot import (
    TABLE_KEY,
    Snapshot,
    commit,
    drop_log,
    gone,
    locked,
    log_path,
    session_name,
)
from ._types import ReapResult, Registered, Resources, SessionInfo, SessionRef

__all__ = [
    "RESTART_MANAGER_KEY",
    "Resources",
    "SessionInfo",
    "SessionRef",
    "SessionTable",
    "key_to_bytes",
]

_T = TypeVar("_T")


_SEEN_SESSIONS = 16


class _Seen:
    """What one session's log registered, as far as it was read (see _registered)."""

    __slots__ = ("count", "first", "found", "generation", "last")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.count = 0  # records taken
        self.first = self.last = b""  # the first and last of them (the very objects)
        self.found = Registered()


def _proc(process: SimulatedProcess) -> Proc:
    return process.os_process.pid, process.os_process.start_time, process.instance


class SessionTable:
    """Start, join, end, list and reap the sessions of one store."""

    def __init__(self, store: Store, *, max_sessions: int, mutex_timeout: float) -> None:
        self.store = store
        self.max_sessions = max_sessions
        self.mutex_timeout = mutex_timeout
        # Called after each committed change, with the Rm* function's name (crash faults).
        self.on_write: Callable[[str], None] = lambda function: None
        self._seen: dict[str, _Seen] = {}  # per session: what its log registered so far

    def _locked(self, body: Callable[[], _T]) -> _T:
        return locked(self.store, self.mutex_timeout, body)

    # -- the operations ------------------------------------------------------------------

    def start(self, owner: SimulatedProcess) -> tuple[SessionRef, bytes]:
        """Create a session owned by *owner*; return the primary's reference and the key.

        The session gets the lowest number that is free or abandoned (observed: Windows
        "reuses the first abandoned session key it finds"); an abandoned one is overwritten
        and its log dropped. Only started sessions count toward ``max_sessions``.
        """
        key_bytes, generation = new_key()
        key_hash = hash_key(key_bytes)
        record = new_record(key_hash, _proc(owner), generation)

        def body() -> SessionRef:
            table = Snapshot.read(self.store)
            name, abandoned = self._free_slot(table)
            commit(self.store, table, {name: record})
            if abandoned:
                drop_log(self.store, name)
            self.on_write("RmStartSession")
            return SessionRef(name, key_hash, primary=True)

        return self._locked(body), key_bytes

    def _free_slot(self, table: Snapshot) -> tuple[str, bool]:
        """The lowest free or abandoned session name (and whether it is abandoned), or 353.

        Owners are checked only below that number; the sessions above it only when the
        limit could be reached, to count the live ones.
        """
        number = 0
        while True:
            name = session_name(number)
            if name not in table.values:
                abandoned = False
                break
            owner = table.owner(name)
            if owner is None or not table.alive(owner):  # junk is reclaimable too
                abandoned = True
                break
            number += 1
        present = table.numbered()
        if len(present) - abandoned >= self.max_sessions:
            live = number  # every session below the slot is live
            for above, other in present:
                owner = table.owner(other) if above > number else None
                live += owner is not None and table.alive(owner)
            if live >= self.max_sessions:
                reason = f"{live} sessions are live, the limit is {self.max_sessions}"
                raise RmError.from_code(winerror.ERROR_MAX_SESSIONS_REACHED, reason=reason)
        return name, abandoned

    def join(self, key_bytes: bytes, member: SimulatedProcess, handle: int) -> SessionRef:
        """Add *member* (with its new *handle*) as a secondary of the session the key names."""
        key_hash = hash_key(key_bytes)
        me = _proc(member)

        def body() -> SessionRef:
            table = Snapshot.read(self.store)
            found = table.find(key_hash)
            if found is None:
                reason = "no session has this key"
                raise RmError.from_code(winerror.ERROR_SESSION_CREDENTIAL_CONFLICT, reason=reason)
            name, header = found
            if not table.alive(header.owner):
                reason = "the session's owner is gone: it is abandoned"
                raise RmError.from_code(_fidelity.JOIN_ABANDONED_SESSION_RESULT, reason=reason)
            if not _fidelity.SAME_PROCESS_MAY_JOIN and header.owner == me:
                reason = "a process may not join the session it started"
                raise RmError.from_code(winerror.ERROR_SESSION_CREDENTIAL_CONFLICT, reason=reason)
            data = table.data(name) or b""
            commit(self.store, table, {name: with_member(data, header, (*me, handle))})
            self.on_write("RmJoinSession")
            return SessionRef(name, key_hash, primary=False)

        return self._locked(body)

    def end(self, ref: SessionRef, member: SimulatedProcess, handle: int) -> None:
        """The primary ends the session (its key and log go); a secondary only leaves it."""

        def body() -> None:
            table = Snapshot.read(self.store)
            header = table.session(ref.name, ref.key_hash)
            if header is None:
                raise gone(_fidelity.STALE_SECONDARY_HANDLE_RESULT)
            if ref.primary:
                commit(self.store, table, {ref.name: None})
                drop_log(self.store, ref.name)
            else:
                mine = (*_proc(member), handle)
                members = read_members(table.data(ref.name) or b"", header)
                if mine not in members:
                    return
                members.remove(mine)
                commit(self.store, table, {ref.name: with_members(header, members)})
            self.on_write("RmEndSession")

        self._locked(body)

    def register(self, ref: SessionRef, new: Resources) -> None:
        """Append what one RmRegisterResources call registered, as given, to the log."""

        def body() -> None:
            table = Snapshot.read(self.store)
            header = table.session(ref.name, ref.key_hash)
            if header is None:
                raise gone(winerror.ERROR_INVALID_HANDLE)
            if new:
                call = encode_call(header.generation, new.files, new.processes, new.services)
                self.store.append_record(log_path(ref.name), call)
                self.on_write("RmRegisterResources")

        self._locked(body)

    def resources(self, ref: SessionRef) -> Resources:
        """The session's registered resources (under the mutex, like every RM call that
        reads the session); ERROR_INVALID_HANDLE (6) if the session is gone."""

        def body() -> Resources:
            table = Snapshot.read(self.store)
            header = table.session(ref.name, ref.key_hash)
            if header is None:
                raise gone(winerror.ERROR_INVALID_HANDLE)
            return self._registered(ref.name, header.generation)

        return self._locked(body)

    def _registered(self, name: str, generation: int) -> Resources:
        """The session's resources, from its log. What was gathered from the records read
        last time is kept while the log still begins with those very records (the store
        hands back the same objects for an unchanged prefix): only new records are added."""
        records = self.store.read_records(log_path(name))
        seen = self._seen.get(name)
        if (
            seen is None
            or seen.generation != generation
            or len(records) < seen.count
            or (seen.count and records[seen.count - 1] is not seen.last)
            or (seen.count and records[0] is not seen.first)
        ):
            seen = self._seen[name] = _Seen(generation)
            if len(self._seen) > _SEEN_SESSIONS:
                del self._seen[next(iter(self._seen))]
        if len(records) > seen.count:
            seen.found.add(_maintenance.calls_in(records[seen.count :], generation))
            seen.count, seen.first, seen.last = len(records), records[0], records[-1]
        return seen.found.resources()

    def mark_exited(self, process: SimulatedProcess) -> None:
        """Record that *process* exited without ending its sessions (they become
        abandoned); nothing is written if it owns and has joined nothing."""
        me = _proc(process)
        if not self.store.key_exists(TABLE_KEY):
            return  # no session at all: none of them can be this process's

        def body() -> None:
            table = Snapshot.read(self.store)
            exited = table.exited()
            if me not in exited and me in table.referenced():
                commit(self.store, table, {}, exited=exited | {me})

        self._locked(body)

    # -- inspection and maintenance (read-only ones take no mutex) ------------------------

    def sessions(self) -> list[SessionInfo]:
        """Every session with its owner's liveness; read-only: no mutex, nothing created."""
        return _maintenance.sessions(self.store)

    def hive(self) -> dict[str, dict[str, RegValue]]:
        """``HKCU\\Software\\Microsoft\\RestartManager\\SessionNNNN`` keys as Windows would
        hold them (a view of the table and the logs; read-only)."""
        return _maintenance.hive(self.store)

    def problems(self) -> list[Problem]:
        """Foreign or unreadable entries of the store, and junk in the table (read-only)."""
        return _maintenance.problems(self.store)

    def reap(self) -> ReapResult:
        """Remove abandoned sessions (and unreadable records), dead secondaries, exit
        markers, logs of no session and dead writers' temp files; foreign entries are left
        and reported. Returns the removed session names (a list) with ``.files`` and
        ``.problems``."""
        sessions, files = self._locked(lambda: _maintenance.reap(self.store))
        return ReapResult(sessions, files, _maintenance.problems(self.store))
