"""Shared pieces of the kernel32/psapi tests: bindings as clients write them, the RM dance.

Everything runs through ``ctypes`` under ``rmcore.patch()`` exactly as client code does:
``ctypes.WinDLL("kernel32", use_last_error=True)`` with the argtypes real clients set
(FDF's winapi.py, nullout), ``windll.kernel32`` without any, and ``WinDLL("rstrtmgr")``.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterator
from ctypes import POINTER, byref, wintypes
from typing import Any

import pytest

from rmcore.win32 import _winctypes

OFF_WINDOWS = pytest.mark.skipif(
    sys.platform == "win32", reason="off Windows only: on Windows these are the real DLLs"
)
# Each test patches with its own World inside the plugin's per-test context, on purpose.
SIMULATOR_OPTIONS_INSIDE_THE_PLUGIN = pytest.mark.filterwarnings(
    "ignore:rmcore.patch\\(\\) with Simulator options:RuntimeWarning"
)

EDITOR = "C:\\Program Files\\Editor\\editor.exe"
PROCESS_TERMINATE = 0x0001
PROCESS_VM_READ = 0x0010
PROCESS_QUERY_INFORMATION = 0x0400
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
SYNCHRONIZE = 0x00100000
MAXIMUM_ALLOWED = 0x02000000
GENERIC_READ, GENERIC_WRITE = 0x80000000, 0x40000000
FILE_READ_ATTRIBUTES = 0x80
FILE_SHARE_ALL = 7
CREATE_NEW, CREATE_ALWAYS, OPEN_EXISTING, OPEN_ALWAYS, TRUNCATE_EXISTING = 1, 2, 3, 4, 5
FILE_FLAG_BACKUP_SEMANTICS = 0x02000000
INVALID_HANDLE_VALUE = ctypes.c_void_p(-1).value  # as FDF computes it
WAIT_TIMEOUT, WAIT_FAILED, INFINITE = 258, 0xFFFFFFFF, 0xFFFFFFFF
STILL_ACTIVE = 259

LPVOID = ctypes.c_void_p
_PROTOTYPES: list[tuple[str, Any, list[Any]]] = [
    ("OpenProcess", wintypes.HANDLE, [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]),
    ("CloseHandle", wintypes.BOOL, [wintypes.HANDLE]),
    (
        "QueryFullProcessImageNameW",
        wintypes.BOOL,
        [wintypes.HANDLE, wintypes.DWORD, wintypes.LPWSTR, POINTER(wintypes.DWORD)],
    ),
    ("GetProcessTimes", wintypes.BOOL, [wintypes.HANDLE] + [POINTER(wintypes.FILETIME)] * 4),
    ("GetExitCodeProcess", wintypes.BOOL, [wintypes.HANDLE, POINTER(wintypes.DWORD)]),
    ("TerminateProcess", wintypes.BOOL, [wintypes.HANDLE, wintypes.UINT]),
    ("WaitForSingleObject", wintypes.DWORD, [wintypes.HANDLE, wintypes.DWORD]),
    ("GetProcessId", wintypes.DWORD, [wintypes.HANDLE]),
    ("GetCurrentProcess", wintypes.HANDLE, []),
    ("GetCurrentProcessId", wintypes.DWORD, []),
    (
        "K32GetModuleBaseNameW",
        wintypes.DWORD,
        [wintypes.HANDLE, wintypes.HMODULE, wintypes.LPWSTR, wintypes.DWORD],
    ),
    (
        "K32EnumProcesses",
        wintypes.BOOL,
        [POINTER(wintypes.DWORD), wintypes.DWORD, POINTER(wintypes.DWORD)],
    ),
    (
        "CreateFileW",
        wintypes.HANDLE,
        [
            wintypes.LPCWSTR,
            wintypes.DWORD,
            wintypes.DWORD,
            LPVOID,
            wintypes.DWORD,
            wintypes.DWORD,
            wintypes.HANDLE,
        ],
    ),
    ("GetFileInformationByHandle", wintypes.BOOL, [wintypes.HANDLE, LPVOID]),
    ("GetFileAttributesW", wintypes.DWORD, [wintypes.LPCWSTR]),
    (
        "FormatMessageW",
        wintypes.DWORD,
        [
            wintypes.DWORD,
            LPVOID,
            wintypes.DWORD,
            wintypes.DWORD,
            wintypes.LPWSTR,
            wintypes.DWORD,
            LPVOID,
        ],
    ),
]


def kernel32() -> Any:
    """kernel32 as FDF and nullout bind it: use_last_error, argtypes and restype set."""
    dll = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    for name, restype, argtypes in _PROTOTYPES:
        function = getattr(dll, name)
        function.restype, function.argtypes = restype, argtypes
    return dll


def fresh_last_error() -> Iterator[None]:
    """The thread's last error and ctypes' copy of it, put back to 0 after a test (they are
    per thread and outlive patches, as on Windows)."""
    yield
    _winctypes.set_system_error(0)
    _winctypes.set_last_error(0)


def last_error() -> int:
    value: int = ctypes.get_last_error()  # type: ignore[attr-defined]
    return value


class BY_HANDLE_FILE_INFORMATION(ctypes.Structure):
    """As nullout declares it: wintypes (8-byte DWORDs off Windows, 52 bytes on it)."""

    _fields_ = [
        ("dwFileAttributes", wintypes.DWORD),
        ("ftCreationTime", wintypes.FILETIME),
        ("ftLastAccessTime", wintypes.FILETIME),
        ("ftLastWriteTime", wintypes.FILETIME),
        ("dwVolumeSerialNumber", wintypes.DWORD),
        ("nFileSizeHigh", wintypes.DWORD),
        ("nFileSizeLow", wintypes.DWORD),
        ("nNumberOfLinks", wintypes.DWORD),
        ("nFileIndexHigh", wintypes.DWORD),
        ("nFileIndexLow", wintypes.DWORD),
    ]


class _FILETIME(ctypes.Structure):
    _fields_ = [("dwLowDateTime", wintypes.DWORD), ("dwHighDateTime", wintypes.DWORD)]


class _RM_UNIQUE_PROCESS(ctypes.Structure):
    _fields_ = [("dwProcessId", wintypes.DWORD), ("ProcessStartTime", _FILETIME)]


class RM_PROCESS_INFO(ctypes.Structure):
    """FDF's declaration (read by field name, converted from Windows' 668-byte records)."""

    _fields_ = [
        ("Process", _RM_UNIQUE_PROCESS),
        ("strAppName", wintypes.WCHAR * 256),
        ("strServiceShortName", wintypes.WCHAR * 64),
        ("ApplicationType", ctypes.c_int),
        ("AppStatus", wintypes.ULONG),
        ("TSSessionId", wintypes.DWORD),
        ("bRestartable", wintypes.BOOL),
    ]


def filetime(value: Any) -> int:
    """A FILETIME structure as one 64-bit integer."""
    return int(value.dwHighDateTime) << 32 | int(value.dwLowDateTime)


def _session(paths: list[str]) -> tuple[Any, wintypes.DWORD]:
    rm = ctypes.WinDLL("rstrtmgr")  # type: ignore[attr-defined]
    handle = wintypes.DWORD()
    assert rm.RmStartSession(byref(handle), 0, ctypes.create_unicode_buffer(33)) == 0
    files = (ctypes.c_wchar_p * len(paths))(*paths)
    assert rm.RmRegisterResources(handle, len(paths), files, 0, None, 0, None) == 0
    return rm, handle


def rm_list(*paths: str) -> list[tuple[int, int, str]]:
    """RmGetList's two-step dance: (PID, ProcessStartTime, strAppName) of each holder."""
    rm, handle = _session(list(paths))
    try:
        needed, count, reasons = wintypes.UINT(), wintypes.UINT(0), wintypes.DWORD()
        code = rm.RmGetList(handle, byref(needed), byref(count), None, byref(reasons))
        if code == 0:
            assert needed.value == 0
            return []
        assert code == 234
        infos = (RM_PROCESS_INFO * needed.value)()
        count = wintypes.UINT(needed.value)
        assert rm.RmGetList(handle, byref(needed), byref(count), infos, byref(reasons)) == 0
        return [
            (int(i.Process.dwProcessId), filetime(i.Process.ProcessStartTime), i.strAppName)
            for i in infos[: count.value]
        ]
    finally:
        rm.RmEndSession(handle)


def rm_shutdown(*paths: str) -> int:
    """RmShutdown(RmForceShutdown) of what holds *paths*; the code it returns."""
    rm, handle = _session(list(paths))
    try:
        code: int = rm.RmShutdown(handle, 1, None)
        return code
    finally:
        rm.RmEndSession(handle)
