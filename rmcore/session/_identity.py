"""Process identity as Restart Manager records it: PID + creation time (RM_UNIQUE_PROCESS).

The start time is a FILETIME (100 ns ticks since 1601-01-01 UTC) read from the OS, so a
recycled PID never passes for the process that used it before. A simulated process adds an
instance number, so several Simulators in one interpreter are distinct processes.
"""

from __future__ import annotations

import functools
import itertools
import os
import struct
import subprocess
import sys
from dataclasses import dataclass

__all__ = [
    "ProcessIdentity",
    "SimulatedProcess",
    "current_process",
    "new_simulated_process",
    "os_process_alive",
    "process_start_time",
]

_EPOCH_AS_FILETIME = 116_444_736_000_000_000  # 1970-01-01 in FILETIME ticks
_TICKS_PER_SECOND = 10_000_000
_UNIQUE_PROCESS = struct.Struct("<III")  # dwProcessId, dwLowDateTime, dwHighDateTime


@dataclass(frozen=True, order=True)
class ProcessIdentity:
    """An OS process: PID and creation time as a 64-bit FILETIME."""

    pid: int
    start_time: int

    def to_rm_unique_process(self) -> bytes:
        """The 12-byte RM_UNIQUE_PROCESS encoding (the hive's ``Owner`` value)."""
        return _UNIQUE_PROCESS.pack(self.pid, self.start_time & 0xFFFFFFFF, self.start_time >> 32)

    @classmethod
    def from_rm_unique_process(cls, data: bytes) -> ProcessIdentity:
        pid, low, high = _UNIQUE_PROCESS.unpack(data)
        return cls(pid, (high << 32) | low)


@dataclass(frozen=True, order=True)
class SimulatedProcess:
    """A simulated process: the OS process it runs in plus its instance number there."""

    os_process: ProcessIdentity
    instance: int

    def tag(self) -> str:
        """A file-name-safe text form, unique per simulated process."""
        ident = self.os_process
        return f"{ident.pid:08X}-{ident.start_time:016X}-{self.instance:08X}"


_instance_numbers = itertools.count()


def new_simulated_process() -> SimulatedProcess:
    """A fresh simulated process inside the calling OS process."""
    return SimulatedProcess(current_process(), next(_instance_numbers))


def current_process() -> ProcessIdentity:
    """The calling OS process (recomputed after fork, since the PID changes)."""
    return _current or _remember_current()


_current: ProcessIdentity | None = None  # forgotten in a forked child (no getpid per ask)


def _remember_current() -> ProcessIdentity:
    global _current
    _current = _identity_of(os.getpid())
    return _current


def _forget_current() -> None:
    global _current
    _current = None


if hasattr(os, "register_at_fork"):  # (hosts without it cannot fork)
    os.register_at_fork(after_in_child=_forget_current)


@functools.lru_cache(maxsize=8)
def _identity_of(pid: int) -> ProcessIdentity:
    start = process_start_time(pid)
    return ProcessIdentity(pid, 0 if start is None else start)


# Linux derives start times from /proc/stat's btime, which moves when the wall clock is
# stepped and is rounded to the second: two processes may see one start time up to a
# second apart. A PID reused within that window is not a realistic risk.
_SAME_START_TOLERANCE = 2 * _TICKS_PER_SECOND


def os_process_alive(identity: ProcessIdentity) -> bool:
    """Whether the process with this PID *and* this creation time still runs."""
    start = process_start_time(identity.pid)
    return start is not None and abs(start - identity.start_time) <= _SAME_START_TOLERANCE


# -- per-host start-time readers: return None when no such (running) process exists ---------


@functools.lru_cache(maxsize=1)
def _linux_boot_time() -> int:
    with open("/proc/stat", "rb") as handle:
        for line in handle:
            if line.startswith(b"btime "):
                return int(line.split()[1])
    raise OSError("no btime in /proc/stat")


def _linux_start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in (b"Z", b"X"):  # a zombie has exited; only its exit status remains
        return None
    ticks, per_second = int(fields[19]), os.sysconf("SC_CLK_TCK")
    seconds_ticks = _linux_boot_time() * _TICKS_PER_SECOND
    return _EPOCH_AS_FILETIME + seconds_ticks + ticks * _TICKS_PER_SECOND // per_second


def _ps_start_time(pid: int) -> int | None:
    """Other POSIX hosts (macOS, BSD): ``ps`` reports the start time to the second."""
    import time

    try:
        out = subprocess.run(
            ["ps", "-o", "lstart=,stat=", "-p", str(pid)],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
        ).stdout.split()
    except OSError:
        return None
    if len(out) < 6 or out[5].startswith("Z"):
        return None
    started = time.strptime(" ".join(out[:5]), "%a %b %d %H:%M:%S %Y")
    seconds = time.mktime(started)  # lstart is local time
    return _EPOCH_AS_FILETIME + int(seconds) * _TICKS_PER_SECOND


def _windows_start_time(pid: int) -> int | None:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return None
    try:
        code = wintypes.DWORD()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) or code.value != 259:
            return None  # 259 = STILL_ACTIVE
        times = [wintypes.FILETIME() for _ in range(4)]
        if not kernel32.GetProcessTimes(handle, *(ctypes.byref(t) for t in times)):
            return None
        return (times[0].dwHighDateTime << 32) | times[0].dwLowDateTime
    finally:
        kernel32.CloseHandle(handle)


if sys.platform.startswith("linux"):
    process_start_time = _linux_start_time
elif sys.platform == "win32":  # pragma: no cover
    process_start_time = _windows_start_time
else:  # pragma: no cover
    process_start_time = _ps_start_time
