"""The Restart Manager session table, kept in the emulated registry.

Layout in the store (the first key is the real hive's; ``rmcore`` keys are this emulator's):

``HKCU\\Software\\Microsoft\\RestartManager\\SessionNNNN``
    ``Sequence`` (REG_DWORD, bumped on every change), ``Owner`` (REG_BINARY, the 12-byte
    RM_UNIQUE_PROCESS of the process that started it), ``rmcore.OwnerInstance`` (REG_DWORD,
    which simulated process in that OS process), ``rmcore.KeyHash`` (REG_BINARY, SHA-256 of
    the key's 16 bytes; the key itself is never stored), ``rmcore.Secondaries``
    (REG_MULTI_SZ, one ``PID:HIGH:LOW:INSTANCE:HANDLE`` per joined handle).
``HKCU\\Software\\rmcore\\KeyIndex\\<hash prefix>``
    a link to the session key, so RmJoinSession finds a session without reading the others.
``HKCU\\Software\\rmcore\\Exited\\<process tag>``
    written when a simulated process exits without RmEndSession (``Simulator.terminate``).

Every change happens under the registry write mutex and replaces one key file atomically.
Errors surface as :class:`~rmcore.RmError` subclasses carrying the Win32 code.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .. import winerror
from .._errors import RmError
from ..registry_store import MutexTimeout, RegistryStore, RegValue, StoreError
from . import _fidelity
from ._identity import (
    ProcessIdentity,
    SimulatedProcess,
    current_process,
    os_process_alive,
    process_start_time,
)

__all__ = [
    "RESTART_MANAGER_KEY",
    "Resources",
    "SessionInfo",
    "SessionRef",
    "SessionTable",
    "key_to_bytes",
]

RESTART_MANAGER_KEY = "HKCU\\Software\\Microsoft\\RestartManager"
_EXTENSION_KEY = "HKCU\\Software\\rmcore"
_INDEX_KEY = _EXTENSION_KEY + "\\KeyIndex"
_EXITED_KEY = _EXTENSION_KEY + "\\Exited"

_SEQUENCE = "Sequence"
_OWNER = "Owner"
_OWNER_INSTANCE = "rmcore.OwnerInstance"
_KEY_HASH = "rmcore.KeyHash"
_SECONDARIES = "rmcore.Secondaries"

KEY_BYTES = 16
_HEX = frozenset("0123456789abcdefABCDEF")

_T = TypeVar("_T")


def key_to_bytes(key: str) -> bytes | None:
    """The 16 bytes a session key text encodes, or ``None`` if it is not a well-formed key."""
    if len(key) != 2 * KEY_BYTES or not _HEX.issuperset(key):
        return None
    if _fidelity.JOIN_KEY_CASE_SENSITIVE and key != key.lower():
        return None
    return bytes.fromhex(key)


def _new_key_bytes() -> bytes:
    raw = bytearray(secrets.token_bytes(KEY_BYTES))
    if _fidelity.KEY_IS_GUID_BYTES:  # GUID v4 in memory order: Data3 is little-endian
        raw[7] = (raw[7] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
    return bytes(raw)


def _key_hash(key_bytes: bytes) -> bytes:
    return hashlib.sha256(key_bytes).digest()


def _session_name(number: int) -> str:
    return f"Session{number:04d}"


def _lowest_free_name(names: list[str]) -> str:
    """The lowest unused ``SessionNNNN`` (sorted *names* ending in n-1 are exactly 0..n-1)."""
    if not names or names[-1] == _session_name(len(names) - 1):
        return _session_name(len(names))
    taken = set(names)
    return next(_session_name(n) for n in range(len(names)) if _session_name(n) not in taken)


def _session_path(name: str) -> str:
    return f"{RESTART_MANAGER_KEY}\\{name}"


def _index_path(key_hash: bytes) -> str:
    return f"{_INDEX_KEY}\\{key_hash[:16].hex()}"


def _member_entry(member: SimulatedProcess, handle: int) -> str:
    ident = member.os_process
    high, low = ident.start_time >> 32, ident.start_time & 0xFFFFFFFF
    return f"{ident.pid:08X}:{high:08X}:{low:08X}:{member.instance:08X}:{handle:08X}"


def _entry_member(entry: str) -> SimulatedProcess:
    pid, high, low, instance, _handle = (int(part, 16) for part in entry.split(":"))
    return SimulatedProcess(ProcessIdentity(pid, (high << 32) | low), instance)


_GROUP_PREFIXES = ("RegFiles", "RegProcs", "RegSvcs")


def _process_entry(process: tuple[int, int]) -> str:
    pid, start = process
    return f"{pid:08X}:{start >> 32:08X}:{start & 0xFFFFFFFF:08X}"


def _parse_process_entry(entry: str) -> tuple[int, int]:
    pid, high, low = (int(part, 16) for part in entry.split(":"))
    return pid, (high << 32) | low


@dataclass(frozen=True)
class Resources:
    """What a session has registered: full file paths, (PID, start FILETIME), service names."""

    files: tuple[str, ...] = ()
    processes: tuple[tuple[int, int], ...] = ()
    services: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.files or self.processes or self.services)


@dataclass(frozen=True)
class SessionRef:
    """What a handle names: one session (by key name and key hash) in one role."""

    name: str
    key_hash: bytes
    primary: bool


@dataclass(frozen=True)
class SessionInfo:
    """A session as ``rmcore sessions`` shows it."""

    name: str
    owner: SimulatedProcess
    alive: bool
    secondaries: int
    sequence: int

    @property
    def number(self) -> int:
        return int(self.name[len("Session") :])


class _Record:
    """One session key's values, decoded."""

    def __init__(self, values: dict[str, RegValue]) -> None:
        self.values = values
        owner = ProcessIdentity.from_rm_unique_process(values[_OWNER].data)
        self.owner = SimulatedProcess(owner, values[_OWNER_INSTANCE].as_int())
        self.key_hash = values[_KEY_HASH].data
        self.secondaries = values[_SECONDARIES].as_list() if _SECONDARIES in values else []

    @staticmethod
    def new(owner: SimulatedProcess, key_hash: bytes) -> dict[str, RegValue]:
        return {
            _SEQUENCE: RegValue.dword(0),
            _OWNER: RegValue.binary(owner.os_process.to_rm_unique_process()),
            _OWNER_INSTANCE: RegValue.dword(owner.instance),
            _KEY_HASH: RegValue.binary(key_hash),
        }

    def changed(
        self, secondaries: list[str] | None = None, added: dict[str, RegValue] | None = None
    ) -> dict[str, RegValue]:
        """The record's values after one change (``Sequence`` bumped)."""
        values = dict(self.values)
        values[_SEQUENCE] = RegValue.dword((self.values[_SEQUENCE].as_int() + 1) & 0xFFFFFFFF)
        if secondaries:
            values[_SECONDARIES] = RegValue.multi_sz(secondaries)
        elif secondaries is not None:
            values.pop(_SECONDARIES, None)
        values.update(added or {})
        return values

    def resources(self) -> Resources:
        """Everything registered so far, in registration order, from the numbered groups."""
        found: dict[str, list[str]] = {prefix: [] for prefix in _GROUP_PREFIXES}
        for name in sorted(self.values):
            prefix = name[:-4]
            if prefix in found and name[-4:].isdigit():
                found[prefix].extend(self.values[name].as_list())
        processes = tuple(_parse_process_entry(entry) for entry in found["RegProcs"])
        return Resources(tuple(found["RegFiles"]), processes, tuple(found["RegSvcs"]))

    def matches(self, key_hash: bytes) -> bool:
        return hmac.compare_digest(self.key_hash, key_hash)


class SessionTable:
    """Start, join, end, list and reap sessions in one store."""

    def __init__(self, store: RegistryStore, *, max_sessions: int, mutex_timeout: float) -> None:
        self.store = store
        self.max_sessions = max_sessions
        self.mutex_timeout = mutex_timeout
        # Called after each committed change, with the Rm* function's name (crash faults).
        self.on_write: Callable[[str], None] = lambda function: None

    # -- plumbing ------------------------------------------------------------------------

    def locked(self, body: Callable[[], _T]) -> _T:
        """Run *body* under the registry write mutex; store failures become Win32 codes."""
        try:
            with self.store.mutex.hold(self.mutex_timeout):
                return body()
        except MutexTimeout:
            raise RmError.from_code(winerror.ERROR_SEM_TIMEOUT) from None
        except StoreError as exc:
            raise RmError.from_code(winerror.ERROR_WRITE_FAULT) from exc

    def _read(self, name: str) -> _Record | None:
        values = self.store.read_key(_session_path(name))
        return None if values is None else _Record(values)

    def is_alive(self, process: SimulatedProcess) -> bool:
        """Whether a simulated process still runs: its OS process does and it did not exit."""
        os_alive = process.os_process == current_process() or os_process_alive(process.os_process)
        return os_alive and not self.store.key_exists(f"{_EXITED_KEY}\\{process.tag()}")

    # -- the operations ------------------------------------------------------------------

    def start(self, owner: SimulatedProcess) -> tuple[SessionRef, bytes]:
        """Create a session owned by *owner*; return the primary's reference and the key.

        Decisions (docs/fidelity.md): only session keys count toward ``max_sessions`` (joined
        handles do not), and abandoned sessions are reclaimed, lowest number first, only
        when the limit is reached, so an ordinary start never checks other owners.
        """
        key_bytes = _new_key_bytes()
        key_hash = _key_hash(key_bytes)

        def body() -> SessionRef:
            names = self.store.subkeys(RESTART_MANAGER_KEY)
            if len(names) < self.max_sessions:
                name = _lowest_free_name(names)
            else:
                name = self._reclaim_abandoned(names)
            # The link first: if the session write then fails, a dangling link is harmless
            # (joins check the session's own hash), and the start changed nothing.
            self.store.write_link(_index_path(key_hash), name)
            try:
                self.store.write_key(_session_path(name), _Record.new(owner, key_hash))
            except StoreError:
                with contextlib.suppress(StoreError):
                    self.store.delete_key(_index_path(key_hash))
                raise
            self.on_write("RmStartSession")
            return SessionRef(name, key_hash, primary=True)

        return self.locked(body), key_bytes

    def _reclaim_abandoned(self, names: list[str]) -> str:
        for name in names:
            record = self._read_tolerant(name)
            if record is None or not self.is_alive(record.owner):
                self._remove(name, record)
                return name
        raise RmError.from_code(winerror.ERROR_MAX_SESSIONS_REACHED)

    def _read_tolerant(self, name: str) -> _Record | None:
        """A record, or ``None`` for a key that is unreadable (it is then reclaimable)."""
        try:
            return self._read(name)
        except (StoreError, KeyError):
            return None

    def _remove(self, name: str, record: _Record | None) -> None:
        """Delete a session: the key itself is the commit point; its link is only a hint."""
        self.store.delete_key(_session_path(name))
        if record is not None:
            with contextlib.suppress(StoreError):
                self.store.delete_key(_index_path(record.key_hash))

    def join(self, key_bytes: bytes, member: SimulatedProcess, handle: int) -> SessionRef:
        """Add *member* (with its new *handle*) as a secondary of the session the key names."""
        key_hash = _key_hash(key_bytes)

        def body() -> SessionRef:
            name = self.store.read_link(_index_path(key_hash))
            record = None if name is None else self._read(name)
            if name is None or record is None or not record.matches(key_hash):
                raise RmError.from_code(winerror.ERROR_SESSION_CREDENTIAL_CONFLICT)
            if not self.is_alive(record.owner):
                raise RmError.from_code(_fidelity.JOIN_ABANDONED_SESSION_RESULT)
            if not _fidelity.SAME_PROCESS_MAY_JOIN and record.owner == member:
                raise RmError.from_code(winerror.ERROR_SESSION_CREDENTIAL_CONFLICT)
            entries = [*record.secondaries, _member_entry(member, handle)]
            self.store.write_key(_session_path(name), record.changed(entries))
            self.on_write("RmJoinSession")
            return SessionRef(name, key_hash, primary=False)

        return self.locked(body)

    def end(self, ref: SessionRef, member: SimulatedProcess, handle: int) -> None:
        """The primary ends the session; a secondary only leaves it."""

        def body() -> None:
            record = self._read(ref.name)
            if record is None or not record.matches(ref.key_hash):
                raise RmError.from_code(_fidelity.STALE_SECONDARY_HANDLE_RESULT)
            if ref.primary:
                self._remove(ref.name, record)
            else:
                mine = _member_entry(member, handle)
                entries = [entry for entry in record.secondaries if entry != mine]
                self.store.write_key(_session_path(ref.name), record.changed(entries))
            self.on_write("RmEndSession")

        self.locked(body)

    def _live_record(self, ref: SessionRef) -> _Record:
        record = self._read(ref.name)
        if record is None or not record.matches(ref.key_hash):
            raise RmError.from_code(winerror.ERROR_INVALID_HANDLE)
        return record

    def register(self, ref: SessionRef, new: Resources) -> None:
        """Add resources to the session as new numbered groups; duplicates collapse."""

        def body() -> None:
            record = self._live_record(ref)
            have = record.resources()
            added: dict[str, RegValue] = {}
            for prefix, old, items in (
                ("RegFiles", have.files, list(new.files)),
                (
                    "RegProcs",
                    map(_process_entry, have.processes),
                    map(_process_entry, new.processes),
                ),
                ("RegSvcs", have.services, list(new.services)),
            ):
                seen = {item.casefold() for item in old}  # Windows names ignore case
                fresh = []
                for item in items:
                    if item.casefold() not in seen:
                        seen.add(item.casefold())
                        fresh.append(item)
                if fresh:
                    groups = sum(1 for n in record.values if n[:-4] == prefix)
                    added[f"{prefix}{groups:04d}"] = RegValue.multi_sz(fresh)
            if added:
                self.store.write_key(_session_path(ref.name), record.changed(added=added))
                self.on_write("RmRegisterResources")

        self.locked(body)

    def resources(self, ref: SessionRef) -> Resources:
        """The session's registered resources, read under the mutex like every RM call."""
        return self.locked(lambda: self._live_record(ref).resources())

    def mark_exited(self, process: SimulatedProcess) -> None:
        """Record that *process* exited without ending its sessions (they become abandoned)."""
        self.store.write_key(f"{_EXITED_KEY}\\{process.tag()}", {})

    # -- inspection and maintenance ------------------------------------------------------

    def sessions(self) -> list[SessionInfo]:
        """Every session key in the store, with its owner's liveness (no mutex needed)."""
        infos = []
        for name in self.store.subkeys(RESTART_MANAGER_KEY):
            record = self._read_tolerant(name)
            if record is None:
                continue
            live = [e for e in record.secondaries if self.is_alive(_entry_member(e))]
            infos.append(
                SessionInfo(
                    name,
                    record.owner,
                    self.is_alive(record.owner),
                    len(live),
                    record.values[_SEQUENCE].as_int(),
                )
            )
        return infos

    def reap(self) -> list[str]:
        """Remove abandoned sessions and leftovers of dead processes; return the names."""

        def body() -> list[str]:
            reaped = []
            for name in self.store.subkeys(RESTART_MANAGER_KEY):
                record = self._read_tolerant(name)
                if record is None or not self.is_alive(record.owner):
                    self._remove(name, record)
                    reaped.append(name)
            for tag in self.store.subkeys(_EXITED_KEY):
                pid, start, _instance = (int(part, 16) for part in tag.split("-"))
                if not os_process_alive(ProcessIdentity(pid, start)):
                    self.store.delete_key(f"{_EXITED_KEY}\\{tag}")
            # Under the mutex every link that names no matching session is garbage (left by a
            # process killed between its two writes), and so is a dead writer's temp file.
            for link in self.store.subkeys(_INDEX_KEY):
                target = self.store.read_link(f"{_INDEX_KEY}\\{link}")
                record = None if target is None else self._read_tolerant(target)
                if record is None or record.key_hash[:16].hex() != link:
                    self.store.delete_key(f"{_INDEX_KEY}\\{link}")
            for folder in (RESTART_MANAGER_KEY, _INDEX_KEY, _EXITED_KEY):
                self.store.remove_stray_temp_files(
                    folder, lambda pid: process_start_time(pid) is None
                )
            return reaped

        return self.locked(body)
