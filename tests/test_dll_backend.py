"""The ctypes backend (rmcore.win32._dll) against a compiled stand-in for rstrtmgr.dll.

tests/native/rstrtmgr_standin.c exports the eleven Rm* functions with the Windows types,
records what it received and writes known outputs, so every crossing of the boundary is
checked in both directions without Windows. It is compiled once per session with the system C
compiler; without one these tests are skipped.
"""

from __future__ import annotations

import ctypes
import inspect
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from ctypes import wintypes
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from windows_style import CallerProcessInfo, CallerUniqueProcess

import rmcore
from rmcore import winerror as we
from rmcore._backends import BackendUnavailable, get_backend
from rmcore.win32 import _types as t
from rmcore.win32._dll import RstrtmgrDLL

STANDIN_SOURCE = Path(__file__).parent / "native" / "rstrtmgr_standin.c"
KEY = "0123456789abcdef0123456789abcdef"
not_windows = pytest.mark.skipif(sys.platform == "win32", reason="Windows has the real DLL")


# --- Building and reading the stand-in -------------------------------------------------------
def find_compiler() -> list[str] | None:
    """$CC, Python's own CC, then cc, gcc, clang: the first that exists."""
    candidates = [os.environ.get("CC", ""), sysconfig.get_config_var("CC") or "", "cc", "gcc"]
    for command in [*candidates, "clang"]:
        words = shlex.split(command)
        if words and (found := shutil.which(words[0])):
            return [found, *words[1:]]
    return None


@pytest.fixture(scope="session")
def standin_path() -> Iterator[str]:
    compiler = find_compiler()
    if compiler is None:
        pytest.skip("no C compiler ($CC, cc, gcc, clang) to build the rstrtmgr.dll stand-in")
    suffix = {"win32": ".dll", "darwin": ".dylib"}.get(sys.platform, ".so")
    with tempfile.TemporaryDirectory(prefix="rmcore-standin-", ignore_cleanup_errors=True) as tmp:
        library = Path(tmp) / f"rstrtmgr_standin{suffix}"
        command = [*compiler, "-shared", "-fPIC", "-std=c11", "-fvisibility=hidden", "-O1"]
        command += ["-Wall", "-Wextra", "-o", str(library), str(STANDIN_SOURCE)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            pytest.fail(f"building the stand-in failed: {shlex.join(command)}\n{result.stderr}")
        yield str(library)


class Record(ctypes.Structure):
    """Mirror of the stand-in's StandinRecord (size checked against StandinRecordSize)."""

    _fields_ = (
        ("calls", ctypes.c_uint32),
        ("function", ctypes.c_char * 32),
        ("handle", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("null_mask", ctypes.c_uint32),
        ("in_count", ctypes.c_uint32),
        ("filter_action", ctypes.c_int32),
        ("n_files", ctypes.c_uint32),
        ("n_apps", ctypes.c_uint32),
        ("n_services", ctypes.c_uint32),
        ("pids", ctypes.c_uint32 * 4),
        ("start_low", ctypes.c_uint32 * 4),
        ("start_high", ctypes.c_uint32 * 4),
        ("callback_given", ctypes.c_uint32),
        ("buffer_address", ctypes.c_uint64),
        ("key", ctypes.c_uint16 * 40),
        ("files", ctypes.c_uint16 * 512),
        ("services", ctypes.c_uint16 * 512),
        ("module", ctypes.c_uint16 * 512),
        ("service", ctypes.c_uint16 * 128),
    )
    calls: int
    function: bytes
    handle: int
    flags: int
    null_mask: int
    in_count: int
    filter_action: int
    n_files: int
    n_apps: int
    n_services: int
    pids: Any
    start_low: Any
    start_high: Any
    callback_given: int
    buffer_address: int
    key: Any
    files: Any
    services: Any
    module: Any
    service: Any

    def text(self, name: str) -> str:
        return t.wstr_get(getattr(self, name))

    def units(self, name: str) -> list[int]:
        units = list(getattr(self, name))
        return units[: units.index(0)]

    def process(self, index: int) -> tuple[int, int]:
        return self.pids[index], (self.start_high[index] << 32) | self.start_low[index]

    def null_params(self) -> set[int]:
        return {i for i in range(8) if self.null_mask >> i & 1}


@pytest.fixture(scope="session")
def dll(standin_path: str) -> RstrtmgrDLL:
    return RstrtmgrDLL(standin_path)


def fresh_record(dll: RstrtmgrDLL) -> Record:
    dll.lib.StandinReset()
    return Record.in_dll(dll.lib, "standin_record")


@pytest.fixture
def rec(dll: RstrtmgrDLL) -> Record:
    return fresh_record(dll)


def test_record_mirror_matches_the_c_struct(dll: RstrtmgrDLL) -> None:
    assert ctypes.sizeof(Record) == dll.lib.StandinRecordSize()


def caller_process(pid: int, start: int) -> CallerUniqueProcess:
    return CallerUniqueProcess(pid, wintypes.FILETIME(start & 0xFFFFFFFF, start >> 32))


# --- Declarations: exactly the Windows types --------------------------------------------------
def describe(ctype: Any) -> str:
    """A ctypes type by what crosses the boundary: width, signedness, pointee, struct size."""
    if isinstance(ctype, type) and issubclass(ctype, ctypes._Pointer):
        return describe(ctype._type_) + "*"
    if isinstance(ctype, type) and issubclass(ctype, ctypes.Structure):
        return f"struct{ctypes.sizeof(ctype)}"
    if hasattr(ctype, "_argtypes_"):  # a CFUNCTYPE/WINFUNCTYPE class
        cdecl = ctype._flags_ == ctypes._FUNCFLAG_CDECL  # type: ignore[attr-defined]
        args = ",".join(describe(arg) for arg in ctype._argtypes_)
        return f"{'cdecl' if cdecl else 'other'} {describe(ctype._restype_)}({args})"
    if ctype is None:
        return "void"
    signed = ctype(-1).value < 0
    return f"{'i' if signed else 'u'}{8 * ctypes.sizeof(ctype)}"


# restartmanager.h in those terms: DWORD/UINT/ULONG u32, WCHAR u16, enums i32,
# RM_UNIQUE_PROCESS 12 bytes, RM_PROCESS_INFO 668, PBYTE u8*, the callback void(UINT) cdecl.
CALLBACK = "cdecl void(u32)"
WINDOWS_SIGNATURES = {
    "RmStartSession": ["u32*", "u32", "u16*"],
    "RmJoinSession": ["u32*", "u16*"],
    "RmEndSession": ["u32"],
    "RmRegisterResources": ["u32", "u32", "u16**", "u32", "struct12*", "u32", "u16**"],
    "RmGetList": ["u32", "u32*", "u32*", "struct668*", "u32*"],
    "RmShutdown": ["u32", "u32", CALLBACK],
    "RmRestart": ["u32", "u32", CALLBACK],
    "RmCancelCurrentTask": ["u32"],
    "RmAddFilter": ["u32", "u16*", "struct12*", "u16*", "i32"],
    "RmRemoveFilter": ["u32", "u16*", "struct12*", "u16*"],
    "RmGetFilterList": ["u32", "u8*", "u32", "u32*"],
}


def test_declarations_are_exactly_the_windows_types(dll: RstrtmgrDLL) -> None:
    declared = {}
    for name in WINDOWS_SIGNATURES:
        foreign = getattr(dll.lib, name)
        assert describe(foreign.restype) == "u32", name
        declared[name] = [describe(arg) for arg in foreign.argtypes]
    assert declared == WINDOWS_SIGNATURES


def test_declarations_use_rmcores_windows_layout_types(dll: RstrtmgrDLL) -> None:
    lpwstr = ctypes.POINTER(t.WCHAR)
    assert dll.lib.RmStartSession.argtypes == [ctypes.POINTER(t.DWORD), t.DWORD, lpwstr]
    assert dll.lib.RmGetList.argtypes[3] is ctypes.POINTER(t.RM_PROCESS_INFO)
    assert dll.lib.RmRegisterResources.argtypes[4] is ctypes.POINTER(t.RM_UNIQUE_PROCESS)
    assert dll.lib.RmShutdown.argtypes[2] is t.RM_WRITE_STATUS_CALLBACK
    assert dll.lib.RmRestart.argtypes[2] is t.RM_WRITE_STATUS_CALLBACK


def test_same_methods_and_parameters_as_the_simulator() -> None:
    for name in WINDOWS_SIGNATURES:
        simulator = inspect.signature(getattr(rmcore.Simulator, name))
        backend = inspect.signature(getattr(RstrtmgrDLL, name))
        assert list(backend.parameters) == list(simulator.parameters), name


# --- RmStartSession: out-parameters and the key buffer ----------------------------------------
@pytest.mark.parametrize("handle_type", [ctypes.c_uint32, ctypes.c_ulong, ctypes.c_int64])
def test_start_session_handle_into_any_integer(
    dll: RstrtmgrDLL, rec: Record, handle_type: Any
) -> None:
    for as_arg in (ctypes.byref, ctypes.pointer):
        handle = handle_type(-1)
        key = ctypes.create_unicode_buffer(33)
        assert dll.RmStartSession(as_arg(handle), 0, key) == we.ERROR_SUCCESS
        assert handle.value == 7 if handle_type is not ctypes.c_int64 else 0xFFFFFFFF_00000007
        assert key.value == KEY
    assert rec.function == b"RmStartSession" and rec.calls == 2
    by_value = pytest.warns(rmcore.RmUsageWarning, match="by value")
    with by_value, pytest.raises(OSError, match="access violation writing"):  # ctypes passes
        dll.RmStartSession(handle_type(-1), 0, key)  # the value, -1, as the address
    assert rec.calls == 2


def test_start_session_key_into_buffers_of_16_and_32_bit_characters(
    dll: RstrtmgrDLL, rec: Record
) -> None:
    handle = ctypes.c_uint32()
    wide = ctypes.create_unicode_buffer("x" * 40)  # stale text past the key must be cut off
    assert dll.RmStartSession(ctypes.byref(handle), 0, wide) == 0
    assert wide.value == KEY and wide[33] == "x"
    units = (ctypes.c_uint16 * 33)(*[0xFFFF] * 33)
    assert dll.RmStartSession(ctypes.byref(handle), 0, units) == 0
    assert list(units) == [ord(c) for c in KEY] + [0]
    assert dll.RmStartSession(ctypes.byref(handle), 5, units) == 0
    assert rec.flags == 5 and rec.calls == 3


def test_start_session_null_goes_to_the_dll_and_short_buffers_are_never_overrun(
    dll: RstrtmgrDLL, rec: Record
) -> None:
    handle = ctypes.c_uint32(123)
    kept = ctypes.create_unicode_buffer("the caller's text", 33)
    assert dll.RmStartSession(None, 0, kept) == 160
    assert rec.calls == 1 and rec.null_params() == {0}
    assert kept.value == "the caller's text"  # the DLL wrote nothing: nothing changes
    assert dll.RmStartSession(ctypes.byref(handle), 0, None) == 160
    assert rec.calls == 2 and rec.null_params() == {2} and handle.value == 123
    arena = ctypes.create_unicode_buffer(40)
    short = (ctypes.c_wchar * 32).from_buffer(arena)  # the DLL writes 33 WCHARs into it
    with pytest.warns(rmcore.RmUsageWarning, match="strSessionKey: room for 64 bytes"):
        assert dll.RmStartSession(ctypes.byref(handle), 0, short) == we.ERROR_SUCCESS
    assert rec.calls == 3 and handle.value == 7
    assert short[:] == KEY and arena[32] == "\0"  # the 33rd WCHAR is not written past it
    arena[32] = "x"
    with pytest.warns(rmcore.RmUsageWarning) as warned:
        assert dll.RmStartSession(ctypes.byref(handle), 0, "not a buffer") == 0
    assert any("temporary copy" in str(w.message) for w in warned)
    assert any("overrunning the caller's object" in str(w.message) for w in warned)
    assert rec.calls == 4 and arena[32] == "x"


# --- RmJoinSession: the key goes in as UTF-16 ---------------------------------------------------
@pytest.mark.parametrize(
    "as_arg",
    [
        str,
        ctypes.c_wchar_p,
        ctypes.create_unicode_buffer,
        lambda k: (ctypes.c_uint16 * 40)(*map(ord, k)),
    ],
    ids=["str", "c_wchar_p", "unicode_buffer", "uint16_array"],
)
def test_join_session_key_arrives_as_utf16(dll: RstrtmgrDLL, rec: Record, as_arg: Any) -> None:
    handle = ctypes.c_ulong(0xFFFFFFFF)
    assert dll.RmJoinSession(ctypes.byref(handle), as_arg(KEY)) == 0
    assert handle.value == 8
    assert rec.units("key") == [ord(c) for c in KEY]


def test_join_session_non_ascii_and_null(dll: RstrtmgrDLL, rec: Record) -> None:
    handle = ctypes.c_uint32()
    assert dll.RmJoinSession(ctypes.byref(handle), "k\u00e9\U0001f600") == 0
    assert rec.units("key") == [ord("k"), 0xE9, 0xD83D, 0xDE00]
    assert dll.RmJoinSession(ctypes.byref(handle), None) == 160
    assert rec.null_params() == {1} and rec.calls == 2


# --- RmRegisterResources: arrays of strings and of RM_UNIQUE_PROCESS --------------------------
def _utf16(text: str) -> Any:
    units = text.encode("utf-16-le") + b"\0\0"
    return ctypes.cast(
        ctypes.create_string_buffer(units, len(units)), ctypes.POINTER(ctypes.c_uint16)
    )


FILES = ["C:\\a.txt", "D:\\\u00fc\\\U0001f600.dll"]
SERVICES = ["Spooler", "wuauserv", "W32Time"]
PROCESSES = [(4242, 0x01D9_1234_5678_9ABC), (0xFFFFFFFE, 0xFFFF_FFFF_0000_0001)]


def rm_processes() -> ctypes.Array[t.RM_UNIQUE_PROCESS]:
    return (t.RM_UNIQUE_PROCESS * 2)(*(t.RM_UNIQUE_PROCESS.of(*p) for p in PROCESSES))


@pytest.mark.parametrize(
    "files,processes,services",
    [
        ((ctypes.c_wchar_p * 2)(*FILES), rm_processes(), (ctypes.c_wchar_p * 3)(*SERVICES)),
        (
            (ctypes.c_wchar_p * 2)(*FILES),
            (CallerUniqueProcess * 2)(*(caller_process(*p) for p in PROCESSES)),
            (ctypes.c_wchar_p * 3)(*SERVICES),
        ),
        (
            ctypes.cast((ctypes.c_wchar_p * 2)(*FILES), ctypes.POINTER(ctypes.c_wchar_p)),
            ctypes.cast(rm_processes(), ctypes.c_void_p),
            (ctypes.POINTER(ctypes.c_uint16) * 3)(*(_utf16(text) for text in SERVICES)),
        ),
    ],
    ids=["wchar_p_arrays+rmcore_structs", "caller_structs", "pointers+void_p+utf16"],
)
def test_register_resources_arrays_arrive_intact(
    dll: RstrtmgrDLL, rec: Record, files: Any, processes: Any, services: Any
) -> None:
    code = dll.RmRegisterResources(7, 2, files, 2, processes, 3, services)
    assert code == we.ERROR_SUCCESS
    assert (rec.function, rec.handle) == (b"RmRegisterResources", 7)
    assert (rec.n_files, rec.n_apps, rec.n_services) == (2, 2, 3)
    assert rec.text("files").split("|") == FILES
    assert rec.text("services").split("|") == SERVICES
    assert [rec.process(0), rec.process(1)] == PROCESSES
    assert rec.null_params() == set()


def test_register_resources_nulls_counts_and_short_arrays(dll: RstrtmgrDLL, rec: Record) -> None:
    one = (ctypes.c_wchar_p * 1)("Spooler")
    assert dll.RmRegisterResources(ctypes.c_uint32(8), 0, None, 0, None, 1, one) == 0
    assert rec.handle == 8 and rec.null_params() == {2, 4} and rec.text("services") == "Spooler"
    with_null = (ctypes.c_wchar_p * 2)("C:\\a", None)
    assert dll.RmRegisterResources(7, 2, with_null, 0, None, 0, None) == 0
    assert rec.text("files") == "C:\\a|(null)"  # a NULL entry stays NULL: the DLL decides
    assert dll.RmRegisterResources(99, 1, with_null, 0, None, 0, None) == 6
    assert rec.calls == 3
    for arguments in (
        (7, 3, (ctypes.c_wchar_p * 2)(*FILES), 0, None, 0, None),  # 3 claimed, 2 given
        (7, 0, None, 3, rm_processes(), 0, None),
    ):
        with pytest.raises(OSError, match="access violation reading"):
            dll.RmRegisterResources(*arguments)
    assert rec.calls == 3  # never reached the DLL (it would read past the arrays)


# --- RmGetList: the two-call pattern, straight through or via a temporary ---------------------
def _pair(process: Any) -> tuple[int, int]:
    start = process.ProcessStartTime
    return process.dwProcessId, (start.dwHighDateTime << 32) | start.dwLowDateTime


def assert_known_rows(rows: Any) -> None:
    first, second = rows[0], rows[1]
    assert _pair(first.Process) == (1111, 0x01D90000_89ABCDEF)
    assert t.wstr_get(_field(first, "strAppName")) == "Editor \u00e9\U0001f600"
    assert t.wstr_get(_field(first, "strServiceShortName")) == ""
    assert (first.ApplicationType, first.AppStatus, first.TSSessionId) == (1, 1, 1)
    assert first.bRestartable == 0
    assert _pair(second.Process) == (2222, 0x01DA0000_00000001)
    assert t.wstr_get(_field(second, "strAppName")) == "Print Spooler"
    assert t.wstr_get(_field(second, "strServiceShortName")) == "Spooler"
    assert (second.ApplicationType, second.AppStatus) == (t.RmService, t.RmStatusRunning)
    assert second.TSSessionId == 0xFFFFFFFF  # RM_INVALID_TS_SESSION as a DWORD
    assert second.bRestartable == 1


def _field(row: ctypes.Structure, name: str) -> Any:
    """A character-array field as an array (ctypes returns c_wchar arrays as str)."""
    field = getattr(type(row), name)
    array_type = dict(row._fields_)[name]  # type: ignore[arg-type]
    return array_type.from_buffer(row, field.offset)


def test_get_list_two_calls_into_rmcore_structs(dll: RstrtmgrDLL, rec: Record) -> None:
    needed, count, reasons = ctypes.c_uint32(), ctypes.c_uint32(0), ctypes.c_uint32()
    args = (ctypes.byref(needed), ctypes.byref(count))
    assert dll.RmGetList(7, *args, None, ctypes.byref(reasons)) == we.ERROR_MORE_DATA
    assert (needed.value, count.value, reasons.value) == (2, 0, t.RmRebootReasonDetectedSelf)
    assert rec.in_count == 0 and rec.null_params() == {3}
    rows = (t.RM_PROCESS_INFO * needed.value)()
    count.value = needed.value
    assert dll.RmGetList(7, *args, rows, ctypes.byref(reasons)) == we.ERROR_SUCCESS
    assert (needed.value, count.value, reasons.value) == (2, 2, 0x10)
    assert rec.in_count == 2 and rec.handle == 7
    assert rec.buffer_address == ctypes.addressof(rows)  # passed straight through
    assert_known_rows(rows)


def test_get_list_into_caller_structs(dll: RstrtmgrDLL, rec: Record) -> None:
    needed, count, reasons = ctypes.c_ulong(), ctypes.c_ulong(2), ctypes.c_ulong()
    rows = (CallerProcessInfo * 2)()
    code = dll.RmGetList(7, ctypes.byref(needed), ctypes.byref(count), rows, ctypes.byref(reasons))
    assert code == 0 and (needed.value, count.value, reasons.value) == (2, 2, 0x10)
    assert rec.buffer_address not in (0, ctypes.addressof(rows))  # a Windows-layout temporary
    assert rows[0].strAppName == "Editor \u00e9\U0001f600"  # c_wchar: decoded from UTF-16
    assert rows[1].strServiceShortName == "Spooler"
    assert_known_rows(rows)


def test_get_list_never_overruns_the_callers_array(dll: RstrtmgrDLL, rec: Record) -> None:
    needed, count, reasons = ctypes.c_uint32(), ctypes.c_uint32(2), ctypes.c_uint32()
    """*pnProcInfo says 2, the array holds 1: Windows writes 2 records past its end and
    returns 0; rmcore returns 0, warns, and writes only the record that fits."""
    arena = (CallerProcessInfo * 2)()
    one = (CallerProcessInfo * 1).from_buffer(arena)
    out = (ctypes.byref(needed), ctypes.byref(count))
    with pytest.warns(rmcore.RmUsageWarning, match="rgAffectedApps: room for 668 bytes"):
        assert dll.RmGetList(7, *out, one, ctypes.byref(reasons)) == 0
    assert one[0].Process.dwProcessId == 1111 and arena[1].Process.dwProcessId == 0
    count.value = 2
    own_arena = (t.RM_PROCESS_INFO * 2)()
    own = (t.RM_PROCESS_INFO * 1).from_buffer(own_arena)
    with pytest.warns(rmcore.RmUsageWarning, match="overrunning"):
        assert dll.RmGetList(7, *out, own, ctypes.byref(reasons)) == 0
    assert rec.buffer_address != ctypes.addressof(own)  # too small: not handed to the DLL
    assert own[0].Process.dwProcessId == 1111 and own_arena[1].Process.dwProcessId == 0
    with pytest.warns(rmcore.RmUsageWarning, match="overrunning"):  # checked before the call
        assert dll.RmGetList(7, *out, own, None) == 160 and rec.null_params() == {4}


# --- RmGetFilterList: records chained by cbNextOffset, strings inside the buffer --------------
def utf16_at(address: int) -> str:
    units: list[int] = []
    while unit := ctypes.c_uint16.from_address(address + 2 * len(units)).value:
        units.append(unit)
    return b"".join(u.to_bytes(2, sys.byteorder) for u in units).decode("utf-16")


def test_get_filter_list_buffer(dll: RstrtmgrDLL, rec: Record) -> None:
    needed = ctypes.c_uint32()
    assert dll.RmGetFilterList(7, None, 0, ctypes.byref(needed)) == we.ERROR_MORE_DATA
    assert needed.value > 2 * ctypes.sizeof(t.RM_FILTER_INFO)
    buffer = (ctypes.c_ubyte * needed.value)()
    assert dll.RmGetFilterList(7, buffer, needed.value, ctypes.byref(needed)) == 0
    start = ctypes.addressof(buffer)
    assert rec.buffer_address == start and rec.in_count == len(buffer)
    first = t.RM_FILTER_INFO.from_buffer(buffer, 0)
    assert (first.FilterAction, first.FilterTrigger) == (t.RmNoRestart, t.RmFilterTriggerFile)
    text_at = ctypes.cast(first.strFilename, ctypes.c_void_p).value or 0
    assert start < text_at < start + len(buffer)  # the string lives in the caller's buffer
    assert utf16_at(text_at) == "C:\\Apps\\t\u00f6\u00f6l.exe"
    assert 0 < first.cbNextOffset < len(buffer)
    second = t.RM_FILTER_INFO.from_buffer(buffer, first.cbNextOffset)
    assert (second.FilterAction, second.FilterTrigger) == (2, t.RmFilterTriggerProcess)
    assert second.Process.pair() == (3333, 0x01DB0000_11223344)
    assert second.cbNextOffset == 0


def test_get_filter_list_size_is_cut_to_the_buffer(dll: RstrtmgrDLL, rec: Record) -> None:
    needed = ctypes.c_ulong(0)
    backing = (ctypes.c_ubyte * 4096)()  # so that a missing cut fails here, not corrupts memory
    small = (ctypes.c_ubyte * 8).from_buffer(backing)
    with pytest.warns(rmcore.RmUsageWarning, match="pbFilterBuf: room for 8 bytes"):
        assert dll.RmGetFilterList(7, small, 4096, ctypes.byref(needed)) == 0
    assert rec.in_count == 4096 and needed.value > 8  # the DLL was told 4096, as by the caller
    assert bytes(backing[8:]) == b"\0" * 4088  # nothing past the caller's 8 bytes
    assert dll.RmGetFilterList(7, small, 8, None) == we.ERROR_MORE_DATA
    assert rec.null_params() == {3}


# --- NULL in every spelling reaches the DLL as NULL ---------------------------------------------
def test_typed_null_pointers_are_null(dll: RstrtmgrDLL, rec: Record) -> None:
    def null(ctype: Any) -> Any:
        return ctypes.POINTER(ctype)()

    key = null(ctypes.c_uint16)
    assert dll.RmStartSession(null(ctypes.c_uint32), 0, key) == 160
    assert rec.null_params() == {0, 2}
    assert dll.RmJoinSession(ctypes.c_void_p(None), ctypes.c_wchar_p(None)) == 160
    assert rec.null_params() == {0, 1}
    empty = (null(ctypes.c_wchar_p), null(t.RM_UNIQUE_PROCESS), null(ctypes.c_wchar_p))
    assert dll.RmRegisterResources(7, 0, empty[0], 0, empty[1], 0, empty[2]) == 0
    assert rec.null_params() == {2, 4, 6}
    needed, count, reasons = ctypes.c_uint32(), ctypes.c_uint32(0), ctypes.c_uint32()
    out = (ctypes.byref(needed), ctypes.byref(count))
    for rows in (null(t.RM_PROCESS_INFO), null(CallerProcessInfo), ctypes.c_void_p()):
        assert dll.RmGetList(7, *out, rows, ctypes.byref(reasons)) == we.ERROR_MORE_DATA
        assert rec.null_params() == {3} and needed.value == 2
    assert dll.RmGetFilterList(7, null(ctypes.c_ubyte), 0, ctypes.byref(needed)) == 234
    assert rec.null_params() == {1}
    process = null(CallerUniqueProcess)
    assert dll.RmAddFilter(7, ctypes.c_wchar_p(None), process, "svc", t.RmNoRestart) == 0
    assert rec.null_params() == {1, 2}
    assert dll.RmShutdown(7, 0, t.RM_WRITE_STATUS_CALLBACK()) == 0
    assert rec.callback_given == 0 and rec.calls == 9


# --- RmShutdown / RmRestart: flags and the status callback ------------------------------------
@pytest.mark.parametrize("function", ["RmShutdown", "RmRestart"])
def test_status_callback_python_and_ctypes(dll: RstrtmgrDLL, rec: Record, function: str) -> None:
    seen: list[int] = []
    assert getattr(dll, function)(7, 0x11, seen.append) == 0
    assert seen == [0, 50, 100]
    assert rec.function == function.encode() and rec.flags == 0x11 and rec.callback_given
    callback = t.RM_WRITE_STATUS_CALLBACK(seen.append)
    assert getattr(dll, function)(ctypes.c_uint32(7), 0, callback) == 0
    assert seen == [0, 50, 100] * 2 and rec.handle == 7
    assert getattr(dll, function)(7, 0, None) == 0
    assert rec.callback_given == 0 and rec.calls == 3


def test_callback_exception_is_reported_as_ctypes_does(
    dll: RstrtmgrDLL, rec: Record, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception cannot cross the DLL: ctypes prints it as "Exception ignored on calling
    ctypes callback function" and the call goes on; so does rmcore's."""
    seen: list[int] = []
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    def failing(percent: int) -> None:
        seen.append(percent)
        raise KeyError("boom")

    assert dll.RmShutdown(7, 0, failing) == 0
    assert seen == [0, 50, 100] and rec.calls == 1  # every report still reaches it
    assert [type(r.exc_value) for r in reported] == [KeyError] * 3
    assert "Exception ignored on calling ctypes callback function" in str(reported[0].err_msg)


# --- The rest: handles, filters ------------------------------------------------------------------
def test_end_session_and_cancel_pass_the_handle(dll: RstrtmgrDLL, rec: Record) -> None:
    assert dll.RmCancelCurrentTask(ctypes.c_ulong(7)) == 0
    assert (rec.function, rec.handle) == (b"RmCancelCurrentTask", 7)
    assert dll.RmEndSession(8) == 0 and rec.handle == 8
    assert dll.RmEndSession(0xFFFFFFFF) == we.ERROR_INVALID_HANDLE
    assert rec.handle == 0xFFFFFFFF


def test_add_and_remove_filter_arguments(dll: RstrtmgrDLL, rec: Record) -> None:
    assert dll.RmAddFilter(7, "C:\\x\\\u00e9.exe", None, None, t.RmNoShutdown) == 0
    assert rec.text("module") == "C:\\x\\\u00e9.exe" and rec.filter_action == 2
    assert rec.null_params() == {2, 3}
    assert dll.RmAddFilter(7, None, caller_process(*PROCESSES[0]), None, t.RmNoRestart) == 0
    assert rec.process(0) == PROCESSES[0] and rec.null_params() == {1, 3}
    assert dll.RmAddFilter(7, None, None, "Spooler", 0xFFFFFFFF) == 0
    assert rec.text("service") == "Spooler" and rec.filter_action == -1
    process = rm_processes()[1]
    assert dll.RmRemoveFilter(7, None, ctypes.byref(process), None) == 0
    assert rec.function == b"RmRemoveFilter" and rec.process(0) == PROCESSES[1]
    assert dll.RmRemoveFilter(7, ctypes.create_unicode_buffer("a.exe"), None, "svc") == 0
    assert rec.text("module") == "a.exe" and rec.text("service") == "svc"
    assert rec.null_params() == {2}


@settings(max_examples=60, deadline=None)
@given(text=st.text(st.characters(exclude_characters="\0"), max_size=200))
def test_any_text_crosses_as_utf16(dll: RstrtmgrDLL, text: str) -> None:
    expected = text.encode("utf-16-le", "surrogatepass")
    for as_arg in (str, ctypes.create_unicode_buffer, ctypes.c_wchar_p):
        rec = fresh_record(dll)
        assert dll.RmRemoveFilter(7, as_arg(text), None, None) == 0
        got = rec.units("module")
        assert b"".join(u.to_bytes(2, "little") for u in got) == expected


# --- The Pythonic layer runs unchanged on the DLL backend -------------------------------------
def test_pythonic_session_on_the_dll_backend(dll: RstrtmgrDLL, rec: Record) -> None:
    with rmcore.Session.start(dll) as session:
        assert (session.handle, session.key, session.primary) == (7, KEY, True)
    assert (rec.function, rec.handle) == (b"RmEndSession", 7) and session.ended
    with rmcore.Session.join(KEY, dll) as secondary:
        assert rec.units("key") == [ord(c) for c in KEY] and secondary.handle == 8
    assert rec.handle == 8
    with pytest.raises(rmcore.InvalidHandleError) as raised:
        rmcore.Session(dll, 99, KEY, primary=True).end()
    assert raised.value.winerror == 6 and raised.value.function == "RmEndSession"


# --- Choosing the backend ----------------------------------------------------------------------
@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("RMCORE_BACKEND", raising=False)
    monkeypatch.delenv("RMCORE_DLL_PATH", raising=False)
    return monkeypatch


def test_default_backend_is_the_simulator(clean_env: pytest.MonkeyPatch, store: str) -> None:
    clean_env.setenv("RMCORE_DLL_PATH", "/nonexistent/rstrtmgr.so")  # alone, never loaded
    backend = get_backend(store=store)
    assert type(backend) is rmcore.Simulator and backend.store.describe() == store
    for name in ("simulator", " SIM ", ""):
        clean_env.setenv("RMCORE_BACKEND", name)
        assert type(get_backend(store=store)) is rmcore.Simulator
    assert type(get_backend("simulator", store=store)) is rmcore.Simulator


@not_windows
@pytest.mark.parametrize("name", ["dll", "real", "DLL"])
def test_dll_off_windows_without_a_path_is_a_clear_error(
    clean_env: pytest.MonkeyPatch, name: str
) -> None:
    clean_env.setenv("RMCORE_BACKEND", name)
    with pytest.raises(BackendUnavailable, match="only on Windows; use the simulator"):
        get_backend()
    with pytest.raises(BackendUnavailable):
        get_backend(name)
    with pytest.raises(RuntimeError, match="only on Windows"):
        RstrtmgrDLL()


def test_dll_backend_from_the_environment(
    clean_env: pytest.MonkeyPatch, standin_path: str, store: str
) -> None:
    clean_env.setenv("RMCORE_BACKEND", "dll")
    clean_env.setenv("RMCORE_DLL_PATH", standin_path)
    backend = get_backend(store=store)  # simulator options are ignored when the env chose
    assert isinstance(backend, RstrtmgrDLL) and backend.path == standin_path
    handle = ctypes.c_uint32()
    assert backend.RmStartSession(ctypes.byref(handle), 0, ctypes.create_unicode_buffer(33)) == 0
    assert handle.value == 7
    clean_env.delenv("RMCORE_BACKEND")
    assert isinstance(get_backend("real", dll_path=standin_path), RstrtmgrDLL)


def test_backend_name_and_option_errors(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown backend 'wine'"):
        get_backend("wine")
    clean_env.setenv("RMCORE_BACKEND", "bogus")
    with pytest.raises(ValueError, match="RMCORE_BACKEND"):
        get_backend()
    with pytest.raises(TypeError, match="store"):
        get_backend("dll", dll_path="/nonexistent/rstrtmgr.so", store="x")


def test_unloadable_library_is_backend_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="cannot load"):
        RstrtmgrDLL(str(tmp_path / "missing.so"))


@not_windows
def test_library_without_the_exports_is_backend_unavailable() -> None:
    import ctypes.util

    libm = ctypes.util.find_library("m")
    if libm is None:
        pytest.skip("no libm to load")
    with pytest.raises(BackendUnavailable, match="does not export RmStartSession"):
        RstrtmgrDLL(libm)
