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

__all__ = ["Probe", "os_process_running", "pid_gone", "running"]

_CACHE_SIZE = 256
_DEAD = -1  # known to have exited
_VERIFIED = -2  # start time verified, no pidfd: ask os.kill
_cache: collections.OrderedDict[tuple[int, int], int] = collections.OrderedDict()
_lock = threading.Lock()
# Every pidfd held, registered once: one poll answers for all of them (a readable one exited).
_pidfds: select.poll | None = select.poll() if hasattr(select, "poll") else None


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
        if fd >= 0 and _pidfds is not None:
            _pidfds.register(fd, select.POLLIN)
        return fd
    if fd >= 0:
        os.close(fd)
    return _DEAD


def _still_running(identity: ProcessIdentity, state: int, probe: Probe | None) -> bool:
    if state == _DEAD:
        return False
    if state == _VERIFIED or _pidfds is None:
        if sys.platform == "win32":  # os.kill would terminate it there
            return os_process_alive(identity)
        try:
            os.kill(identity.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # it exists, as another user's process
        return True
    if probe is None:
        return state not in _exited_now()
    if probe.exited is None:
        probe.exited = _exited_now()
    return state not in probe.exited


def _exited_now() -> frozenset[int]:
    assert _pidfds is not None
    return frozenset(fd for fd, _events in _pidfds.poll(0))


class Probe:
    """Liveness answers for one moment (one operation): the pidfds of the processes asked
    about are polled once, all together, at the first question that needs them."""

    __slots__ = ("exited",)

    def __init__(self) -> None:
        self.exited: frozenset[int] | None = None

    def running(self, pid: int, start: int) -> bool:
        return running(pid, start, self)


def os_process_running(identity: ProcessIdentity) -> bool:
    """Whether the OS process with this PID and start time still runs."""
    return running(identity.pid, identity.start_time)


def running(pid: int, start: int, probe: Probe | None = None) -> bool:
    """:func:`os_process_running` of ``(pid, start)``: the calling process without a system
    call, another one by a poll of the pidfds (after the first look; one per *probe*)."""
    me = current_process()
    if pid == me.pid and start == me.start_time:
        return True
    key = (pid, start)
    with _lock:
        state = _cache.get(key)
        if state is None:
            state = _first_look(ProcessIdentity(pid, start))
            _cache[key] = state
            if len(_cache) > _CACHE_SIZE:
                _forget(_cache.popitem(last=False)[1])
            return state != _DEAD  # just verified
        if state == _DEAD:
            return False
        identity = ProcessIdentity(pid, start) if state == _VERIFIED else _ANY
        alive = _still_running(identity, state, probe)
        if not alive:
            _forget(state)
            _cache[key] = _DEAD
        return alive


_ANY = ProcessIdentity(0, 0)  # a pidfd answers by itself


def _forget(state: int) -> None:
    if state >= 0:
        if _pidfds is not None:
            with contextlib.suppress(KeyError, ValueError):
                _pidfds.unregister(state)
        os.close(state)


def pid_gone(pid: int) -> bool:
    """Whether no process has this PID (for temp files, which name only their writer's PID)."""
    return pid != os.getpid() and process_start_time(pid) is None


def _after_fork_in_child() -> None:
    global _lock, _pidfds
    _lock = threading.Lock()  # a parent thread may have held it at the fork
    for state in _cache.values():
        with contextlib.suppress(OSError):
            _forget(state)
    _cache.clear()
    _pidfds = select.poll() if hasattr(select, "poll") else None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
