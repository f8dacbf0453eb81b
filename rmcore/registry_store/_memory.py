"""A store in this process's memory: dicts under a lock, values kept as given.

For tests that need no second OS process: an operation costs a few µs (no codec, no
system call). The threads of the process share it; a forked child gets a copy with fresh
locks; it never crosses processes. Its mutex is a lock with a timeout, so a holder makes
every other caller time out (121) exactly as the disk store's does.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Mapping
from types import MappingProxyType

from ._base import Problem, Store, split_key_path
from ._errors import MutexTimeout
from ._values import RegValue

__all__ = ["MemoryStore"]


class _LockMutex:
    """The registry write mutex of a memory store: a plain lock, waited for with a timeout."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def hold(self, timeout: float) -> _Held:
        return _Held(self.lock, timeout)


class _Held:
    """One holding of a :class:`_LockMutex` (a plain object: cheaper than a generator)."""

    __slots__ = ("lock", "timeout")

    def __init__(self, lock: threading.Lock, timeout: float) -> None:
        self.lock = lock
        self.timeout = timeout

    def __enter__(self) -> None:
        timeout = self.timeout
        if timeout == float("inf"):
            acquired = self.lock.acquire()
        elif timeout <= 0:
            acquired = self.lock.acquire(blocking=False)
        else:
            acquired = self.lock.acquire(timeout=min(timeout, threading.TIMEOUT_MAX))
        if not acquired:
            raise MutexTimeout(f"registry write mutex not acquired within {timeout} s")

    def __exit__(self, *exc_info: object) -> None:
        self.lock.release()


_stores: weakref.WeakSet[MemoryStore] = weakref.WeakSet()


class MemoryStore(Store):
    """One in-memory hive (see the module docstring)."""

    is_memory = True

    def __init__(self) -> None:
        super().__init__()
        self.mutex = _LockMutex()
        self._keys: dict[tuple[str, ...], dict[str, RegValue]] = {}
        self._logs: dict[tuple[str, ...], list[bytes]] = {}
        self._lock = threading.Lock()
        _stores.add(self)

    def _after_fork(self) -> None:
        """A thread of the parent may have held a lock at the fork: the child's are new."""
        self.mutex = _LockMutex()
        self._lock = threading.Lock()

    def describe(self) -> str:
        return ":memory:"

    def __repr__(self) -> str:
        return f"<MemoryStore {len(self._keys)} keys at {id(self):#x}>"

    # -- keys (a stored dict is never changed in place: a read is a view of a snapshot) -----

    def read_key(self, key_path: str) -> Mapping[str, RegValue] | None:
        values = self._keys.get(split_key_path(key_path))
        return None if values is None else MappingProxyType(values)

    def write_key(self, key_path: str, values: Mapping[str, RegValue]) -> None:
        parts = split_key_path(key_path)
        self._before_write(key_path)
        self._keys[parts] = dict(values)

    def delete_key(self, key_path: str) -> bool:
        parts = split_key_path(key_path)
        self._before_write(key_path)
        return self._keys.pop(parts, None) is not None

    def key_exists(self, key_path: str) -> bool:
        return split_key_path(key_path) in self._keys

    @staticmethod
    def _children(table: Mapping[tuple[str, ...], object], key_path: str) -> list[str]:
        parent = split_key_path(key_path)
        depth = len(parent) + 1
        return sorted(p[-1] for p in list(table) if len(p) == depth and p[:-1] == parent)

    def subkeys(self, key_path: str) -> list[str]:
        return self._children(self._keys, key_path)

    # -- logs ------------------------------------------------------------------------------

    def append_record(self, key_path: str, record: bytes) -> None:
        parts = split_key_path(key_path)
        self._before_write(key_path)
        with self._lock:
            self._logs.setdefault(parts, []).append(bytes(record))

    def read_records(self, key_path: str) -> list[bytes]:
        with self._lock:
            return list(self._logs.get(split_key_path(key_path), ()))

    def delete_log(self, key_path: str) -> bool:
        parts = split_key_path(key_path)
        self._before_write(key_path)
        with self._lock:
            return self._logs.pop(parts, None) is not None

    def logs(self, key_path: str) -> list[str]:
        return self._children(self._logs, key_path)

    # -- maintenance: nothing foreign can get into a memory store ----------------------------

    def scan(self) -> list[Problem]:
        return []

    def remove_stray_temp_files(self, writer_gone: Callable[[int], bool]) -> list[str]:
        return []


def _after_fork_in_child() -> None:
    for store in list(_stores):
        store._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
