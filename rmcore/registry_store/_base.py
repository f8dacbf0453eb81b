"""What every store offers: keys of typed values, append-only logs, one write mutex.

Two implementations share this interface: :class:`~rmcore.registry_store.MemoryStore`
(one process, no codec) and :class:`~rmcore.registry_store.DiskStore` (a directory that
every process of the user can open). Key paths are registry paths (``HKCU\\A\\B``).
"""

from __future__ import annotations

import abc
import errno
import functools
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from ._errors import StoreWriteError
from ._values import RegValue

__all__ = ["Problem", "Store", "StoreMutex", "split_key_path"]


class StoreMutex(Protocol):
    """The registry write mutex of one store."""

    def hold(self, timeout: float) -> AbstractContextManager[None]:
        """Hold it for a ``with`` block; raise MutexTimeout after *timeout* s (``inf``:
        wait as long as it takes)."""
        ...


@dataclass(frozen=True)
class Problem:
    """An entry of a store that rmcore did not write or cannot read: left alone, reported."""

    path: str  # relative to the store root ("/"-separated), or a key path
    reason: str


@functools.lru_cache(maxsize=4096)
def split_key_path(key_path: str) -> tuple[str, ...]:
    """The validated names of a key path (``A\\B\\C`` -> ``("A", "B", "C")``)."""
    parts = tuple(part for part in key_path.split("\\") if part)
    for part in parts:
        if part in (".", "..") or "/" in part or "\0" in part:
            raise ValueError(f"invalid registry key name {part!r} in {key_path!r}")
    if not parts:
        raise ValueError("empty registry key path")
    return parts


class Store(abc.ABC):
    """A registry hive rmcore can keep sessions in (see the module docstring)."""

    mutex: StoreMutex
    is_memory: bool

    def __init__(self) -> None:
        self._write_failures = 0

    # -- fault injection (shared by both stores) -----------------------------------------

    def inject_write_failures(self, times: int) -> None:
        """Make the next *times* writes fail as a full disk would (ENOSPC), changing nothing."""
        self._write_failures = max(0, times)

    def _before_write(self, what: str) -> None:
        """Every write calls this first: an injected failure raises before anything changes."""
        if self._write_failures > 0:
            self._write_failures -= 1
            raise StoreWriteError(errno.ENOSPC, f"injected write failure: {what}")

    # -- keys ----------------------------------------------------------------------------

    @abc.abstractmethod
    def read_key(self, key_path: str) -> Mapping[str, RegValue] | None:
        """All values of a key (do not mutate), or ``None`` if the key does not exist."""

    @abc.abstractmethod
    def write_key(self, key_path: str, values: Mapping[str, RegValue]) -> None:
        """Create or replace a key with exactly *values*, atomically."""

    @abc.abstractmethod
    def delete_key(self, key_path: str) -> bool:
        """Remove a key's values (subkeys stay); ``False`` if it did not exist."""

    @abc.abstractmethod
    def subkeys(self, key_path: str) -> list[str]:
        """Names of the existing subkeys of a key, sorted."""

    @abc.abstractmethod
    def key_exists(self, key_path: str) -> bool:
        """Whether the key exists."""

    # -- append-only logs ----------------------------------------------------------------

    @abc.abstractmethod
    def append_record(self, key_path: str, record: bytes) -> None:
        """Append one record to the key path's log (atomic per record)."""

    @abc.abstractmethod
    def read_records(self, key_path: str) -> list[bytes]:
        """The log's records in order, up to the first torn or invalid one; ``[]`` if none."""

    @abc.abstractmethod
    def delete_log(self, key_path: str) -> bool:
        """Remove a log; ``False`` if it did not exist."""

    @abc.abstractmethod
    def logs(self, key_path: str) -> list[str]:
        """Names of the logs directly below a key path, sorted."""

    # -- description and maintenance -----------------------------------------------------

    @abc.abstractmethod
    def describe(self) -> str:
        """The store for messages: its directory, or ``:memory:``."""

    @abc.abstractmethod
    def scan(self) -> list[Problem]:
        """Entries that are foreign or unreadable, each with the reason (nothing is changed)."""

    @abc.abstractmethod
    def remove_stray_temp_files(self, writer_gone: Callable[[int], bool]) -> list[str]:
        """Delete the temp files of writers (by PID) that died mid-write; return them."""
