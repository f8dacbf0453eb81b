"""Processes as kernel32 and psapi see them: the World's processes and the caller itself.

A process handle names one process *instance* (PID + start time), so a handle kept across
RmRestart still names the instance that exited. The World's processes answer from the
World; the calling process (the Simulator's PID, not in the World) answers from the host.
Access rights are granted as Windows grants them to a standard user; where Windows'
behaviour is unknown the module-level constants below decide, each with its reason.
"""

from __future__ import annotations

import ntpath
import os
import sys
import threading
from typing import TYPE_CHECKING, Final

from .. import winerror
from ..world._world import World
from ._nb_errors import Win32Failure
from ._nb_handles import CURRENT_PROCESS, ProcessObject, table_of
from ._nb_state import Beside

if TYPE_CHECKING:
    from ._rstrtmgr import Simulator

__all__ = [
    "INFINITE",
    "STILL_ACTIVE",
    "WAIT_OBJECT_0",
    "WAIT_TIMEOUT",
    "Processes",
    "SimulatedDeadlock",
]

PROCESS_TERMINATE: Final = 0x0001
PROCESS_VM_READ: Final = 0x0010
PROCESS_QUERY_INFORMATION: Final = 0x0400
PROCESS_QUERY_LIMITED_INFORMATION: Final = 0x1000
SYNCHRONIZE: Final = 0x00100000
PROCESS_ALL_ACCESS: Final = 0x001FFFFF
MAXIMUM_ALLOWED: Final = 0x02000000
STILL_ACTIVE: Final = 259
WAIT_OBJECT_0: Final = 0
WAIT_TIMEOUT: Final = 258
INFINITE: Final = 0xFFFFFFFF
_GENERIC: Final = {  # process generic mapping (GENERIC_READ, _WRITE, _EXECUTE, _ALL)
    0x80000000: 0x00020410,
    0x40000000: 0x00020BEA,
    0x20000000: 0x00121001,
    0x10000000: PROCESS_ALL_ACCESS,
}
_TICKS_PER_SECOND = 10_000_000

# Documented (OpenProcess): PID 0, the System Idle Process, is ERROR_INVALID_PARAMETER;
# PID 4, the System process, is ERROR_ACCESS_DENIED (it always exists on Windows).
SYSTEM_PID: Final = 4

# Decided (with why) in rmcore.session._decisions.DECISIONS.
RESTRICTED_PROCESS_ACCESS: Final = PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE
EXITED_PROCESSES_OPENABLE: Final = True
EXIT_CODE_WHEN_CLOSED: Final = 0
WORLD_CPU_TIME: Final = 0
NATIVE_VOLUME_PREFIX: Final = "\\Device\\HarddiskVolume"


class SimulatedDeadlock(RuntimeError):
    """A wait that would never return on Windows (rmcore never blocks in real time)."""


class _Exits:
    """Exit code and exit FILETIME of the World's process instances (per World)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.records: dict[tuple[int, int], tuple[int, int]] = {}


_exits: Beside[object, _Exits] = Beside(lambda _world: _Exits())


def _granted(requested: int, restricted: bool) -> int:
    """The access OpenProcess grants for *requested*, or ERROR_ACCESS_DENIED."""
    for generic, specific in _GENERIC.items():
        if requested & generic:
            requested = (requested & ~generic) | specific
    allowed = RESTRICTED_PROCESS_ACCESS if restricted else PROCESS_ALL_ACCESS
    if requested & MAXIMUM_ALLOWED:
        requested = (requested & ~MAXIMUM_ALLOWED) | allowed
    if restricted and requested & ~allowed:
        raise Win32Failure(winerror.ERROR_ACCESS_DENIED, f"access {requested:#x} refused")
    if requested & PROCESS_QUERY_INFORMATION:  # documented: implies the limited right
        requested |= PROCESS_QUERY_LIMITED_INFORMATION
    return requested


class Processes:
    """The process calls of one simulated process (its handles, its world)."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.handles = table_of(simulator)
        world = simulator.world
        self.world = world if isinstance(world, World) else None  # the host world: caller only

    # -- opening and naming ------------------------------------------------------------

    def open(self, pid: int, access: int) -> int:
        """OpenProcess: a new handle, or 87 (no such process) / 5 (access refused)."""
        app = None if self.world is None else self.world.find_pid(pid)
        if app is not None and (app.running or EXITED_PROCESSES_OPENABLE):
            granted = _granted(access, app.other_user or app.critical)
            return self.handles.add(ProcessObject(app, app.pid, app.start_time, granted))
        if pid == self.simulator.pid:
            return self.handles.add(self._self(_granted(access, False)))
        if pid == SYSTEM_PID:
            raise Win32Failure(winerror.ERROR_ACCESS_DENIED, "the System process")
        raise Win32Failure(winerror.ERROR_INVALID_PARAMETER, f"no process has PID {pid}")

    def _self(self, access: int) -> ProcessObject:
        own = self.simulator.process.os_process
        return ProcessObject(None, own.pid, own.start_time, access)

    def lookup(self, handle: int, needs: int) -> ProcessObject:
        """The process a handle names, if it has all the rights in *needs* (else 5); a
        file handle or an unknown value is ERROR_INVALID_HANDLE."""
        if handle == CURRENT_PROCESS:
            return self._self(PROCESS_ALL_ACCESS)
        entry = self.handles.get(handle)
        if not isinstance(entry, ProcessObject):
            raise Win32Failure(winerror.ERROR_INVALID_HANDLE, f"{handle:#x} is no process")
        if entry.access & needs != needs:
            raise Win32Failure(winerror.ERROR_ACCESS_DENIED, f"handle lacks {needs:#x}")
        return entry

    def running(self, process: ProcessObject) -> bool:
        app = process.app
        return app is None or (app.running and app.id == (process.pid, process.start_time))

    def image_path(self, process: ProcessObject) -> str:
        return os.path.abspath(sys.executable) if process.app is None else process.app.image_path

    def base_name(self, process: ProcessObject) -> str:
        return ntpath.basename(self.image_path(process))

    def pids(self) -> list[int]:
        """EnumProcesses: running World processes and the caller, in ascending PID order."""
        running = {app.pid for app in self.world.apps if app.running} if self.world else set()
        return sorted(running | {self.simulator.pid})

    # -- life and death ----------------------------------------------------------------

    def exit_record(self, process: ProcessObject) -> tuple[int, int] | None:
        """(exit code, exit FILETIME) once the instance has ended, else ``None``."""
        if self.running(process) or self.world is None:
            return None
        exits = _exits.of(self.world)
        with exits.lock:
            key = (process.pid, process.start_time)
            if key not in exits.records:
                ended = max(process.start_time, self.world.filetime())
                exits.records[key] = (EXIT_CODE_WHEN_CLOSED, ended)
            return exits.records[key]

    def times(self, process: ProcessObject) -> tuple[int, int, int, int]:
        """GetProcessTimes: creation, exit, kernel and user time (FILETIME/100 ns units)."""
        if process.app is None:
            used = os.times()
            kernel, user = (int(t * _TICKS_PER_SECOND) for t in (used.system, used.user))
            return process.start_time, 0, kernel, user
        record = self.exit_record(process)
        ended = 0 if record is None else record[1]
        return process.start_time, ended, WORLD_CPU_TIME, WORLD_CPU_TIME

    def exit_code(self, process: ProcessObject) -> int:
        record = self.exit_record(process)
        return STILL_ACTIVE if record is None else record[0]

    def terminate(self, process: ProcessObject, code: int) -> None:
        """TerminateProcess: the World process stops and frees its files; an ended one is
        ERROR_ACCESS_DENIED (as on Windows); the caller itself exits."""
        if process.app is None:
            from ._rstrtmgr import SimulatorExited

            self.simulator.terminate()
            self.handles.close_all()
            raise SimulatorExited(f"TerminateProcess ended the calling process (code {code})")
        if self.world is None:
            raise Win32Failure(winerror.ERROR_ACCESS_DENIED, "no such process in this world")
        exits = _exits.of(self.world)
        with exits.lock:  # one of two racing TerminateProcess calls wins, as on Windows
            if not self.running(process):
                raise Win32Failure(winerror.ERROR_ACCESS_DENIED, "the process has exited")
            self.world.terminate(process.app)
            exits.records[(process.pid, process.start_time)] = (code, self.world.filetime())

    def wait(self, process: ProcessObject, milliseconds: int) -> int:
        """WaitForSingleObject on a process, in simulated time only."""
        if not self.running(process):
            return WAIT_OBJECT_0
        if milliseconds == INFINITE:
            raise SimulatedDeadlock(
                f"WaitForSingleObject(INFINITE) on running process {process.pid}: on Windows "
                "this call would never return (stop or terminate the process first)"
            )
        self.simulator.clock.advance(milliseconds / 1000)
        return WAIT_TIMEOUT

    def native_path(self, path: str) -> str:
        """A Win32 path in the kernel's \\Device\\ form (host paths are left as they are)."""
        if len(path) >= 2 and path[1] == ":" and path[0].isascii() and path[0].isalpha():
            number = ord(path[0].upper()) - ord("A") + 1
            return f"{NATIVE_VOLUME_PREFIX}{number}{path[2:]}"
        if path.startswith("\\\\") and not path.startswith("\\\\?\\"):
            return "\\Device\\Mup" + path[1:]
        return path
