"""Microsoft's primary-installer sample for Restart Manager, translated to Python ctypes.

The C++ sample is in "Using Restart Manager with a Secondary Installer" (the primary half; the
"Primary Installer" page describes the same steps). This is a line-by-line translation, as
a Windows developer would write it: it needs nothing but ctypes and runs against the real
rstrtmgr.dll on Windows. Elsewhere, run it under ``rmcore.patch()`` (see README.md).

Changes from the C++: ``goto RM_CLEANUP`` is a ``try``/``finally``; RmShutdown passes
RmForceShutdown (the sample passes 0, with which a hung app fails the shutdown with 351); the NULL
callbacks are ``RM_WRITE_STATUS_CALLBACK()``, since ctypes refuses ``None`` for them;
each call's code is printed and the last one returned (the sample returns 0). Any
command-line arguments name a secondary installer, which is run with the session key
appended, after the primary registers its files (step 2 of the two-installer procedure).
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
from ctypes import wintypes

# restartmanager.h
CCH_RM_SESSION_KEY = 32  # RM_SESSION_KEY_LEN * 2 (sizeof(GUID) * 2)
CCH_RM_MAX_APP_NAME = 255
CCH_RM_MAX_SVC_NAME = 63
RmRebootReasonNone = 0
RmForceShutdown = 0x1

# winerror.h
ERROR_SUCCESS = 0
ERROR_MORE_DATA = 234


class RM_UNIQUE_PROCESS(ctypes.Structure):
    _fields_ = [
        ("dwProcessId", wintypes.DWORD),
        ("ProcessStartTime", wintypes.FILETIME),
    ]


class RM_PROCESS_INFO(ctypes.Structure):
    _fields_ = [
        ("Process", RM_UNIQUE_PROCESS),
        ("strAppName", ctypes.c_wchar * (CCH_RM_MAX_APP_NAME + 1)),
        ("strServiceShortName", ctypes.c_wchar * (CCH_RM_MAX_SVC_NAME + 1)),
        ("ApplicationType", ctypes.c_int),  # RM_APP_TYPE
        ("AppStatus", ctypes.c_ulong),
        ("TSSessionId", wintypes.DWORD),
        ("bRestartable", wintypes.BOOL),
    ]


RM_WRITE_STATUS_CALLBACK = ctypes.WINFUNCTYPE(None, wintypes.UINT)

# #pragma comment(lib, "rstrtmgr.lib")
rstrtmgr = ctypes.WinDLL("rstrtmgr.dll")

RmStartSession = rstrtmgr.RmStartSession
RmStartSession.restype = wintypes.DWORD
RmStartSession.argtypes = [ctypes.POINTER(wintypes.DWORD), wintypes.DWORD, wintypes.LPWSTR]

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

RmGetList = rstrtmgr.RmGetList
RmGetList.restype = wintypes.DWORD
RmGetList.argtypes = [
    wintypes.DWORD,
    ctypes.POINTER(wintypes.UINT),
    ctypes.POINTER(wintypes.UINT),
    ctypes.POINTER(RM_PROCESS_INFO),
    wintypes.LPDWORD,
]

RmShutdown = rstrtmgr.RmShutdown
RmShutdown.restype = wintypes.DWORD
RmShutdown.argtypes = [wintypes.DWORD, wintypes.ULONG, RM_WRITE_STATUS_CALLBACK]

RmRestart = rstrtmgr.RmRestart
RmRestart.restype = wintypes.DWORD
RmRestart.argtypes = [wintypes.DWORD, wintypes.DWORD, RM_WRITE_STATUS_CALLBACK]

RmEndSession = rstrtmgr.RmEndSession
RmEndSession.restype = wintypes.DWORD
RmEndSession.argtypes = [wintypes.DWORD]


def main(argv: list[str] | None = None) -> int:
    secondary = sys.argv[1:] if argv is None else argv

    dwErrCode = ERROR_SUCCESS
    dwSessionHandle = wintypes.DWORD(0xFFFFFFFF)  # Invalid handle value

    # CCH_RM_SESSION_KEY: character count of the text-encoded session key.
    sessKey = ctypes.create_unicode_buffer(CCH_RM_SESSION_KEY + 1)

    # Number of calc files to be registered.
    dwFiles = 2

    # Two calc executables: the second is the 32-bit calc on 64-bit Windows.
    rgsFiles = (wintypes.LPCWSTR * dwFiles)(
        "C:\\Windows\\System32\\calc.exe",
        "C:\\Windows\\SysWow64\\calc.exe",
    )

    nRetry = 0
    nAffectedApps = wintypes.UINT(0)
    nProcInfoNeeded = wintypes.UINT(0)
    dwRebootReasons = wintypes.DWORD(RmRebootReasonNone)
    rgAffectedApps = None

    try:
        # Start a Restart Manager session.
        dwErrCode = RmStartSession(ctypes.byref(dwSessionHandle), 0, sessKey)
        print(f"RmStartSession -> {dwErrCode}")
        if dwErrCode != ERROR_SUCCESS:
            return dwErrCode

        # Register items with Restart Manager: files here; processes (RM_UNIQUE_PROCESS)
        # and services (short names) can be registered too.
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
        if dwErrCode != ERROR_SUCCESS:
            return dwErrCode

        # Give the session key to the secondary installer, if there is one; it joins the
        # session and registers its own resources.
        if secondary:
            completed = subprocess.run([*secondary, sessKey.value], check=False)
            print(f"secondary installer exited with {completed.returncode}")

        # Obtain the list of affected applications and services. The first call returns
        # the size needed; RM refreshes the list on every call, so the buffer sized by one
        # call can be too small for the next: retry (3 calls at most, as the sample does).
        while True:
            dwErrCode = RmGetList(
                dwSessionHandle,
                ctypes.byref(nProcInfoNeeded),
                ctypes.byref(nAffectedApps),
                rgAffectedApps,
                ctypes.byref(dwRebootReasons),
            )
            print(f"RmGetList -> {dwErrCode}")
            if dwErrCode == ERROR_SUCCESS:
                break

            if dwErrCode != ERROR_MORE_DATA:
                return dwErrCode

            # RmGetList() is asking for more data.
            nAffectedApps.value = nProcInfoNeeded.value
            rgAffectedApps = (RM_PROCESS_INFO * nAffectedApps.value)()

            again = nRetry < 3
            nRetry += 1
            if not again:
                break

        if dwErrCode != ERROR_SUCCESS:
            return dwErrCode

        if dwRebootReasons.value != RmRebootReasonNone:
            # Restart Manager cannot avoid a reboot; the caller may handle this case.
            print(f"reboot needed, reasons {dwRebootReasons.value:#x}")
            return dwErrCode

        # rgAffectedApps holds nAffectedApps applications and services; a real installer
        # would ask the user's permission to shut them down.
        for index in range(nAffectedApps.value):
            assert rgAffectedApps is not None
            app = rgAffectedApps[index]
            print(f"affected: {app.strAppName} (PID {app.Process.dwProcessId})")

        # Shut down all running instances of affected applications and services. No status
        # callback: a NULL RM_WRITE_STATUS_CALLBACK (ctypes refuses None for that argtype).
        dwErrCode = RmShutdown(dwSessionHandle, RmForceShutdown, RM_WRITE_STATUS_CALLBACK())
        print(f"RmShutdown -> {dwErrCode}")
        if dwErrCode != ERROR_SUCCESS:
            return dwErrCode

        # The installer can now replace or update the calc executable.

        # Restart applications and services after the files have been replaced.
        dwErrCode = RmRestart(dwSessionHandle, 0, RM_WRITE_STATUS_CALLBACK())
        print(f"RmRestart -> {dwErrCode}")
        return dwErrCode

    finally:
        # RM_CLEANUP
        rgAffectedApps = None

        if dwSessionHandle.value != 0xFFFFFFFF:
            # Clean up the Restart Manager session.
            print(f"RmEndSession -> {RmEndSession(dwSessionHandle)}")
            dwSessionHandle.value = 0xFFFFFFFF


if __name__ == "__main__":
    sys.exit(main())
