"""The simulated psapi.dll: process lists and module names, over the Simulator's world.

:class:`PsapiExports` holds the exports; kernel32 exports the same functions with a
``K32`` prefix (psapi forwards to them on Windows 7 and later), so both DLLs share them.
A process's only module is its image: ``hModule`` NULL names it.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final

from .. import winerror
from . import _args as args
from ._libraries import NativeLibrary
from ._nb_errors import Win32Failure, export
from ._nb_handles import handle_value
from ._nb_memory import in_out_dword, wide, write_all
from ._nb_processes import (
    PROCESS_QUERY_INFORMATION,
    PROCESS_QUERY_LIMITED_INFORMATION,
    PROCESS_VM_READ,
    Processes,
)

if TYPE_CHECKING:
    from ._rstrtmgr import Simulator

__all__ = ["Psapi", "PsapiExports"]

_MODULE_ACCESS = PROCESS_QUERY_INFORMATION | PROCESS_VM_READ  # documented for both calls


# Decided (with why) in rmcore.session._decisions.DECISIONS.
OTHER_MODULE_RESULT: Final = winerror.ERROR_INVALID_HANDLE
EXITED_MODULE_RESULT: Final = winerror.ERROR_PARTIAL_COPY


class PsapiExports:
    """EnumProcesses, GetModuleBaseNameW, GetModuleFileNameExW, GetProcessImageFileNameW."""

    simulator: Simulator
    processes: Processes

    def _diagnostics(self, function: str) -> args.Diagnostics:
        return args.Diagnostics(function, self.simulator.strict)

    @export(3, failure=0)
    def EnumProcesses(self, lpidProcess: object, cb: object, lpcbNeeded: object) -> int:
        """The PIDs that fit in *cb* bytes; TRUE even when they do not all fit (Windows'
        contract: the caller compares ``*lpcbNeeded`` with *cb*)."""
        diagnostics = self._diagnostics("EnumProcesses")
        room = args.dword(cb, 2) // 4
        returned = in_out_dword(lpcbNeeded, 3, diagnostics, "lpcbNeeded")
        pids = self.processes.pids()[:room]
        if pids:
            data = struct.pack(f"<{len(pids)}I", *pids)
            write_all([(lpidProcess, 1, data, "lpidProcess")], diagnostics)
        returned.set(4 * len(pids))
        return 1

    def _module_name(
        self, function: str, process_arg: object, module_arg: object, full: bool
    ) -> str:
        process = self.processes.lookup(handle_value(process_arg, 1), _MODULE_ACCESS)
        module = handle_value(module_arg, 2)
        if module:
            raise Win32Failure(OTHER_MODULE_RESULT, f"{function}: no module {module:#x} there")
        if not self.processes.running(process):
            raise Win32Failure(EXITED_MODULE_RESULT, f"{function}: the process has exited")
        return self.processes.image_path(process) if full else self.processes.base_name(process)

    def _copy_name(self, function: str, name: str, buffer: object, size: object) -> int:
        """Write *name* (parameters 3 and 4) cut as the decision "module-name truncation" says."""
        room = args.dword(size, 4)
        if room == 0:
            raise Win32Failure(winerror.ERROR_INSUFFICIENT_BUFFER, f"{function}: nSize is 0")
        copied = name[: room - 1]
        write_all([(buffer, 3, wide(copied), "lpBaseName")], self._diagnostics(function))
        return len(copied)

    @export(4, failure=0)
    def GetModuleBaseNameW(
        self, hProcess: object, hModule: object, lpBaseName: object, nSize: object
    ) -> int:
        name = self._module_name("GetModuleBaseNameW", hProcess, hModule, full=False)
        return self._copy_name("GetModuleBaseNameW", name, lpBaseName, nSize)

    @export(4, failure=0)
    def GetModuleFileNameExW(
        self, hProcess: object, hModule: object, lpFilename: object, nSize: object
    ) -> int:
        name = self._module_name("GetModuleFileNameExW", hProcess, hModule, full=True)
        return self._copy_name("GetModuleFileNameExW", name, lpFilename, nSize)

    @export(3, failure=0)
    def GetProcessImageFileNameW(
        self, hProcess: object, lpImageFileName: object, nSize: object
    ) -> int:
        """The image in native form (``\\Device\\HarddiskVolumeN\\...``); too small a
        buffer is winerror.ERROR_INSUFFICIENT_BUFFER."""
        handle = handle_value(hProcess, 1)
        process = self.processes.lookup(handle, PROCESS_QUERY_LIMITED_INFORMATION)
        path = self.processes.native_path(self.processes.image_path(process))
        if len(path) + 1 > args.dword(nSize, 3):
            raise Win32Failure(winerror.ERROR_INSUFFICIENT_BUFFER, f"{len(path) + 1} WCHARs needed")
        diagnostics = self._diagnostics("GetProcessImageFileNameW")
        write_all([(lpImageFileName, 2, wide(path), "lpImageFileName")], diagnostics)
        return len(path)


class Psapi(NativeLibrary, PsapiExports):
    """psapi.dll as one simulated process loads it."""

    name = "psapi"

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        self.processes = Processes(self.simulator)
