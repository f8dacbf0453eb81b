"""The simulated kernel32.dll: the calls Restart Manager clients make next to rstrtmgr.

Processes answer from the Simulator's world (:mod:`._nb_processes`), files from the host
with Windows' names, errors and sharing (:mod:`._nb_files`); process and file handles share
one table per simulated process (:mod:`._nb_handles`). Each export takes its arguments as
the DLL does (:mod:`._args`), fails as the documented function fails (its failure value and
``SetLastError``), and never crashes on bad input: a bad pointer is the access violation
Windows' ctypes raises. Every other kernel32 export loads and raises
:class:`~rmcore.win32._libraries.NotSimulatedError` when called.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Final

from .. import winerror
from . import _args as args
from ._libraries import NativeLibrary, NotSimulatedError, native
from ._nb_errors import Win32Failure, export
from ._nb_files import INVALID_FILE_ATTRIBUTES, attributes_of, information, open_file
from ._nb_handles import CURRENT_PROCESS, FileObject, handle_value
from ._nb_memory import in_out_dword, wide, write_all
from ._nb_processes import (
    PROCESS_QUERY_LIMITED_INFORMATION,
    PROCESS_TERMINATE,
    SYNCHRONIZE,
    WAIT_OBJECT_0,
    Processes,
)
from ._psapi import PsapiExports
from ._winctypes import set_system_error, system_error

if TYPE_CHECKING:
    from ._rstrtmgr import Simulator

__all__ = ["Kernel32"]

INVALID_HANDLE_VALUE: Final = -1
WAIT_FAILED: Final = 0xFFFFFFFF
PROCESS_NAME_NATIVE: Final = 0x1
_BY_HANDLE_FILE_INFORMATION = 52
_FORMAT_ALLOCATE_BUFFER, _FORMAT_FROM_STRING, _FORMAT_FROM_HMODULE = 0x100, 0x400, 0x800
_FORMAT_FROM_SYSTEM, _FORMAT_MAX_WIDTH_MASK = 0x1000, 0xFF

# Decided (with why) in rmcore.session._decisions.DECISIONS.
FILE_HANDLE_WAIT_RESULT: Final = WAIT_OBJECT_0


class Kernel32(NativeLibrary, PsapiExports):
    """kernel32.dll as one simulated process loads it."""

    name = "kernel32"

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        self.processes = Processes(simulator)
        self.handles = self.processes.handles

    # -- the last error, the process's own identity -----------------------------------

    @native(0)
    def GetLastError(self) -> int:
        return system_error()

    @native(1)
    def SetLastError(self, dwErrCode: object) -> int:
        set_system_error(args.dword(dwErrCode, 1))
        return 0

    @native(0)
    def GetCurrentProcess(self) -> int:
        return CURRENT_PROCESS

    @native(0)
    def GetCurrentProcessId(self) -> int:
        return self.simulator.pid

    # -- processes ----------------------------------------------------------------------

    @export(3, failure=0)
    def OpenProcess(
        self, dwDesiredAccess: object, bInheritHandle: object, dwProcessId: object
    ) -> int:
        access = args.dword(dwDesiredAccess, 1)
        args.dword(bInheritHandle, 2)
        return self.processes.open(args.dword(dwProcessId, 3), access)

    @export(1, failure=0)
    def GetProcessId(self, Process: object) -> int:
        handle = handle_value(Process, 1)
        return self.processes.lookup(handle, PROCESS_QUERY_LIMITED_INFORMATION).pid

    @export(1, failure=0)
    def CloseHandle(self, hObject: object) -> int:
        self.handles.close(handle_value(hObject, 1))
        return 1

    @export(4, failure=0)
    def QueryFullProcessImageNameW(
        self, hProcess: object, dwFlags: object, lpExeName: object, lpdwSize: object
    ) -> int:
        """The image path; ``*lpdwSize`` (in WCHARs) must leave room for the NUL, else
        ERROR_INSUFFICIENT_BUFFER (the decision "short image-name buffer")."""
        diagnostics = self._diagnostics("QueryFullProcessImageNameW")
        flags = args.dword(dwFlags, 2)
        if flags & ~PROCESS_NAME_NATIVE:
            raise Win32Failure(winerror.ERROR_INVALID_PARAMETER, f"dwFlags {flags:#x}")
        handle = handle_value(hProcess, 1)
        process = self.processes.lookup(handle, PROCESS_QUERY_LIMITED_INFORMATION)
        size = in_out_dword(lpdwSize, 4, diagnostics, "lpdwSize")
        path = self.processes.image_path(process)
        if flags & PROCESS_NAME_NATIVE:
            path = self.processes.native_path(path)
        if len(path) + 1 > size.get():
            raise Win32Failure(winerror.ERROR_INSUFFICIENT_BUFFER, f"{len(path) + 1} WCHARs needed")
        write_all([(lpExeName, 3, wide(path), "lpExeName")], diagnostics)
        size.set(len(path))
        return 1

    @export(5, failure=0)
    def GetProcessTimes(
        self,
        hProcess: object,
        lpCreationTime: object,
        lpExitTime: object,
        lpKernelTime: object,
        lpUserTime: object,
    ) -> int:
        """Creation time is the start time RmGetList reports (RM_UNIQUE_PROCESS)."""
        handle = handle_value(hProcess, 1)
        process = self.processes.lookup(handle, PROCESS_QUERY_LIMITED_INFORMATION)
        values = self.processes.times(process)
        names = ("lpCreationTime", "lpExitTime", "lpKernelTime", "lpUserTime")
        outs = zip(
            (lpCreationTime, lpExitTime, lpKernelTime, lpUserTime), values, names, strict=True
        )
        write_all(
            [
                (arg, position, struct.pack("<Q", value), name)
                for position, (arg, value, name) in enumerate(outs, 2)
            ],
            self._diagnostics("GetProcessTimes"),
        )
        return 1

    @export(2, failure=0)
    def GetExitCodeProcess(self, hProcess: object, lpExitCode: object) -> int:
        handle = handle_value(hProcess, 1)
        process = self.processes.lookup(handle, PROCESS_QUERY_LIMITED_INFORMATION)
        code = struct.pack("<I", self.processes.exit_code(process) & 0xFFFFFFFF)
        write_all([(lpExitCode, 2, code, "lpExitCode")], self._diagnostics("GetExitCodeProcess"))
        return 1

    @export(2, failure=0)
    def TerminateProcess(self, hProcess: object, uExitCode: object) -> int:
        process = self.processes.lookup(handle_value(hProcess, 1), PROCESS_TERMINATE)
        self.processes.terminate(process, args.dword(uExitCode, 2))
        return 1

    @export(2, failure=WAIT_FAILED)
    def WaitForSingleObject(self, hHandle: object, dwMilliseconds: object) -> int:
        handle = handle_value(hHandle, 1)
        milliseconds = args.dword(dwMilliseconds, 2)
        if handle != CURRENT_PROCESS and isinstance(self.handles.get(handle), FileObject):
            return FILE_HANDLE_WAIT_RESULT
        return self.processes.wait(self.processes.lookup(handle, SYNCHRONIZE), milliseconds)

    # psapi's functions, exported by kernel32 under their K32 names
    K32EnumProcesses = PsapiExports.EnumProcesses
    K32GetModuleBaseNameW = PsapiExports.GetModuleBaseNameW
    K32GetModuleFileNameExW = PsapiExports.GetModuleFileNameExW
    K32GetProcessImageFileNameW = PsapiExports.GetProcessImageFileNameW

    # -- files --------------------------------------------------------------------------

    @export(1, failure=INVALID_FILE_ATTRIBUTES)
    def GetFileAttributesW(self, lpFileName: object) -> int:
        diagnostics = self._diagnostics("GetFileAttributesW")
        return attributes_of(args.wstr(lpFileName, 1, diagnostics, "lpFileName"))

    @export(7, failure=INVALID_HANDLE_VALUE)
    def CreateFileW(
        self,
        lpFileName: object,
        dwDesiredAccess: object,
        dwShareMode: object,
        lpSecurityAttributes: object,
        dwCreationDisposition: object,
        dwFlagsAndAttributes: object,
        hTemplateFile: object,
    ) -> int:
        """A handle over a host file descriptor; a file a World process holds is
        ERROR_SHARING_VIOLATION for any open asking for data access."""
        name = args.wstr(lpFileName, 1, self._diagnostics("CreateFileW"), "lpFileName")
        access, share = args.dword(dwDesiredAccess, 2), args.dword(dwShareMode, 3)
        args.pointer(lpSecurityAttributes, 4)  # not used, but converted as ctypes would
        disposition = args.dword(dwCreationDisposition, 5)
        flags = args.dword(dwFlagsAndAttributes, 6)
        handle_value(hTemplateFile, 7)  # ignored when opening, as Windows ignores it
        opened = open_file(self.simulator.world, name, access, share, disposition, flags)
        handle = self.handles.add(FileObject(opened.fd, opened.path, opened.access, opened.release))
        if opened.last_error is not None:
            set_system_error(opened.last_error)
        return handle

    @export(2, failure=0)
    def GetFileInformationByHandle(self, hFile: object, lpFileInformation: object) -> int:
        handle = handle_value(hFile, 1)
        entry = self.handles.get(handle) if handle != CURRENT_PROCESS else None
        if not isinstance(entry, FileObject):
            raise Win32Failure(winerror.ERROR_INVALID_HANDLE, f"{handle:#x} is no file")
        diagnostics = self._diagnostics("GetFileInformationByHandle")
        found = args.pointer(lpFileInformation, 2)
        if found is not None:
            args.check_record_type(
                found,
                _BY_HANDLE_FILE_INFORMATION,
                diagnostics,
                "lpFileInformation",
                "BY_HANDLE_FILE_INFORMATION",
            )
        data = information(entry.fd)
        write_all([(lpFileInformation, 2, data, "lpFileInformation")], diagnostics)
        return 1

    # -- messages -----------------------------------------------------------------------

    @export(7, failure=0)
    def FormatMessageW(
        self,
        dwFlags: object,
        lpSource: object,
        dwMessageId: object,
        dwLanguageId: object,
        lpBuffer: object,
        nSize: object,
        Arguments: object,
    ) -> int:
        """A system message into the caller's buffer (``nSize`` WCHARs); the result is
        its length without the NUL."""
        flags = args.dword(dwFlags, 1)
        source = args.pointer(lpSource, 2)
        code = args.dword(dwMessageId, 3)
        args.dword(dwLanguageId, 4)
        size = args.dword(nSize, 6)
        args.pointer(Arguments, 7)
        unsupported = flags & (_FORMAT_ALLOCATE_BUFFER | _FORMAT_FROM_STRING)
        if unsupported or (flags & _FORMAT_FROM_HMODULE and source is not None):
            raise NotSimulatedError(f"not simulated by rmcore: FormatMessageW flags {flags:#x}")
        if not flags & (_FORMAT_FROM_SYSTEM | _FORMAT_FROM_HMODULE):
            raise Win32Failure(winerror.ERROR_INVALID_PARAMETER, f"no message source in {flags:#x}")
        text = winerror.MESSAGES.get(code)
        if text is None:
            raise Win32Failure(winerror.ERROR_MR_MID_NOT_FOUND, f"no message for {code}")
        text += " " if flags & _FORMAT_MAX_WIDTH_MASK else "\r\n"
        if len(text) + 1 > size:
            raise Win32Failure(winerror.ERROR_INSUFFICIENT_BUFFER, f"{len(text) + 1} WCHARs needed")
        write_all([(lpBuffer, 5, wide(text), "lpBuffer")], self._diagnostics("FormatMessageW"))
        return len(text)
