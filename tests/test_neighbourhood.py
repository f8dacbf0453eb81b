"""The simulated kernel32 and psapi: processes, the last error, a real client importing.

Every call goes through ctypes under ``rmcore.patch(world=...)`` as client code makes it;
each expected value is what Windows answers (or, where Windows is unknown, the decision
named in rmcore/win32/_nb_processes.py).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator
from ctypes import byref, wintypes
from pathlib import Path
from typing import Any

import pytest
from nb_helpers import (
    EDITOR,
    INFINITE,
    MAXIMUM_ALLOWED,
    OFF_WINDOWS,
    PROCESS_QUERY_INFORMATION,
    PROCESS_QUERY_LIMITED_INFORMATION,
    PROCESS_TERMINATE,
    PROCESS_VM_READ,
    SIMULATOR_OPTIONS_INSIDE_THE_PLUGIN,
    STILL_ACTIVE,
    SYNCHRONIZE,
    WAIT_FAILED,
    WAIT_TIMEOUT,
    filetime,
    fresh_last_error,
    kernel32,
    last_error,
    rm_list,
    rm_shutdown,
)

import rmcore
from rmcore.win32._functions import SimulatedFunction
from rmcore.win32._libraries import NotSimulatedError
from rmcore.win32._nb_handles import table_of
from rmcore.win32._nb_processes import SimulatedDeadlock
from rmcore.win32._rstrtmgr import SimulatorExited
from rmcore.world import App, World

pytestmark = [OFF_WINDOWS, SIMULATOR_OPTIONS_INSIDE_THE_PLUGIN]
FDF_WINAPI = Path(__file__).parent / "clients" / "fdf_winapi" / "winapi.py"  # vendored
QUERY = PROCESS_QUERY_LIMITED_INFORMATION


_fresh_last_error = pytest.fixture(autouse=True)(fresh_last_error)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def locked(tmp_path: Path) -> str:
    path = tmp_path / "locked.txt"
    path.write_text("held")
    return str(path)


@pytest.fixture
def editor(world: World, locked: str) -> App:
    return world.add_process(EDITOR, files=[locked])


@pytest.fixture
def sim(world: World) -> Iterator[rmcore.Simulator]:
    with rmcore.patch(world=world) as simulator:
        yield simulator


def _image(k32: Any, handle: int, size: int = 260, flags: int = 0) -> tuple[int, str, int]:
    buffer, length = ctypes.create_unicode_buffer(size), wintypes.DWORD(size)
    result = k32.QueryFullProcessImageNameW(handle, flags, buffer, byref(length))
    return result, buffer.value, length.value


def _times(k32: Any, handle: int) -> tuple[int, list[int]]:
    times = [wintypes.FILETIME() for _ in range(4)]
    result = k32.GetProcessTimes(handle, *(byref(t) for t in times))
    return result, [filetime(t) for t in times]


def _exit_code(k32: Any, handle: int) -> int:
    code = wintypes.DWORD(12345)
    assert k32.GetExitCodeProcess(handle, byref(code)) == 1
    return code.value


# --- a World process: opened, named, timed, terminated, waited on -----------------------------
def test_a_world_process_is_opened_named_and_timed_as_rmgetlist_reports_it(
    sim: rmcore.Simulator, editor: App, locked: str
) -> None:
    [(pid, start, name)] = rm_list(locked)
    assert (pid, start, name) == (editor.pid, editor.start_time, "editor.exe")
    k32 = kernel32()
    handle = k32.OpenProcess(QUERY, False, pid)
    assert handle and handle % 4 == 0
    assert _image(k32, handle) == (1, EDITOR, len(EDITOR))
    native = "\\Device\\HarddiskVolume3\\Program Files\\Editor\\editor.exe"
    assert _image(k32, handle, flags=1) == (1, native, len(native))
    assert _times(k32, handle) == (1, [start, 0, 0, 0])  # creation == ProcessStartTime
    assert _exit_code(k32, handle) == STILL_ACTIVE
    assert k32.GetProcessId(handle) == pid
    assert k32.CloseHandle(handle) == 1


def test_module_names_through_psapi_and_kernel32(sim: rmcore.Simulator, editor: App) -> None:
    k32, psapi = kernel32(), ctypes.windll.psapi  # type: ignore[attr-defined]
    handle = k32.OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, False, editor.pid)
    buffer = ctypes.create_unicode_buffer(64)
    assert k32.K32GetModuleBaseNameW(handle, None, buffer, 64) == 10
    assert buffer.value == "editor.exe"
    assert psapi.GetModuleBaseNameW(handle, None, buffer, 64) == 10
    assert psapi.GetModuleFileNameExW(handle, None, buffer, 64) == len(EDITOR)
    assert buffer.value == EDITOR
    assert psapi.GetModuleBaseNameW(handle, None, buffer, 4) == 3 and buffer.value == "edi"
    assert psapi.GetModuleBaseNameW(handle, None, buffer, 0) == 0
    assert ctypes.GetLastError() == 122  # type: ignore[attr-defined]
    assert psapi.GetModuleBaseNameW(handle, 0x10000, buffer, 64) == 0  # not one of its modules
    assert ctypes.GetLastError() == 6  # type: ignore[attr-defined]
    limited = k32.OpenProcess(QUERY, False, editor.pid)  # documented: needs QUERY and VM_READ
    assert k32.K32GetModuleBaseNameW(limited, None, buffer, 64) == 0 and last_error() == 5


def test_terminate_frees_the_file_and_rmgetlist_forgets_the_process(
    sim: rmcore.Simulator, world: World, editor: App, locked: str
) -> None:
    k32 = kernel32()
    assert k32.CreateFileW(locked, 0x80000000, 7, None, 3, 0, None) == 2**64 - 1
    assert last_error() == 32  # ERROR_SHARING_VIOLATION while editor.exe holds it
    handle = k32.OpenProcess(PROCESS_TERMINATE | SYNCHRONIZE | QUERY, False, editor.pid)
    world.advance(2.5)
    assert k32.TerminateProcess(handle, 7) == 1
    assert not editor.running and editor.files == set()
    assert k32.WaitForSingleObject(handle, INFINITE) == 0  # WAIT_OBJECT_0, at once
    assert _exit_code(k32, handle) == 7
    assert _times(k32, handle)[1][:2] == [editor.start_time, world.filetime()]
    assert rm_list(locked) == []
    file_handle = k32.CreateFileW(locked, 0x80000000, 7, None, 3, 0, None)
    assert file_handle and file_handle != 2**64 - 1
    assert k32.TerminateProcess(handle, 1) == 0 and last_error() == 5  # already ended
    assert k32.CloseHandle(file_handle) == k32.CloseHandle(handle) == 1


def test_the_simulated_process_exiting_closes_its_file_handles(
    sim: rmcore.Simulator, locked: str
) -> None:
    k32 = kernel32()
    handle = k32.CreateFileW(locked, 0x80000000, 7, None, 3, 0, None)
    fd = table_of(sim).get(handle).fd  # type: ignore[union-attr]
    os.fstat(fd)  # open while the process lives
    sim.terminate()
    with pytest.raises(OSError):
        os.fstat(fd)
    assert len(table_of(sim)) == 0


def test_waiting_on_a_running_process_only_moves_simulated_time(
    sim: rmcore.Simulator, world: World, editor: App
) -> None:
    k32 = kernel32()
    handle = k32.OpenProcess(SYNCHRONIZE, False, editor.pid)
    assert k32.WaitForSingleObject(handle, 0) == WAIT_TIMEOUT and world.now == 0
    assert k32.WaitForSingleObject(handle, 1500) == WAIT_TIMEOUT and world.now == 1.5
    with pytest.raises(SimulatedDeadlock, match="never return"):
        k32.WaitForSingleObject(handle, INFINITE)
    assert world.now == 1.5 and editor.running
    no_sync = k32.OpenProcess(QUERY, False, editor.pid)
    assert k32.WaitForSingleObject(no_sync, 10) == WAIT_FAILED and last_error() == 5
    assert k32.WaitForSingleObject(0x7FF0, 10) == WAIT_FAILED and last_error() == 6


def test_a_process_that_exited_stays_openable_and_reports_its_end(
    sim: rmcore.Simulator, world: World, editor: App
) -> None:
    world.advance(3)
    world.exit(editor)
    k32 = kernel32()
    handle = k32.OpenProcess(QUERY | SYNCHRONIZE, False, editor.pid)
    assert handle
    assert k32.WaitForSingleObject(handle, INFINITE) == 0
    assert _exit_code(k32, handle) == 0  # decision: EXIT_CODE_WHEN_CLOSED
    assert _times(k32, handle)[1][:2] == [editor.start_time, world.filetime()]
    assert _image(k32, handle)[:2] == (1, EDITOR)
    full = k32.OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, False, editor.pid)
    buffer = ctypes.create_unicode_buffer(64)
    assert k32.K32GetModuleBaseNameW(full, None, buffer, 64) == 0 and last_error() == 299


def test_a_handle_names_one_process_instance_across_shutdown_and_restart(
    sim: rmcore.Simulator, world: World, editor: App
) -> None:
    k32 = kernel32()
    old_pid = editor.pid
    handle = k32.OpenProcess(QUERY | SYNCHRONIZE, False, old_pid)
    assert world.stop(editor, force=True, timeout=0) and world.start_again(editor)
    assert k32.WaitForSingleObject(handle, 0) == 0  # the instance it named has ended
    assert k32.OpenProcess(QUERY, False, old_pid) is None and last_error() == 87
    again = k32.OpenProcess(QUERY, False, editor.pid)
    assert _times(k32, again)[1][0] == editor.start_time != _times(k32, handle)[1][0]


# --- who may be opened -----------------------------------------------------------------------
@pytest.mark.parametrize("pid", [12345, 0, 0xFFFFFFFF])
def test_an_unknown_pid_is_87(sim: rmcore.Simulator, pid: int) -> None:
    assert kernel32().OpenProcess(QUERY, False, pid) is None
    assert last_error() == 87


def test_the_system_process_is_access_denied(sim: rmcore.Simulator) -> None:
    assert kernel32().OpenProcess(QUERY, False, 4) is None and last_error() == 5


@pytest.mark.parametrize("flag", ["other_user", "critical"])
def test_protected_processes_grant_only_query_limited_and_synchronize(
    sim: rmcore.Simulator, world: World, flag: str
) -> None:
    app = world.add_process("C:\\Windows\\System32\\csrss.exe", **{flag: True})
    k32 = kernel32()
    for access in (PROCESS_TERMINATE, PROCESS_QUERY_INFORMATION, 0x1F0FFF, 0x10000000):
        assert k32.OpenProcess(access, False, app.pid) is None and last_error() == 5
    handle = k32.OpenProcess(MAXIMUM_ALLOWED, False, app.pid)
    assert _image(k32, handle)[:2] == (1, app.image_path)
    assert k32.TerminateProcess(handle, 1) == 0 and last_error() == 5
    assert app.running


def test_a_handle_without_the_right_is_5(sim: rmcore.Simulator, editor: App) -> None:
    k32 = kernel32()
    handle = k32.OpenProcess(SYNCHRONIZE, False, editor.pid)
    assert _image(k32, handle)[0] == 0 and last_error() == 5
    assert _times(k32, handle)[0] == 0 and last_error() == 5
    assert k32.TerminateProcess(handle, 1) == 0 and last_error() == 5 and editor.running
    generic = k32.OpenProcess(0x20000000, False, editor.pid)  # GENERIC_EXECUTE maps to these
    assert _image(k32, generic)[0] == 1 and k32.TerminateProcess(generic, 9) == 1


# --- the calling process itself --------------------------------------------------------------
def test_the_calling_process_answers_from_the_host(sim: rmcore.Simulator) -> None:
    k32 = kernel32()
    assert k32.GetCurrentProcess() == 2**64 - 1  # the pseudo-handle -1, as a HANDLE
    assert k32.GetCurrentProcessId() == sim.pid == os.getpid()
    own = sim.process.os_process.start_time
    for handle in (k32.GetCurrentProcess(), k32.OpenProcess(QUERY, False, sim.pid)):
        assert _image(k32, handle, 4096)[:2] == (1, os.path.abspath(sys.executable))
        result, (created, ended, _kernel, user) = _times(k32, handle)
        assert (result, created, ended) == (1, own, 0) and user > 0
        assert _exit_code(k32, handle) == STILL_ACTIVE
    assert k32.WaitForSingleObject(k32.GetCurrentProcess(), 10) == WAIT_TIMEOUT
    assert k32.CloseHandle(k32.GetCurrentProcess()) == 1  # closing a pseudo-handle: no-op


def test_terminating_the_calling_process_ends_the_simulated_process(
    sim: rmcore.Simulator,
) -> None:
    k32 = kernel32()
    with pytest.raises(SimulatorExited, match="TerminateProcess"):
        k32.TerminateProcess(k32.GetCurrentProcess(), 3)
    with pytest.raises(SimulatorExited):
        ctypes.WinDLL("rstrtmgr").RmStartSession(  # type: ignore[attr-defined]
            byref(wintypes.DWORD()), 0, ctypes.create_unicode_buffer(33)
        )


def test_enum_processes_lists_running_world_processes_and_the_caller(
    sim: rmcore.Simulator, world: World, editor: App
) -> None:
    gone = world.add_process("C:\\old.exe")
    world.exit(gone)
    expected = sorted([editor.pid, sim.pid])
    pids, returned = (wintypes.DWORD * 8)(), wintypes.DWORD()
    psapi = ctypes.WinDLL("psapi")  # type: ignore[attr-defined]
    assert psapi.EnumProcesses(pids, ctypes.sizeof(pids), byref(returned)) == 1
    assert returned.value == 8 and list(pids[:2]) == expected
    one = (wintypes.DWORD * 1)()
    assert kernel32().K32EnumProcesses(one, 4, byref(returned)) == 1  # too small: still TRUE
    assert returned.value == 4 and one[0] == expected[0]
    assert psapi.EnumProcesses(None, 0, byref(returned)) == 1 and returned.value == 0
    with pytest.raises(OSError, match="access violation reading 0x0000000000000000"):
        psapi.EnumProcesses(pids, 32, None)


# --- the last error --------------------------------------------------------------------------
def test_last_error_reaches_use_last_error_dlls_and_get_last_error(sim: rmcore.Simulator) -> None:
    private = kernel32()  # use_last_error=True: ctypes keeps its own copy after each call
    plain = ctypes.windll.kernel32  # type: ignore[attr-defined]
    ctypes.set_last_error(0)  # type: ignore[attr-defined]
    assert plain.OpenProcess(QUERY, 0, 12345) == 0
    assert ctypes.GetLastError() == plain.GetLastError() == 87  # type: ignore[attr-defined]
    assert last_error() == 0  # a plain DLL leaves ctypes' private copy alone
    assert private.OpenProcess(QUERY, False, 4) is None
    assert last_error() == 5 == private.GetLastError()
    plain.SetLastError(1234)
    assert plain.GetLastError() == 1234 and last_error() == 5
    private.SetLastError(0)
    assert last_error() == 0


def test_calls_without_argtypes_take_ints_as_ctypes_passes_them(
    sim: rmcore.Simulator, editor: App
) -> None:
    plain = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = plain.OpenProcess(PROCESS_TERMINATE, 0, editor.pid)
    assert handle > 0 and handle % 4 == 0
    assert plain.GetCurrentProcess() == -1  # restype c_int, as ctypes converts it
    assert plain.TerminateProcess(handle, 1) == 1 and not editor.running
    assert plain.CloseHandle(handle) == 1
    assert plain.CloseHandle(handle) == 0 and plain.GetLastError() == 6


@pytest.mark.parametrize("handle", [0, 0x104, 0x7FFFFFFC, -7])
def test_garbage_handles_are_6_everywhere(sim: rmcore.Simulator, handle: int) -> None:
    k32 = kernel32()
    assert k32.CloseHandle(handle) == 0 and last_error() == 6
    assert _image(k32, handle)[0] == 0 and last_error() == 6
    assert _times(k32, handle)[0] == 0 and last_error() == 6
    assert k32.TerminateProcess(handle, 0) == 0 and last_error() == 6
    assert k32.GetProcessId(handle) == 0 and last_error() == 6


def test_image_name_buffers_are_checked_as_windows_checks_them(
    sim: rmcore.Simulator, editor: App
) -> None:
    k32 = kernel32()
    handle = k32.OpenProcess(QUERY, False, editor.pid)
    buffer = ctypes.create_unicode_buffer("untouched", 64)
    size = wintypes.DWORD(len(EDITOR))  # no room for the NUL
    assert k32.QueryFullProcessImageNameW(handle, 0, buffer, byref(size)) == 0
    assert last_error() == 122 and size.value == len(EDITOR) and buffer.value == "untouched"
    assert k32.QueryFullProcessImageNameW(handle, 2, buffer, byref(size)) == 0
    assert last_error() == 87  # undefined dwFlags bits
    with pytest.raises(OSError, match="access violation reading 0x0000000000000000"):
        k32.QueryFullProcessImageNameW(handle, 0, buffer, None)
    with pytest.raises(OSError, match="access violation writing 0x0000000000000000"):
        k32.QueryFullProcessImageNameW(handle, 0, None, byref(wintypes.DWORD(64)))
    tiny = ctypes.create_unicode_buffer(4)
    with pytest.warns(rmcore.RmUsageWarning, match="overrunning"):  # a huge *lpdwSize lies
        assert k32.QueryFullProcessImageNameW(handle, 0, tiny, byref(wintypes.DWORD(2**32 - 1)))
    assert tiny[:4] == "C:\\P"  # only what fits is written
    with pytest.raises(OSError, match="access violation writing 0x0000000000000000"):
        k32.GetProcessTimes(handle, None, None, None, None)
    with pytest.raises(ctypes.ArgumentError):
        k32.GetExitCodeProcess(handle, "not a pointer")


def test_handles_are_per_simulator_and_thread_safe(world: World, editor: App) -> None:
    with rmcore.patch(world=world):
        k32 = kernel32()
        handles: list[int] = []

        def open_many() -> None:
            handles.extend(k32.OpenProcess(QUERY, False, editor.pid) for _ in range(50))

        threads = [threading.Thread(target=open_many) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(handles)) == 400 and all(h % 4 == 0 for h in handles)
        with rmcore.patch(world=world, strict=True):
            other = kernel32()
            assert other.CloseHandle(handles[0]) == 0 and last_error() == 6
        assert k32.CloseHandle(handles[0]) == 1


def test_unsimulated_kernel32_functions_load_and_raise_when_called(
    sim: rmcore.Simulator,
) -> None:
    k32 = kernel32()
    read_file = k32.ReadFile
    with pytest.raises(NotSimulatedError, match=r"kernel32\.ReadFile"):
        read_file(0, None, 0, None, None)


# --- a real client: FDF's winapi.py binds 41 functions at import -----------------------------
def test_fdf_winapi_imports_unchanged_and_finds_kills_and_checks(
    sim: rmcore.Simulator, world: World, editor: App, locked: str, tmp_path: Path
) -> None:
    spec = importlib.util.spec_from_file_location("rmcore_nb_fdf_winapi", FDF_WINAPI)
    assert spec is not None and spec.loader is not None
    winapi = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(winapi)
    bound = [v for v in vars(winapi).values() if isinstance(v, SimulatedFunction)]
    assert len(bound) == 41
    assert winapi.get_process_image(editor.pid) == EDITOR
    assert winapi.get_process_image(12345) == ""  # OpenProcess fails with 87
    assert winapi.path_exists(locked) and not winapi.is_directory(locked)
    assert winapi.is_directory(str(tmp_path)) and not winapi.path_exists(locked + ".gone")
    assert winapi.kill_process(editor.pid) is True and not editor.running
    assert winapi.kill_process(editor.pid) is False  # the ended process cannot be terminated
    assert rm_shutdown(locked) == 0


def test_with_the_host_world_only_the_calling_process_is_known() -> None:
    pytest.importorskip("psutil")
    with rmcore.patch(world="host") as sim:
        k32 = kernel32()
        assert k32.OpenProcess(QUERY, False, os.getppid()) is None and last_error() == 87
        handle = k32.OpenProcess(QUERY, False, sim.pid)
        assert _image(k32, handle, 4096)[:2] == (1, os.path.abspath(sys.executable))
        pids, returned = (wintypes.DWORD * 4)(), wintypes.DWORD()
        assert k32.K32EnumProcesses(pids, 16, byref(returned)) == 1
        assert returned.value == 4 and pids[0] == sim.pid
