"""Whether an OS process still runs, cheaply enough to ask on every RmStartSession.

The calling process is alive without a system call. Another process (PID + start time,
so a recycled PID never passes) has its start time verified once; on Linux a pidfd is
then kept and polled (readable means it exited: a zombie counts as exited), elsewhere
``os.kill(pid, 0)`` answers later checks (Windows: the start-time reader again). Answers
are cached per (PID, start time) in a bounded table that a forked child starts afresh.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import sys
import threading

from ._identity import ProcessIdentity, current_process, os_process_alive, process_start_time

__all__ = ["os_process_running", "pid_gone", "running"]

_CACHE_SIZE = 256
_DEAD = -1  # known to have exited
_VERIFIED = -2  # start time verified, no pidfd: ask os.kill
_cache: collections.OrderedDict[tuple[int, int], int] = collections.OrderedDict()
_pollers: dict[int, select.poll] = {}  # per pidfd, registered once
_lock = threading.Lock()


def _first_look(identity: ProcessIdentity) -> int:
    """A pidfd of the process, or _DEAD, or _VERIFIED (no pidfd on this host)."""
    pidfd_open = getattr(os, "pidfd_open", None)
    fd = _VERIFIED
    if pidfd_open is not None:
        try:
            fd = pidfd_open(identity.pid)
        except ProcessLookupError:
            return _DEAD
        except OSError:  # no pidfd here (old kernel, seccomp): the portable way
            fd = _VERIFIED
    # Checked after the pidfd is open: if the PID was recycled in between, the start time
    # differs, and if it is recycled later, the pidfd still names the process checked.
    if os_process_alive(identity):
        return fd
    if fd >= 0:
        os.close(fd)
    return _DEAD


def _still_running(identity: ProcessIdentity, state: int) -> bool:
    if state == _DEAD:
        return False
    if state == _VERIFIED:
        if sys.platform == "win32":  # os.kill would terminate it there
            return os_process_alive(identity)
        try:
            os.kill(identity.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # it exists, as another user's process
        return True
    poller = _pollers.get(state)
    if poller is None:
        poller = _pollers[state] = select.poll()
        poller.register(state, select.POLLIN)
    return not poller.poll(0)


def os_process_running(identity: ProcessIdentity) -> bool:
    """Whether the OS process with this PID and start time still runs."""
    return running(identity.pid, identity.start_time)


def running(pid: int, start: int) -> bool:
    """:func:`os_process_running` of ``(pid, start)``: the calling process without a system
    call, another one with one poll of its pidfd (after the first look)."""
    me = current_process()
    if pid == me.pid and start == me.start_time:
        return True
    key = (pid, start)
    with _lock:
        state = _cache.get(key)
        if state is None:
            identity = ProcessIdentity(pid, start)
            state = _first_look(identity)
            _cache[key] = state
            if len(_cache) > _CACHE_SIZE:
                _forget(_cache.popitem(last=False)[1])
        elif state == _DEAD:
            return False
        else:
            identity = ProcessIdentity(pid, start) if state == _VERIFIED else _ANY
        alive = _still_running(identity, state)
        if not alive and state != _DEAD:
            _forget(state)
            _cache[key] = _DEAD
        return alive


_ANY = ProcessIdentity(0, 0)  # a pidfd answers by itself


def _forget(state: int) -> None:
    if state >= 0:
        _pollers.pop(state, None)
        os.close(state)


def pid_gone(pid: int) -> bool:
    """Whether no process has this PID (for temp files, which name only their writer's PID)."""
    return pid != os.getpid() and process_start_time(pid) is None


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a parent thread may have held it at the fork
    for state in _cache.values():
        with contextlib.suppress(OSError):
            _forget(state)
    _cache.clear()
    _pollers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
