"""rmcore.win32._types: Windows layouts on every host (restartmanager.h), enums, text."""

from __future__ import annotations

import ctypes
import enum
import struct
import sys
from ctypes import wintypes

import pytest
from windows_style import CallerProcessInfo

from rmcore.win32 import _types as t
from rmcore.win32._layout import layout_of

PTR = ctypes.sizeof(ctypes.c_void_p)
little_endian = pytest.mark.skipif(sys.byteorder != "little", reason="raw bytes checked as LE")


class WineSpelledProcessInfo(ctypes.Structure):  # TSSessionID, as Wine's header spells it
    _fields_ = [
        *CallerProcessInfo._fields_[:5],
        ("TSSessionID", ctypes.c_ulong),
        ("bRestartable", ctypes.c_int),
    ]


# --- Constants -------------------------------------------------------------------------------
def test_constants() -> None:
    assert t.RM_SESSION_KEY_LEN == 16
    assert t.CCH_RM_SESSION_KEY == 32
    assert t.CCH_RM_MAX_APP_NAME == 255
    assert t.CCH_RM_MAX_SVC_NAME == 63
    assert t.RM_INVALID_TS_SESSION == -1
    assert t.RM_INVALID_PROCESS == -1


def test_scalar_types_are_fixed_width() -> None:
    sizes = {t.WCHAR: 2, t.DWORD: 4, t.UINT: 4, t.ULONG: 4, t.BOOL: 4}
    assert {k: ctypes.sizeof(k) for k in sizes} == sizes
    assert t.WCHAR(0xFFFF).value == 0xFFFF and t.DWORD(-1).value == 0xFFFFFFFF
    assert t.BOOL(-1).value == -1


# --- Layouts (restartmanager.h and the RM_* structure pages) ---------------------------------
def offsets(cls: type[ctypes.Structure]) -> dict[str, int]:
    return {name: getattr(cls, name).offset for name, *_ in cls._fields_}


def field_size(cls: type[ctypes.Structure], name: str) -> int:
    size: int = getattr(cls, name).size  # the class attribute is a CField descriptor
    return size


def test_filetime_layout() -> None:
    assert ctypes.sizeof(t.FILETIME) == 8
    assert ctypes.alignment(t.FILETIME) == 4
    assert offsets(t.FILETIME) == {"dwLowDateTime": 0, "dwHighDateTime": 4}


def test_unique_process_layout() -> None:
    assert ctypes.sizeof(t.RM_UNIQUE_PROCESS) == 12
    assert ctypes.alignment(t.RM_UNIQUE_PROCESS) == 4
    assert offsets(t.RM_UNIQUE_PROCESS) == {"dwProcessId": 0, "ProcessStartTime": 4}


def test_process_info_layout() -> None:
    assert ctypes.sizeof(t.RM_PROCESS_INFO) == 668
    assert ctypes.sizeof(t.RM_PROCESS_INFO * 3) == 3 * 668  # array stride, as RmGetList writes
    assert offsets(t.RM_PROCESS_INFO) == {
        "Process": 0,
        "strAppName": 12,
        "strServiceShortName": 524,
        "ApplicationType": 652,
        "AppStatus": 656,
        "TSSessionId": 660,
        "bRestartable": 664,
    }
    assert field_size(t.RM_PROCESS_INFO, "strAppName") == 2 * (t.CCH_RM_MAX_APP_NAME + 1)
    assert field_size(t.RM_PROCESS_INFO, "strServiceShortName") == 2 * (t.CCH_RM_MAX_SVC_NAME + 1)
    assert len(t.RM_PROCESS_INFO().strAppName) == 256
    assert len(t.RM_PROCESS_INFO().strServiceShortName) == 64


def test_filter_info_layout() -> None:
    size, union_at = (32, 16) if PTR == 8 else (24, 12)
    assert ctypes.sizeof(t.RM_FILTER_INFO) == size
    assert offsets(t.RM_FILTER_INFO) == {
        "FilterAction": 0,
        "FilterTrigger": 4,
        "cbNextOffset": 8,
        "_u": union_at,
    }
    for member in ("strFilename", "Process", "strServiceShortName"):
        assert getattr(t.RM_FILTER_INFO, member).offset == union_at
    assert field_size(t.RM_FILTER_INFO, "strFilename") == PTR
    assert field_size(t.RM_FILTER_INFO, "Process") == 12


@little_endian
def test_filter_info_union_bytes() -> None:
    info = t.RM_FILTER_INFO(t.RmNoRestart, t.RmFilterTriggerProcess, 0)
    info.Process = t.RM_UNIQUE_PROCESS.of(0x1234, 0x0102030405060708)
    raw = bytes(info)
    assert raw[:12] == struct.pack("<iiI", 1, 2, 0)
    union_at = 16 if PTR == 8 else 12
    assert raw[union_at : union_at + 12] == struct.pack("<III", 0x1234, 0x05060708, 0x01020304)


# --- Enums (the RM_* enumeration pages) -----------------------------------------------------
ENUMS: dict[type[enum.Enum], tuple[type[enum.Enum], dict[str, int]]] = {
    t.RM_APP_TYPE: (
        enum.IntEnum,
        {
            "RmUnknownApp": 0,
            "RmMainWindow": 1,
            "RmOtherWindow": 2,
            "RmService": 3,
            "RmExplorer": 4,
            "RmConsole": 5,
            "RmCritical": 1000,
        },
    ),
    t.RM_APP_STATUS: (
        enum.IntFlag,
        {
            "RmStatusUnknown": 0x0,
            "RmStatusRunning": 0x1,
            "RmStatusStopped": 0x2,
            "RmStatusStoppedOther": 0x4,
            "RmStatusRestarted": 0x8,
            "RmStatusErrorOnStop": 0x10,
            "RmStatusErrorOnRestart": 0x20,
            "RmStatusShutdownMasked": 0x40,
            "RmStatusRestartMasked": 0x80,
        },
    ),
    t.RM_REBOOT_REASON: (
        enum.IntFlag,
        {
            "RmRebootReasonNone": 0x0,
            "RmRebootReasonPermissionDenied": 0x1,
            "RmRebootReasonSessionMismatch": 0x2,
            "RmRebootReasonCriticalProcess": 0x4,
            "RmRebootReasonCriticalService": 0x8,
            "RmRebootReasonDetectedSelf": 0x10,
        },
    ),
    t.RM_SHUTDOWN_TYPE: (
        enum.IntFlag,
        {"RmForceShutdown": 0x1, "RmShutdownOnlyRegistered": 0x10},
    ),
    t.RM_FILTER_ACTION: (
        enum.IntEnum,
        {"RmInvalidFilterAction": 0, "RmNoRestart": 1, "RmNoShutdown": 2},
    ),
    t.RM_FILTER_TRIGGER: (
        enum.IntEnum,
        {
            "RmFilterTriggerInvalid": 0,
            "RmFilterTriggerFile": 1,
            "RmFilterTriggerProcess": 2,
            "RmFilterTriggerService": 3,
        },
    ),
}


@pytest.mark.parametrize("cls", list(ENUMS), ids=lambda cls: cls.__name__)
def test_enum_members_and_module_constants(cls: type[enum.Enum]) -> None:
    base, expected = ENUMS[cls]
    assert issubclass(cls, base)
    assert {name: member.value for name, member in cls.__members__.items()} == expected
    assert cls.__name__ in t.__all__
    for name in expected:
        assert getattr(t, name) is cls[name]
        assert name in t.__all__


def test_flag_enums_combine_and_app_type_does_not() -> None:
    both = t.RmForceShutdown | t.RmShutdownOnlyRegistered
    assert isinstance(both, t.RM_SHUTDOWN_TYPE) and both == 0x11
    assert t.RM_APP_STATUS(0x3) == t.RmStatusRunning | t.RmStatusStopped
    assert not issubclass(t.RM_APP_TYPE, enum.IntFlag)
    with pytest.raises(ValueError):
        t.RM_APP_TYPE(6)  # Critical is 1000, not 6 (a known P/Invoke pitfall)


def test_all_is_explicit_and_resolves() -> None:
    assert len(t.__all__) == len(set(t.__all__))
    for name in t.__all__:
        assert hasattr(t, name), name


# --- Callback (RM_WRITE_STATUS_CALLBACK page) -----------------------------------------------
def test_status_callback_is_cdecl_uint() -> None:
    cb_type = t.RM_WRITE_STATUS_CALLBACK
    assert cb_type._flags_ & ctypes._FUNCFLAG_CDECL  # type: ignore[attr-defined]
    stdcall = getattr(ctypes, "_FUNCFLAG_STDCALL", 0)
    assert not cb_type._flags_ & stdcall
    assert tuple(cb_type._argtypes_) == (ctypes.c_uint32,)
    assert cb_type._restype_ is None
    seen: list[int] = []
    callback = cb_type(seen.append)
    callback(42)
    callback(100)
    assert seen == [42, 100]


# --- Text helpers ----------------------------------------------------------------------------
def test_wstr_roundtrip_uint16_is_utf16() -> None:
    buf = (ctypes.c_uint16 * 8)()
    t.wstr_set(buf, "hé😀")
    assert list(buf) == [ord("h"), 0xE9, 0xD83D, 0xDE00, 0, 0, 0, 0]
    assert t.wstr_get(buf) == "hé😀"


def test_wstr_set_truncates_and_nul_terminates() -> None:
    buf = (ctypes.c_uint16 * 5)(*[0x41] * 5)
    t.wstr_set(buf, "abcdefgh")
    assert t.wstr_get(buf) == "abcd"
    assert buf[4] == 0
    t.wstr_set(buf, "xy")
    assert list(buf) == [ord("x"), ord("y"), 0, 0, 0]  # stale "cd" zeroed


def test_wstr_set_does_not_split_surrogate_pair() -> None:
    buf = (ctypes.c_uint16 * 4)()
    t.wstr_set(buf, "ab😀")  # needs 4 units + NUL; only 3 fit
    assert list(buf) == [ord("a"), ord("b"), 0, 0]
    assert t.wstr_get(buf) == "ab"


def test_wstr_get_without_nul_and_with_int16() -> None:
    full = (ctypes.c_uint16 * 3)(ord("x"), ord("y"), ord("z"))
    assert t.wstr_get(full) == "xyz"
    signed = (ctypes.c_int16 * 4)()
    t.wstr_set(signed, "\uffff!")
    assert signed[0] == -1 and t.wstr_get(signed) == "\uffff!"


def test_wstr_on_c_wchar_arrays() -> None:
    buf = ctypes.create_unicode_buffer(5)
    t.wstr_set(buf, "abcdefgh")
    assert buf.value == "abcd" and t.wstr_get(buf) == "abcd"
    t.wstr_set(buf, "z")
    assert ctypes.wstring_at(buf, 5) == "z\0\0\0\0"
    wide = ctypes.create_unicode_buffer(4)
    t.wstr_set(wide, "ab😀")
    # 32-bit c_wchar holds the emoji in one unit; 16-bit c_wchar (Windows) needs two.
    assert wide.value == ("ab😀" if ctypes.sizeof(ctypes.c_wchar) == 4 else "ab")


def test_wstr_rejects_bad_arrays() -> None:
    with pytest.raises(TypeError):
        t.wstr_get((ctypes.c_uint32 * 4)())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        t.wstr_set(ctypes.create_string_buffer(4), "a")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        t.wstr_set((ctypes.c_uint16 * 0)(), "")


def test_process_info_text_properties() -> None:
    info = t.RM_PROCESS_INFO()
    info.app_name = "N" * 400
    info.service_short_name = "spooler"
    assert info.app_name == "N" * 255 and info.strAppName[255] == 0
    assert info.service_short_name == "spooler"


# --- FILETIME --------------------------------------------------------------------------------
def test_filetime_roundtrip() -> None:
    value = 0x01D9_1234_89AB_CDEF
    ft = t.FILETIME.from_int(value)
    assert (ft.dwLowDateTime, ft.dwHighDateTime) == (0x89AB_CDEF, 0x01D9_1234)
    assert ft.to_int() == value
    assert t.FILETIME.from_int(2**64 - 1).to_int() == 2**64 - 1
    theirs = wintypes.FILETIME()
    t.filetime_set(theirs, value)
    assert t.filetime_to_int(theirs) == value
    for bad in (-1, 2**64):
        with pytest.raises(ValueError):
            t.FILETIME.from_int(bad)


# --- Records at Windows offsets, in our layout and in callers' layouts ----------------------
PROCESS = dict(
    pid=4242,
    start_time=0x01DA_0000_0000_0001,
    app_name="Notepad",
    service_short_name="",
    app_type=t.RmMainWindow,
    app_status=t.RmStatusRunning | t.RmStatusStopped,
    ts_session_id=t.RM_INVALID_TS_SESSION,
    restartable=True,
)


@little_endian
def test_packed_process_info_is_the_windows_record() -> None:
    packed = t.pack_process_info(**PROCESS)  # type: ignore[arg-type]
    expected = (
        struct.pack("<III", 4242, 0x0000_0001, 0x01DA_0000)
        + "Notepad".encode("utf-16-le").ljust(512, b"\0")
        + b"\0" * 128
        + struct.pack("<iIIi", 1, 3, 0xFFFFFFFF, 1)
    )
    assert packed == expected
    ours = t.RM_PROCESS_INFO.from_buffer_copy(packed)
    assert ours.app_name == "Notepad" and ours.Process.pair() == (4242, 0x01DA_0000_0000_0001)


def _into(caller_type: type, packed: bytes) -> ctypes.Structure:
    """What a caller's struct holds after the DLL wrote *packed* into it (at Windows offsets)."""
    caller = caller_type()
    view = memoryview(caller).cast("B")  # type: ignore[arg-type]
    layout_of(caller_type).to_host(packed.ljust(layout_of(caller_type).win_size, b"\0"), view)
    return caller  # type: ignore[no-any-return]


def test_callers_struct_of_other_host_sizes_reads_what_windows_wrote() -> None:
    """A caller's struct (c_wchar arrays, c_ulong DWORDs: 1336 bytes on Linux) is 668 bytes
    on Windows; the record lands at Windows offsets and reads back through its own fields."""
    assert layout_of(CallerProcessInfo).win_size == 668
    theirs = _into(CallerProcessInfo, t.pack_process_info(**PROCESS))  # type: ignore[arg-type]
    assert theirs.strAppName == "Notepad"
    assert theirs.strServiceShortName == ""
    assert theirs.ApplicationType == 1 and theirs.AppStatus == 3
    assert theirs.TSSessionId == 0xFFFFFFFF  # DWORD semantics even in an 8-byte c_ulong
    assert theirs.bRestartable == 1
    assert theirs.Process.dwProcessId == 4242
    start = theirs.Process.ProcessStartTime
    assert (start.dwHighDateTime << 32) | start.dwLowDateTime == 0x01DA_0000_0000_0001


def test_names_are_cut_to_fit_and_agree_across_layouts() -> None:
    values = {**PROCESS, "app_name": "A" * 300 + "\U0001f600", "service_short_name": "wuauserv"}
    values.update(app_type=t.RmCritical, ts_session_id=3, restartable=False)
    packed = t.pack_process_info(**values)  # type: ignore[arg-type]
    ours = t.RM_PROCESS_INFO.from_buffer_copy(packed)
    theirs = _into(CallerProcessInfo, packed)
    assert ours.app_name == theirs.strAppName == "A" * 255
    assert ours.service_short_name == theirs.strServiceShortName == "wuauserv"
    for name in ("ApplicationType", "AppStatus", "TSSessionId", "bRestartable"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.ApplicationType == 1000 and ours.bRestartable == 0
    emoji = {**PROCESS, "app_name": "B" * 254 + "\U0001f600"}
    packed = t.pack_process_info(**emoji)  # type: ignore[arg-type]
    assert t.RM_PROCESS_INFO.from_buffer_copy(packed).app_name == "B" * 254  # pair not split


def test_unique_process_masks_to_dword() -> None:
    ours = t.RM_UNIQUE_PROCESS.of(2**32 + 99, 2**40)
    assert ours.pair() == (99, 2**40)
    assert (ours.dwProcessId, ours.ProcessStartTime.to_int()) == (99, 2**40)


def test_fields_are_found_by_offset_not_by_name() -> None:
    """Wine's header spells TSSessionID: the DLL writes offsets, so the value lands there."""
    wine = _into(WineSpelledProcessInfo, t.pack_process_info(**PROCESS))  # type: ignore[arg-type]
    assert wine.TSSessionID == 0xFFFFFFFF and wine.bRestartable == 1
    assert "TSSessionId" not in vars(wine)
