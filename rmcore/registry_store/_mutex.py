"""The registry write mutex: one exclusive, cross-process lock per store, with a timeout.

POSIX hosts use ``fcntl.flock`` on a lock file that is never deleted (deleting a locked path
lets two processes lock two different inodes). The file is opened anew for every
acquisition: flock belongs to the open file description, so each acquisition excludes every
other one, threads and simulated processes of the same interpreter included, and a process
that releases and re-acquires at once does not starve the others (README, "Locks").
Windows hosts have no fcntl; there portalocker's ``msvcrt`` lock does the same job.

A waiter polls with a non-blocking attempt and a short, growing back-off, because a blocking
flock cannot be given a timeout. The kernel releases the lock of a process that dies, so a
SIGKILLed holder never wedges the store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ._errors import MutexTimeout, StoreWriteError
from ._guard import refuse_fake_filesystem

__all__ = ["RegistryMutex"]

try:  # pragma: no cover - which branch runs depends on the host
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

except ImportError:  # pragma: no cover - Windows
    import portalocker

    def _try_lock(fd: int) -> bool:
        try:
            portalocker.lock(fd, portalocker.LOCK_EX | portalocker.LOCK_NB)  # type: ignore[arg-type,unused-ignore]
        except portalocker.exceptions.LockException:
            return False
        return True


_FIRST_BACKOFF = 20e-6
_MAX_BACKOFF = 1e-3


class RegistryMutex:
    """The store's registry write mutex, as seen from one process."""

    def __init__(self, lock_path: str) -> None:
        self.lock_path = lock_path

    @contextmanager
    def hold(self, timeout: float) -> Iterator[None]:
        """Hold the mutex for the ``with`` block; raise :class:`MutexTimeout` after *timeout* s."""
        refuse_fake_filesystem()
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreWriteError(exc.errno, f"cannot open {self.lock_path}: {exc}") from exc
        try:
            if not _try_lock(fd):
                self._wait(fd, timeout)
            yield
        finally:
            os.close(fd)  # closing the only descriptor releases the lock

    @staticmethod
    def _wait(fd: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        backoff = _FIRST_BACKOFF
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MutexTimeout(f"registry write mutex not acquired within {timeout} s")
            time.sleep(min(backoff, remaining))
            if _try_lock(fd):
                return
            backoff = min(backoff * 2, _MAX_BACKOFF)
