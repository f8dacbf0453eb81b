"""The registry write mutex: one exclusive, cross-process lock per store, with a timeout.

POSIX hosts use ``fcntl.flock`` on a lock file that is never deleted (deleting a locked path
lets two processes lock two different inodes). The file is opened anew for every
acquisition: flock belongs to the open file description, so each acquisition excludes every
other one, threads and simulated processes of the same interpreter included.

Uncontended, one non-blocking attempt takes the lock. Contended, the descriptor goes to a
waiter thread (one per process) that blocks in ``flock``: the kernel queues the waiters and
wakes one at each release, which keeps 8 processes fair where polling lets the releasing
process barge back in (README, "Locks"); the caller waits on an event, which gives the
timeout. A request that timed out is closed by the waiter as soon as it gets the lock.
Windows hosts have no fcntl: there portalocker's ``msvcrt`` lock is polled.

The kernel releases the lock of a process that dies, so a SIGKILLed holder never wedges
the store. A forked child closes the descriptors its parent had open here.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable

from ._errors import MutexTimeout, StoreError, StoreWriteError
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

    def _block(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

except ImportError:  # pragma: no cover - Windows
    import portalocker

    def _try_lock(fd: int) -> bool:
        try:
            portalocker.lock(fd, portalocker.LOCK_EX | portalocker.LOCK_NB)  # type: ignore[arg-type,unused-ignore]
        except portalocker.exceptions.LockException:
            return False
        return True

    _block = None  # type: ignore[assignment,unused-ignore]


_FIRST_BACKOFF = 20e-6
_MAX_BACKOFF = 1e-3


class _Request:
    """One contended acquisition handed to the waiter thread."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.done = threading.Event()
        self.error: OSError | None = None
        self.abandoned = False
        self.lock = threading.Lock()


class _Waiter:
    """The per-process thread that blocks in flock on behalf of waiting callers."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="rmcore-mutex-waiter", daemon=True).start()

    def _run(self) -> None:
        while True:
            request = self.requests.get()
            error = None
            if not request.abandoned:
                try:
                    _block(request.fd)
                except OSError as exc:
                    error = exc
            with request.lock:
                if request.abandoned:
                    _close(request.fd)  # the caller gave up: release at once
                else:
                    request.error = error
                    request.done.set()

    def acquire(self, fd: int, timeout: float) -> bool:
        """Block until *fd* holds the lock (``True``) or *timeout* passes (``False``: the
        descriptor then belongs to the waiter, which closes it)."""
        request = _Request(fd)
        self.requests.put(request)
        finished = request.done.wait(None if timeout == float("inf") else timeout)
        with request.lock:
            if not finished and not request.done.is_set():
                request.abandoned = True
                return False
        if request.error is not None:
            raise StoreWriteError(request.error.errno, f"cannot lock: {request.error}")
        return True


_waiter: _Waiter | None = None
_waiter_lock = threading.Lock()
# The descriptors of this module, each with its holding's end (for the fork handler).
_open_fds: dict[int, Callable[[], None]] = {}


def _the_waiter() -> _Waiter:
    global _waiter
    with _waiter_lock:
        if _waiter is None or _waiter.pid != os.getpid():
            _waiter = _Waiter()
        return _waiter


def _close(fd: int) -> None:
    _open_fds.pop(fd, None)
    os.close(fd)  # closing the only descriptor releases the lock


def _after_fork_in_child() -> None:
    """A child shares its parent's open file descriptions: holding them would keep the
    parent's lock held after the parent lets go, so the child ends those holdings and
    closes its copies."""
    global _waiter
    _waiter = None
    for fd, released in list(_open_fds.items()):
        released()
        try:
            _close(fd)
        except OSError:
            _open_fds.pop(fd, None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class RegistryMutex:
    """The store's registry write mutex, as seen from one process.

    *opener* opens the lock file anew (a DiskStore opens it relative to its root, never
    through a link); without one, *lock_path* is opened. *released* is called as each
    holding ends.
    """

    def __init__(
        self,
        lock_path: str,
        opener: Callable[[], int] | None = None,
        *,
        released: Callable[[], None] = lambda: None,
    ) -> None:
        self.lock_path = lock_path
        self._opener = opener or (lambda: os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600))
        self._released = released

    def hold(self, timeout: float) -> _Holding:
        """Hold the mutex for the ``with`` block; raise :class:`MutexTimeout` after *timeout* s."""
        return _Holding(self, timeout)

    def _acquire(self, timeout: float) -> int:
        """The descriptor that holds the lock, or MutexTimeout (or StoreError)."""
        refuse_fake_filesystem()
        try:
            fd = self._opener()
        except StoreError:
            raise
        except OSError as exc:
            raise StoreWriteError(exc.errno, f"cannot open {self.lock_path}: {exc}") from exc
        _open_fds[fd] = self._released
        try:
            locked = _try_lock(fd) or self._wait(fd, timeout)
        except BaseException:
            self._release(fd)
            raise
        if not locked:  # the descriptor went to the waiter thread, which closes it
            self._released()
            raise MutexTimeout(f"registry write mutex not acquired within {timeout} s")
        return fd

    def _release(self, fd: int) -> None:
        self._released()
        _close(fd)

    @staticmethod
    def _wait(fd: int, timeout: float) -> bool:
        if timeout <= 0:
            return False
        if _block is not None:
            return _the_waiter().acquire(fd, timeout)
        deadline = time.monotonic() + timeout  # pragma: no cover - Windows: poll
        backoff = _FIRST_BACKOFF
        while (remaining := deadline - time.monotonic()) > 0:
            time.sleep(min(backoff, remaining))
            if _try_lock(fd):
                return True
            backoff = min(backoff * 2, _MAX_BACKOFF)
        return False


class _Holding:
    """One ``with mutex.hold(timeout)`` (a plain object: cheaper than a generator)."""

    __slots__ = ("fd", "mutex", "timeout")

    def __init__(self, mutex: RegistryMutex, timeout: float) -> None:
        self.mutex = mutex
        self.timeout = timeout
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = self.mutex._acquire(self.timeout)

    def __exit__(self, *exc_info: object) -> None:
        self.mutex._release(self.fd)
