"""Microsoft's secondary-installer sample for Restart Manager, translated to Python ctypes.

The C++ sample is the second half of "Using Restart Manager with a Secondary Installer". It
joins the primary installer's session, registers one file and leaves. Line by line, as a
Windows developer would write it; runs against the real rstrtmgr.dll on Windows, elsewhere
under ``rmcore.patch()`` (see README.md).

Changes from the C++: the session key the sample "obtains from the primary" is the first
command-line argument; ``goto RM_CLEANUP`` is a ``try``/``finally``; each call's code is
printed and the last one returned (the sample returns 0).

Usage: ``python ms_secondary_installer.py SESSION_KEY``
"""

from __future__ import annotations

import ctypes
import sys
from ctypes import wintypes

# restartmanager.h
CCH_RM_SESSION_KEY = 32  # RM_SESSION_KEY_LEN * 2 (sizeof(GUID) * 2)

# winerror.h
ERROR_SUCCESS = 0
ERROR_BAD_ARGUMENTS = 160


class RM_UNIQUE_PROCESS(ctypes.Structure):
    _fields_ = [
        ("dwProcessId", wintypes.DWORD),
        ("ProcessStartTime", wintypes.FILETIME),
    ]


# #pragma comment(lib, "rstrtmgr.lib")
rstrtmgr = ctypes.WinDLL("rstrtmgr.dll")

RmJoinSession = rstrtmgr.RmJoinSession
RmJoinSession.restype = wintypes.DWORD
RmJoinSession.argtypes = [ctypes.POINTER(wintypes.DWORD), wintypes.LPCWSTR]

RmRegisterResources = rstrtmgr.RmRegisterResources
RmRegisterResources.restype = wintypes.DWORD
RmRegisterResources.argtypes = [
    wintypes.DWORD,
    wintypes.UINT,
    ctypes.POINTER(wintypes.LPCWSTR),
    wintypes.UINT,
    ctypes.POINTER(RM_UNIQUE_PROCESS),
    wintypes.UINT,
    ctypes.POINTER(wintypes.LPCWSTR),
]

RmEndSession = rstrtmgr.RmEndSession
RmEndSession.restype = wintypes.DWORD
RmEndSession.argtypes = [wintypes.DWORD]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv

    dwErrCode = ERROR_SUCCESS
    dwSessionHandle = wintypes.DWORD(0xFFFFFFFF)  # Invalid handle value

    # CCH_RM_SESSION_KEY: character count of the text-encoded session key.
    sessKey = ctypes.create_unicode_buffer(CCH_RM_SESSION_KEY + 1)

    # Number of files to be registered.
    dwFiles = 1

    # We register oleaut32.dll with Restart Manager.
    rgsFiles = (wintypes.LPCWSTR * dwFiles)("C:\\Windows\\System32\\oleaut32.dll")

    # The secondary installer obtains the session key from the primary installer: here, as
    # its one command-line argument.
    if len(args) != 1 or len(args[0]) > CCH_RM_SESSION_KEY:
        print("usage: ms_secondary_installer.py SESSION_KEY", file=sys.stderr)
        return ERROR_BAD_ARGUMENTS
    sessKey.value = args[0]

    try:
        dwErrCode = RmJoinSession(ctypes.byref(dwSessionHandle), sessKey)
        print(f"RmJoinSession -> {dwErrCode}")
        if dwErrCode != ERROR_SUCCESS:
            return dwErrCode

        # Register items with Restart Manager. On Vista a secondary may only register
        # resources: no get-list, shutdown, restart or filter operations.
        dwErrCode = RmRegisterResources(
            dwSessionHandle,
            dwFiles,
            rgsFiles,  # Files
            0,
            None,  # Processes
            0,
            None,  # Services
        )
        print(f"RmRegisterResources -> {dwErrCode}")
        return dwErrCode

    finally:
        # RM_CLEANUP
        if dwSessionHandle.value != 0xFFFFFFFF:
            # The secondary leaves the primary's session; the session itself lasts until
            # the primary installer calls RmEndSession().
            print(f"RmEndSession -> {RmEndSession(dwSessionHandle)}")
            dwSessionHandle.value = 0xFFFFFFFF


if __name__ == "__main__":
    sys.exit(main())
