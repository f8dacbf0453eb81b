"""The session table key as one read found it, and the one way a change is written back.

Physical layout (rmcore's own keys, outside the emulated Restart Manager key):
``HKCU\\Software\\rmcore\\Sessions`` holds the whole table, one REG_BINARY value per
session (``SessionNNNN``, see :mod:`._records`) plus ``Exited``;
``HKCU\\Software\\rmcore\\Resources\\SessionNNNN`` is that session's resource log.
Values are decoded lazily: an operation unpacks only the records it looks at.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
from collections.abc import Callable, Mapping
from typing import TypeVar

from .. import winerror
from .._errors import RmError
from ..registry_store import MutexTimeout, RegType, RegValue, Store, StoreError
from ._liveness import Probe
from ._records import (
    Header,
    Proc,
    pack_procs,
    read_header,
    read_members,
    read_owner,
    unpack_procs,
)

__all__ = [
    "EXITED",
    "RESOURCES_KEY",
    "TABLE_KEY",
    "Snapshot",
    "commit",
    "drop_log",
    "gone",
    "locked",
    "log_path",
    "session_name",
    "session_number",
]

TABLE_KEY = "HKCU\\Software\\rmcore\\Sessions"
RESOURCES_KEY = "HKCU\\Software\\rmcore\\Resources"
EXITED = "Exited"
_PREFIX = "Session"

_T = TypeVar("_T")
_BINARY = RegType.REG_BINARY


@functools.lru_cache(maxsize=1024)
def session_name(number: int) -> str:
    return f"{_PREFIX}{number:04d}"


@functools.lru_cache(maxsize=4096)
def session_number(name: str) -> int | None:
    """The number of a ``SessionNNNN`` name (four or more digits), else ``None``."""
    digits = name[len(_PREFIX) :]
    if not name.startswith(_PREFIX) or len(digits) < 4 or not digits.isdigit():
        return None
    if not digits.isascii() or session_name(int(digits)) != name:
        return None
    return int(digits)


def log_path(name: str) -> str:
    return f"{RESOURCES_KEY}\\{name}"


def locked(store: Store, timeout: float, body: Callable[[], _T]) -> _T:
    """Run *body* under the registry write mutex; store failures become Win32 codes."""
    try:
        with store.mutex.hold(timeout):
            return body()
    except MutexTimeout as exc:
        raise RmError.from_code(winerror.ERROR_SEM_TIMEOUT, reason=str(exc)) from None
    except StoreError as exc:
        reason = f"{store.describe()}: {exc.strerror or exc}"
        raise RmError.from_code(winerror.ERROR_WRITE_FAULT, reason=reason) from exc


def gone(code: int) -> RmError:
    """The error for a handle whose session is no longer in the table."""
    return RmError.from_code(code, reason="the session was ended (no such session any more)")


class Snapshot:
    """The table's values as read once; liveness answers are asked only when needed."""

    __slots__ = ("_exited", "_probe", "values")

    def __init__(self, values: Mapping[str, RegValue] | None) -> None:
        self.values: Mapping[str, RegValue] = values or {}
        self._exited: frozenset[Proc] | None = None
        self._probe: Probe | None = None  # liveness asked once per snapshot, for all owners

    @classmethod
    def read(cls, store: Store) -> Snapshot:
        return cls(store.read_key(TABLE_KEY))

    def data(self, name: str) -> bytes | None:
        value = self.values.get(name)
        return value.data if value is not None and value.type is _BINARY else None

    def owner(self, name: str) -> Proc | None:
        """The owner of session *name*; ``None`` if it is missing or junk."""
        data = self.data(name)
        return None if data is None else read_owner(data)

    def header(self, name: str) -> Header | None:
        """The record's header; ``None`` if it is missing or junk."""
        data = self.data(name)
        return None if data is None else read_header(data)

    def numbered(self) -> list[tuple[int, str]]:
        """``(number, name)`` of every value named like a session, in number order."""
        found = ((session_number(name), name) for name in self.values)
        return sorted((number, name) for number, name in found if number is not None)

    def session(self, name: str, key_hash: bytes) -> Header | None:
        """The header of session *name* if it is still the one *key_hash* names."""
        header = self.header(name)
        if header is None or not hmac.compare_digest(header.key_hash, key_hash):
            return None
        return header

    def find(self, key_hash: bytes) -> tuple[str, Header] | None:
        """The session whose SessionHash is *key_hash*."""
        for name, value in self.values.items():
            if hmac.compare_digest(value.data[: len(key_hash)], key_hash):
                header = self.header(name)
                if header is not None and session_number(name) is not None:
                    return name, header
        return None

    def exited(self) -> frozenset[Proc]:
        """The simulated processes marked as exited (junk there counts as none)."""
        if self._exited is None:
            data = self.data(EXITED)
            self._exited = (None if data is None else unpack_procs(data)) or frozenset()
        return self._exited

    def alive(self, process: Proc) -> bool:
        """Its OS process runs (the caller's own: no system call) and it did not exit."""
        if EXITED in self.values and process in self.exited():
            return False
        if self._probe is None:
            self._probe = Probe()
        return self._probe.running(process[0], process[1])

    def mentions(self, name: str, processes: frozenset[Proc]) -> bool:
        """Whether session *name* is owned or joined by one of *processes*."""
        header = self.header(name)
        if header is None:
            return False
        members = read_members(self.data(name) or b"", header)
        return header.owner in processes or any(m[:3] in processes for m in members)

    def referenced(self) -> set[Proc]:
        """Every simulated process that owns or has joined a session."""
        found: set[Proc] = set()
        for _number, name in self.numbered():
            header = self.header(name)
            if header is not None:
                found.add(header.owner)
                found.update(member[:3] for member in read_members(self.data(name) or b"", header))
        return found


def commit(
    store: Store,
    table: Snapshot,
    changes: Mapping[str, bytes | None],
    exited: frozenset[Proc] | None = None,
) -> Snapshot:
    """Write the table with *changes* (``None`` removes a session) in one atomic replace.

    Exit markers no session refers to any more are dropped on the way; *exited* replaces
    the markers. An empty table is deleted, so a store with no session holds no table.
    """
    values = dict(table.values)
    for name, data in changes.items():
        if data is None:
            values.pop(name, None)
        else:
            values[name] = RegValue(_BINARY, data)
    if exited is not None or EXITED in values:  # else no markers, before or after
        current = table.exited() if EXITED in values else frozenset()
        markers = current if exited is None else exited
        if markers and (exited is not None or any(table.mentions(n, markers) for n in changes)):
            markers = markers & Snapshot(values).referenced()
        if markers != current and markers:
            values[EXITED] = RegValue(_BINARY, pack_procs(markers))
        elif markers != current:
            values.pop(EXITED, None)
    if values:
        store.write_key(TABLE_KEY, values)
    elif table.values:
        store.delete_key(TABLE_KEY)
    return Snapshot(values)


def drop_log(store: Store, name: str) -> bool:
    """Delete a session's log after the table no longer names it (a failure is harmless:
    a reused number has a new generation, and ``reap`` removes logs of no session)."""
    with contextlib.suppress(StoreError):
        return store.delete_log(log_path(name))
    return False
