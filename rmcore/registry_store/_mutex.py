"""The registry write mutex: one exclusive, cross-process lock per store, with a timeout.

POSIX hosts use ``fcntl.flock`` on a lock file that is never deleted (deleting a locked path
lets two processes lock two different inodes). flock belongs to the open file description:
each mutex object opens the file once and keeps the descriptor between holdings, so two
objects (two stores, two simulated processes of one interpreter) exclude each other like
two processes; the threads that share one object take its thread lock first. The store
checks after each locking that the descriptor still names the lock file at the store's
path (a replaced file is reopened, a replaced store refused).

Uncontended, one non-blocking attempt takes the lock. Contended, the descriptor goes to a
waiter thread (one per process) that blocks in ``flock``: the kernel queues the waiters and
wakes one at each release, which keeps 8 processes fair where polling lets the releasing
process barge back in (README, "Locks"); the caller waits on an event, which gives the
timeout. A request that timed out is closed by the waiter as soon as it gets the lock.
Windows hosts have no fcntl: there portalocker's ``msvcrt`` lock is polled.

The kernel releases the lock of a process that dies, so a SIGKILLed holder never wedges
the store. A forked child closes the descriptors its parent had open here (they are the
parent's open file descriptions) and opens its own.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
import weakref
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

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows
    import portalocker

    def _try_lock(fd: int) -> bool:
        try:
            portalocker.lock(fd, portalocker.LOCK_EX | portalocker.LOCK_NB)  # type: ignore[arg-type,unused-ignore]
        except portalocker.exceptions.LockException:
            return False
        return True

    def _unlock(fd: int) -> None:
        portalocker.unlock(fd)  # type: ignore[arg-type,unused-ignore]

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
# The descriptors held (locked) right now, each with its holding's end (for the fork
# handler), and every mutex object (whose kept descriptors a forked child closes).
_open_fds: dict[int, Callable[[], None]] = {}
_mutexes: weakref.WeakSet[RegistryMutex] = weakref.WeakSet()


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
    for mutex in list(_mutexes):
        kept = mutex._after_fork()
        if kept >= 0 and kept not in _open_fds:
            with contextlib.suppress(OSError):
                os.close(kept)
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

    *opener* opens the lock file (a DiskStore opens it relative to its root, never through
    a link); without one, *lock_path* is opened. The descriptor is kept from one holding to
    the next (a forked child opens its own); the threads of this process that share this
    object take a thread lock first, so one holds it at a time. *verify* is called with
    the descriptor once it is locked: ``True`` if it is still the store's lock file,
    ``False`` if that file was replaced (the descriptor is then reopened), or it raises
    (the store itself was replaced). *released* is called as each holding ends.
    """

    def __init__(
        self,
        lock_path: str,
        opener: Callable[[], int] | None = None,
        *,
        released: Callable[[], None] = lambda: None,
        verify: Callable[[int], bool] = lambda fd: True,
    ) -> None:
        self.lock_path = lock_path
        self._opener = opener or (lambda: os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600))
        self._released = released
        self._verify = verify
        self._kept = [-1]  # the descriptor kept between holdings; -1: open one at the next
        self._threads = threading.Lock()  # one holding at a time per object and process
        self._closer = weakref.finalize(self, _close_kept, self._kept)
        _mutexes.add(self)

    def hold(self, timeout: float) -> _Holding:
        """Hold the mutex for the ``with`` block; raise :class:`MutexTimeout` after *timeout* s."""
        return _Holding(self, timeout)

    def prepare(self) -> None:
        """Open the descriptor now rather than at the first holding (a failure is left for
        that holding to report)."""
        with self._threads:
            if self._kept[0] < 0:
                with contextlib.suppress(OSError):
                    self._open()

    def close(self) -> None:
        """Close the kept descriptor (a holding in progress keeps it until it ends)."""
        if self._threads.acquire(blocking=False):
            try:
                _close_kept(self._kept)
            finally:
                self._threads.release()

    def _acquire(self, timeout: float) -> int:
        """The descriptor that holds the lock, or MutexTimeout (or StoreError)."""
        refuse_fake_filesystem()
        threads = self._threads
        deadline = None
        if not threads.acquire(blocking=False):  # another thread holds it through this object
            deadline = time.monotonic() + timeout
            if timeout <= 0 or not threads.acquire(timeout=_lock_timeout(timeout)):
                raise MutexTimeout(f"registry write mutex not acquired within {timeout} s")
        try:
            kept = self._kept
            for _attempt in range(3):
                fd = kept[0] if kept[0] >= 0 else self._open()
                _open_fds[fd] = self._released
                wait = timeout if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    locked = _try_lock(fd) or self._wait(fd, wait)
                except BaseException:
                    self._drop(fd)
                    raise
                if not locked:  # the descriptor went to the waiter thread, which closes it
                    kept[0] = -1
                    raise MutexTimeout(f"registry write mutex not acquired within {timeout} s")
                try:
                    current = self._verify(fd)
                except BaseException:
                    self._drop(fd)
                    raise
                if current:
                    return fd
                self._drop(fd)  # the lock file was replaced: lock the one there now
            raise StoreWriteError(f"{self.lock_path} keeps being replaced: cannot lock it")
        except BaseException:
            self._released()
            threads.release()
            raise

    def _open(self) -> int:
        try:
            fd = self._opener()
        except StoreError:
            raise
        except OSError as exc:
            raise StoreWriteError(exc.errno, f"cannot open {self.lock_path}: {exc}") from exc
        self._kept[0] = fd
        return fd

    def _drop(self, fd: int) -> None:
        """Close a descriptor that must not be locked again (closing releases its lock)."""
        self._kept[0] = -1
        _close(fd)

    def _release(self, fd: int) -> None:
        try:
            _open_fds.pop(fd, None)
            _unlock(fd)
        except OSError:
            self._drop(fd)  # closing releases it anyway
        finally:
            try:
                self._released()
            finally:
                self._threads.release()

    def _after_fork(self) -> int:
        """In a forked child: the kept descriptor is the parent's open file description
        (locking it would not exclude the parent) and a parent thread may have held the
        thread lock, so the child starts afresh. Returns the descriptor to close."""
        kept, self._kept[0] = self._kept[0], -1
        self._threads = threading.Lock()
        return kept

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


def _close_kept(kept: list[int]) -> None:
    fd, kept[0] = kept[0], -1
    if fd >= 0:
        with contextlib.suppress(OSError):
            _close(fd)


def _lock_timeout(timeout: float) -> float:
    return -1 if timeout == float("inf") else min(timeout, threading.TIMEOUT_MAX)


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
