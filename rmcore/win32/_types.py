"""Restart Manager constants, enums and structs with the real Windows layout on every host.

restartmanager.h uses 16-bit ``WCHAR`` and 32-bit ``DWORD``/``ULONG``; ``ctypes.c_wchar`` and
``ctypes.c_ulong`` are 32 and 64 bits on Linux/macOS (restartmanager.h), so the structs here use
``c_uint16`` arrays and ``c_uint32``/``c_int32``, and their sizes and offsets match Windows
(restartmanager.h). Callers' own structs (``c_wchar``, ``wintypes.DWORD``) are read and written at
Windows offsets by :mod:`rmcore.win32._layout`, whatever their size on the host.
"""

from __future__ import annotations

import ctypes
import enum
import struct
import sys
from typing import Any

# fmt: off
__all__ = [
    "BOOL", "CCH_RM_MAX_APP_NAME", "CCH_RM_MAX_SVC_NAME", "CCH_RM_SESSION_KEY", "DWORD", "FILETIME",
    "RM_APP_STATUS", "RM_APP_TYPE", "RM_FILTER_ACTION", "RM_FILTER_INFO", "RM_FILTER_TRIGGER",
    "RM_INVALID_PROCESS", "RM_INVALID_TS_SESSION", "RM_PROCESS_INFO", "RM_REBOOT_REASON",
    "RM_SESSION_KEY_LEN", "RM_SHUTDOWN_TYPE", "RM_UNIQUE_PROCESS", "RM_WRITE_STATUS_CALLBACK",
    "UINT", "ULONG", "WCHAR", "RmConsole", "RmCritical", "RmExplorer", "RmFilterTriggerFile",
    "RmFilterTriggerInvalid", "RmFilterTriggerProcess", "RmFilterTriggerService", "RmForceShutdown",
    "RmInvalidFilterAction", "RmMainWindow", "RmNoRestart", "RmNoShutdown", "RmOtherWindow",
    "RmRebootReasonCriticalProcess", "RmRebootReasonCriticalService", "RmRebootReasonDetectedSelf",
    "RmRebootReasonNone", "RmRebootReasonPermissionDenied", "RmRebootReasonSessionMismatch",
    "RmService", "RmShutdownOnlyRegistered", "RmStatusErrorOnRestart", "RmStatusErrorOnStop",
    "RmStatusRestartMasked", "RmStatusRestarted", "RmStatusRunning", "RmStatusShutdownMasked",
    "RmStatusStopped", "RmStatusStoppedOther", "RmStatusUnknown", "RmUnknownApp", "filetime_set",
    "filetime_to_int", "pack_process_info", "wstr_get", "wstr_set",
]
# fmt: on

# --- Constants (restartmanager.h) -----------------------------------------------------------
RM_SESSION_KEY_LEN = 16  # sizeof(GUID), bytes of the binary key
CCH_RM_SESSION_KEY = RM_SESSION_KEY_LEN * 2  # 32 chars, excluding the NUL (buffers are 33)
CCH_RM_MAX_APP_NAME = 255  # strAppName is WCHAR[CCH_RM_MAX_APP_NAME + 1]
CCH_RM_MAX_SVC_NAME = 63  # strServiceShortName is WCHAR[CCH_RM_MAX_SVC_NAME + 1]
RM_INVALID_TS_SESSION = -1
RM_INVALID_PROCESS = -1

# --- Portable fixed-width Win32 scalar types -------------------------------------------------
WCHAR = ctypes.c_uint16  # UTF-16 code unit; never ctypes.c_wchar (4 bytes off Windows)
DWORD = ctypes.c_uint32
UINT = ctypes.c_uint32
ULONG = ctypes.c_uint32  # 32-bit on Windows, unlike ctypes.c_ulong on LP64 hosts
BOOL = ctypes.c_int32
_ENUM = ctypes.c_int32  # C enums are int-sized (the RM_* enumeration pages)
_LPWSTR = ctypes.POINTER(WCHAR)

_MASK32 = 0xFFFFFFFF
# In-memory WCHARs are native-endian (little-endian, i.e. UTF-16-LE, on every Windows target).
_UTF16 = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"


# --- Enums (the RM_* enumeration pages) -----------------------------------------------------
class RM_APP_TYPE(enum.IntEnum):
    RmUnknownApp = 0
    RmMainWindow = 1
    RmOtherWindow = 2
    RmService = 3
    RmExplorer = 4
    RmConsole = 5
    RmCritical = 1000


class RM_APP_STATUS(enum.IntFlag):
    RmStatusUnknown = 0x0
    RmStatusRunning = 0x1
    RmStatusStopped = 0x2
    RmStatusStoppedOther = 0x4
    RmStatusRestarted = 0x8
    RmStatusErrorOnStop = 0x10
    RmStatusErrorOnRestart = 0x20
    RmStatusShutdownMasked = 0x40
    RmStatusRestartMasked = 0x80


class RM_REBOOT_REASON(enum.IntFlag):
    RmRebootReasonNone = 0x0
    RmRebootReasonPermissionDenied = 0x1
    RmRebootReasonSessionMismatch = 0x2
    RmRebootReasonCriticalProcess = 0x4
    RmRebootReasonCriticalService = 0x8
    RmRebootReasonDetectedSelf = 0x10


class RM_SHUTDOWN_TYPE(enum.IntFlag):
    RmForceShutdown = 0x1
    RmShutdownOnlyRegistered = 0x10


class RM_FILTER_ACTION(enum.IntEnum):
    RmInvalidFilterAction = 0
    RmNoRestart = 1
    RmNoShutdown = 2


class RM_FILTER_TRIGGER(enum.IntEnum):
    RmFilterTriggerInvalid = 0
    RmFilterTriggerFile = 1
    RmFilterTriggerProcess = 2
    RmFilterTriggerService = 3


RmUnknownApp = RM_APP_TYPE.RmUnknownApp
RmMainWindow = RM_APP_TYPE.RmMainWindow
RmOtherWindow = RM_APP_TYPE.RmOtherWindow
RmService = RM_APP_TYPE.RmService
RmExplorer = RM_APP_TYPE.RmExplorer
RmConsole = RM_APP_TYPE.RmConsole
RmCritical = RM_APP_TYPE.RmCritical
RmStatusUnknown = RM_APP_STATUS.RmStatusUnknown
RmStatusRunning = RM_APP_STATUS.RmStatusRunning
RmStatusStopped = RM_APP_STATUS.RmStatusStopped
RmStatusStoppedOther = RM_APP_STATUS.RmStatusStoppedOther
RmStatusRestarted = RM_APP_STATUS.RmStatusRestarted
RmStatusErrorOnStop = RM_APP_STATUS.RmStatusErrorOnStop
RmStatusErrorOnRestart = RM_APP_STATUS.RmStatusErrorOnRestart
RmStatusShutdownMasked = RM_APP_STATUS.RmStatusShutdownMasked
RmStatusRestartMasked = RM_APP_STATUS.RmStatusRestartMasked
RmRebootReasonNone = RM_REBOOT_REASON.RmRebootReasonNone
RmRebootReasonPermissionDenied = RM_REBOOT_REASON.RmRebootReasonPermissionDenied
RmRebootReasonSessionMismatch = RM_REBOOT_REASON.RmRebootReasonSessionMismatch
RmRebootReasonCriticalProcess = RM_REBOOT_REASON.RmRebootReasonCriticalProcess
RmRebootReasonCriticalService = RM_REBOOT_REASON.RmRebootReasonCriticalService
RmRebootReasonDetectedSelf = RM_REBOOT_REASON.RmRebootReasonDetectedSelf
RmForceShutdown = RM_SHUTDOWN_TYPE.RmForceShutdown
RmShutdownOnlyRegistered = RM_SHUTDOWN_TYPE.RmShutdownOnlyRegistered
RmInvalidFilterAction = RM_FILTER_ACTION.RmInvalidFilterAction
RmNoRestart = RM_FILTER_ACTION.RmNoRestart
RmNoShutdown = RM_FILTER_ACTION.RmNoShutdown
RmFilterTriggerInvalid = RM_FILTER_TRIGGER.RmFilterTriggerInvalid
RmFilterTriggerFile = RM_FILTER_TRIGGER.RmFilterTriggerFile
RmFilterTriggerProcess = RM_FILTER_TRIGGER.RmFilterTriggerProcess
RmFilterTriggerService = RM_FILTER_TRIGGER.RmFilterTriggerService

# The SDK typedef has no calling-convention keyword, i.e. cdecl on 32-bit x86
# (restartmanager.h, RM_WRITE_STATUS_CALLBACK page);
# WINFUNCTYPE, as some wrappers use, would be stdcall there. On x64 there is no difference.
RM_WRITE_STATUS_CALLBACK = ctypes.CFUNCTYPE(None, UINT)


# --- Structs (restartmanager.h and the RM_* structure pages) ---------------------------------
class FILETIME(ctypes.Structure):
    """Two DWORDs, so 4-byte aligned (a 64-bit integer would misalign RM_UNIQUE_PROCESS)."""

    _fields_ = (("dwLowDateTime", DWORD), ("dwHighDateTime", DWORD))
    dwLowDateTime: int
    dwHighDateTime: int

    @classmethod
    def from_int(cls, value: int) -> FILETIME:
        filetime = cls()
        filetime_set(filetime, value)
        return filetime

    def to_int(self) -> int:
        return filetime_to_int(self)


class RM_UNIQUE_PROCESS(ctypes.Structure):
    _fields_ = (("dwProcessId", DWORD), ("ProcessStartTime", FILETIME))
    dwProcessId: int
    ProcessStartTime: FILETIME

    @classmethod
    def of(cls, pid: int, start_time: int) -> RM_UNIQUE_PROCESS:
        """The record for a PID and a start time (a FILETIME as one 64-bit integer)."""
        record = cls()
        record.dwProcessId = pid & _MASK32
        filetime_set(record.ProcessStartTime, start_time)
        return record

    def pair(self) -> tuple[int, int]:
        """(PID, start time as a 64-bit FILETIME)."""
        return self.dwProcessId, filetime_to_int(self.ProcessStartTime)


class RM_PROCESS_INFO(ctypes.Structure):
    _fields_ = (
        ("Process", RM_UNIQUE_PROCESS),
        ("strAppName", WCHAR * (CCH_RM_MAX_APP_NAME + 1)),
        ("strServiceShortName", WCHAR * (CCH_RM_MAX_SVC_NAME + 1)),
        ("ApplicationType", _ENUM),  # RM_APP_TYPE
        ("AppStatus", ULONG),  # RM_APP_STATUS bits
        ("TSSessionId", DWORD),
        ("bRestartable", BOOL),
    )
    Process: RM_UNIQUE_PROCESS
    strAppName: ctypes.Array[ctypes.c_uint16]
    strServiceShortName: ctypes.Array[ctypes.c_uint16]
    ApplicationType: int
    AppStatus: int
    TSSessionId: int
    bRestartable: int

    @property
    def app_name(self) -> str:
        return wstr_get(self.strAppName)

    @app_name.setter
    def app_name(self, text: str) -> None:
        wstr_set(self.strAppName, text)

    @property
    def service_short_name(self) -> str:
        return wstr_get(self.strServiceShortName)

    @service_short_name.setter
    def service_short_name(self, text: str) -> None:
        wstr_set(self.strServiceShortName, text)


_PROCESS_INFO = struct.Struct("<III512s128siIIi")  # 668 bytes, restartmanager.h order


def _utf16_field(text: str, units: int) -> bytes:
    """*text* as UTF-16-LE cut to ``units - 1`` units (never splitting a pair), NUL-padded."""
    encoded = text.encode("utf-16-le", "surrogatepass")[: 2 * (units - 1)]
    if len(encoded) >= 2 and 0xD8 <= encoded[-1] <= 0xDB:
        encoded = encoded[:-2]  # a high surrogate whose partner did not fit
    return encoded.ljust(2 * units, b"\0")


def pack_process_info(
    *,
    pid: int,
    start_time: int,
    app_name: str,
    service_short_name: str,
    app_type: int,
    app_status: int,
    ts_session_id: int,
    restartable: bool,
) -> bytes:
    """One RM_PROCESS_INFO as the DLL writes it: 668 bytes, Windows layout, 32-bit DWORDs
    (``ts_session_id=-1`` is 0xFFFFFFFF), names cut to fit and NUL-terminated."""
    return _PROCESS_INFO.pack(
        pid & _MASK32,
        start_time & _MASK32,
        (start_time >> 32) & _MASK32,
        _utf16_field(app_name, CCH_RM_MAX_APP_NAME + 1),
        _utf16_field(service_short_name, CCH_RM_MAX_SVC_NAME + 1),
        _int32(app_type),
        app_status & _MASK32,
        ts_session_id & _MASK32,
        1 if restartable else 0,
    )


class _RM_FILTER_INFO_UNION(ctypes.Union):
    _fields_ = (
        ("strFilename", _LPWSTR),  # FilterTrigger == RmFilterTriggerFile
        (
            "Process",
            RM_UNIQUE_PROCESS,
        ),  # RmFilterTriggerProcess (the page's RM_PROCESS_INFO is a typo)
        ("strServiceShortName", _LPWSTR),  # RmFilterTriggerService
    )


class RM_FILTER_INFO(ctypes.Structure):
    """Natural alignment: 32 bytes, union at 16 on 64-bit; 24 bytes, union at 12 on 32-bit."""

    _anonymous_ = ("_u",)
    _fields_ = (
        ("FilterAction", _ENUM),  # RM_FILTER_ACTION
        ("FilterTrigger", _ENUM),  # RM_FILTER_TRIGGER
        ("cbNextOffset", DWORD),
        ("_u", _RM_FILTER_INFO_UNION),
    )
    FilterAction: int
    FilterTrigger: int
    cbNextOffset: int
    strFilename: ctypes._Pointer[ctypes.c_uint16]
    Process: RM_UNIQUE_PROCESS
    strServiceShortName: ctypes._Pointer[ctypes.c_uint16]


# --- Text in WCHAR arrays --------------------------------------------------------------------
_WArray = (
    ctypes.Array[ctypes.c_uint16] | ctypes.Array[ctypes.c_int16] | ctypes.Array[ctypes.c_wchar]
)
_CHAR_TYPES = (ctypes.c_uint16, ctypes.c_int16, ctypes.c_wchar)


def _element(array: object) -> Any:
    element = getattr(type(array), "_type_", None)
    if not isinstance(array, ctypes.Array) or element not in _CHAR_TYPES:
        raise TypeError(f"expected a c_uint16 or c_wchar array, got {type(array).__name__}")
    return element


def wstr_get(array: _WArray) -> str:
    """The text up to the first NUL (or the whole array if it has none)."""
    if _element(array) is ctypes.c_wchar:
        return str(array.value)
    raw = bytes(array)
    end = next((i for i in range(0, len(raw), 2) if raw[i : i + 2] == b"\0\0"), len(raw))
    return raw[:end].decode(_UTF16, "surrogatepass")


def wstr_set(array: _WArray, text: str) -> None:
    """Store ``text``, cut to ``len(array) - 1`` units, NUL-terminate and zero the rest.

    Units are UTF-16 code units (``c_wchar`` units where it is 32-bit); a character that does not
    fit whole is dropped, so a surrogate pair is never split.
    """
    element = _element(array)
    if len(array) == 0:
        raise ValueError("a zero-length array cannot hold the terminating NUL")
    utf16 = element is not ctypes.c_wchar or ctypes.sizeof(ctypes.c_wchar) == 2
    capacity, used, end = len(array) - 1, 0, len(text)
    for index, char in enumerate(text):
        used += 2 if utf16 and ord(char) > 0xFFFF else 1
        if used > capacity:
            end = index
            break
    text = text[:end]
    ctypes.memset(ctypes.addressof(array), 0, ctypes.sizeof(array))
    if element is ctypes.c_wchar:
        array.value = text
    else:
        encoded = text.encode(_UTF16, "surrogatepass")
        ctypes.memmove(ctypes.addressof(array), encoded, len(encoded))


# --- FILETIME as a 64-bit count of 100 ns ticks ----------------------------------------------
def filetime_to_int(filetime: Any) -> int:
    """``(dwHighDateTime << 32) | dwLowDateTime`` of any FILETIME-shaped object."""
    high = int(filetime.dwHighDateTime) & _MASK32
    return (high << 32) | (int(filetime.dwLowDateTime) & _MASK32)


def filetime_set(filetime: Any, value: int) -> None:
    """Split ``value`` (0 <= value < 2**64) into the two DWORDs of a FILETIME."""
    if not 0 <= value < 1 << 64:
        raise ValueError(f"FILETIME out of range: {value}")
    filetime.dwLowDateTime = value & _MASK32
    filetime.dwHighDateTime = value >> 32


def _int32(value: int) -> int:
    value &= _MASK32
    return value - (1 << 32) if value & 0x80000000 else value
