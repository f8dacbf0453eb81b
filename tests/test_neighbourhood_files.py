"""The simulated kernel32's file calls and messages: real files, Windows' answers.

CreateFileW opens host files with Windows' dispositions, errors and share modes, and a file
a World process holds is ERROR_SHARING_VIOLATION until Restart Manager (or TerminateProcess)
stops the process. Decisions are named in rmcore/win32/_nb_files.py.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from ctypes import byref, wintypes
from pathlib import Path
from typing import Any

import pytest
from nb_helpers import (
    BY_HANDLE_FILE_INFORMATION,
    CREATE_ALWAYS,
    CREATE_NEW,
    EDITOR,
    FILE_FLAG_BACKUP_SEMANTICS,
    FILE_READ_ATTRIBUTES,
    FILE_SHARE_ALL,
    GENERIC_READ,
    GENERIC_WRITE,
    INVALID_HANDLE_VALUE,
    OFF_WINDOWS,
    OPEN_ALWAYS,
    OPEN_EXISTING,
    PROCESS_QUERY_LIMITED_INFORMATION,
    SIMULATOR_OPTIONS_INSIDE_THE_PLUGIN,
    TRUNCATE_EXISTING,
    fresh_last_error,
    kernel32,
    last_error,
    rm_list,
    rm_shutdown,
)

import rmcore
from rmcore.win32._libraries import NotSimulatedError
from rmcore.world import App, World

pytestmark = [OFF_WINDOWS, SIMULATOR_OPTIONS_INSIDE_THE_PLUGIN]
INVALID_FILE_ATTRIBUTES = 0xFFFFFFFF
ARCHIVE, DIRECTORY, READONLY = 0x20, 0x10, 0x01


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
def k32(world: World) -> Iterator[Any]:
    with rmcore.patch(world=world):
        yield kernel32()


def _open(
    k32: Any, path: object, access: int = GENERIC_READ, share: int = FILE_SHARE_ALL, **kw: int
) -> int | None:
    disposition, flags = kw.get("disposition", OPEN_EXISTING), kw.get("flags", 0)
    handle: int | None = k32.CreateFileW(path, access, share, None, disposition, flags, None)
    return handle


def _failed(handle: int | None, code: int) -> bool:
    return handle == INVALID_HANDLE_VALUE and last_error() == code


# --- the point of it all: a held file -----------------------------------------------------------
def test_a_file_a_world_process_holds_is_32_until_rmshutdown_stops_it(
    k32: Any, world: World, locked: str
) -> None:
    editor = world.add_process(EDITOR, files=[locked])
    for access, share in ((GENERIC_READ, FILE_SHARE_ALL), (GENERIC_WRITE, 0), (0x10000, 7)):
        assert _failed(_open(k32, locked, access, share), 32)
    assert _failed(_open(k32, locked, disposition=CREATE_NEW), 80)  # it exists
    assert k32.GetFileAttributesW(locked) == ARCHIVE  # attributes need no open
    attributes_only = _open(k32, locked, FILE_READ_ATTRIBUTES, 0)  # no data access: no check
    assert attributes_only not in (None, INVALID_HANDLE_VALUE)
    assert [pid for pid, _, _ in rm_list(locked)] == [editor.pid]
    assert rm_shutdown(locked) == 0 and not editor.running
    handle = _open(k32, locked, GENERIC_READ | GENERIC_WRITE, 0)
    assert handle not in (None, INVALID_HANDLE_VALUE)
    assert os.read(os.open(locked, os.O_RDONLY), 4) == b"held"
    assert k32.CloseHandle(handle) == k32.CloseHandle(attributes_only) == 1


def test_held_is_decided_by_name_as_the_world_compares_names(
    k32: Any, world: World, locked: str
) -> None:
    world.add_process(EDITOR, files=[locked.upper(), "C:\\Work\\Report.docx"])
    assert _failed(_open(k32, locked), 32)  # case-insensitive, as the World compares
    assert _failed(_open(k32, "\\\\?\\" + locked.replace("/", "\\")), 32)
    assert _failed(_open(k32, "\\\\?\\c:\\work\\report.DOCX"), 32)  # a file only the World has
    assert _failed(_open(k32, "C:\\Work\\Other.docx"), 3)  # no C: volume on this host


def test_our_own_handles_share_as_windows_shares(k32: Any, locked: str) -> None:
    exclusive = _open(k32, locked, GENERIC_READ, 0)
    assert _failed(_open(k32, locked, GENERIC_READ, FILE_SHARE_ALL), 32)
    assert _open(k32, locked, FILE_READ_ATTRIBUTES, 0) not in (None, INVALID_HANDLE_VALUE)
    assert k32.CloseHandle(exclusive) == 1
    reader = _open(k32, locked, GENERIC_READ, 1)  # FILE_SHARE_READ
    assert _open(k32, locked, GENERIC_READ, 1) not in (None, INVALID_HANDLE_VALUE)
    assert _failed(_open(k32, locked, GENERIC_WRITE, FILE_SHARE_ALL), 32)  # reader shares no write
    assert k32.CloseHandle(reader) == 1


# --- dispositions and names -----------------------------------------------------------------------
def test_the_five_dispositions(k32: Any, tmp_path: Path, locked: str) -> None:
    fresh = str(tmp_path / "fresh.txt")
    k32.SetLastError(999)
    handle = _open(k32, fresh, GENERIC_WRITE, disposition=CREATE_NEW)
    assert (
        handle not in (None, INVALID_HANDLE_VALUE) and last_error() == 999 and os.path.isfile(fresh)
    )
    assert _failed(_open(k32, fresh, disposition=CREATE_NEW), 80)
    assert _open(k32, locked, GENERIC_WRITE, disposition=CREATE_ALWAYS) and last_error() == 183
    assert Path(locked).read_text() == ""  # truncated
    assert _open(k32, str(tmp_path / "new2"), GENERIC_WRITE, disposition=CREATE_ALWAYS)
    assert last_error() == 0
    assert _open(k32, locked, disposition=OPEN_ALWAYS) and last_error() == 183
    assert _failed(_open(k32, locked, GENERIC_READ, disposition=TRUNCATE_EXISTING), 87)
    assert _open(k32, locked, GENERIC_WRITE, disposition=TRUNCATE_EXISTING)
    for bad in (0, 6, 0xFFFFFFFF):
        assert _failed(_open(k32, locked, disposition=bad), 87)
    assert _failed(_open(k32, locked, share=8), 87)


def test_missing_files_and_bad_names(k32: Any, tmp_path: Path) -> None:
    assert _failed(_open(k32, str(tmp_path / "none.txt")), 2)
    assert _failed(_open(k32, str(tmp_path / "no" / "none.txt")), 3)
    assert _failed(_open(k32, str(tmp_path / "a?b")), 123)
    assert _failed(_open(k32, ""), 3)
    assert _failed(_open(k32, None), 3)
    assert _failed(_open(k32, "\\\\.\\PhysicalDrive0"), 2)
    assert _open(k32, "NUL", GENERIC_WRITE) not in (None, INVALID_HANDLE_VALUE)
    with pytest.raises(NotSimulatedError, match="DELETE_ON_CLOSE"):
        _open(k32, str(tmp_path / "x"), disposition=CREATE_NEW, flags=0x04000000)


def test_directories_need_backup_semantics(k32: Any, tmp_path: Path) -> None:
    folder = str(tmp_path)
    assert _failed(_open(k32, folder), 5)
    handle = _open(k32, folder, flags=FILE_FLAG_BACKUP_SEMANTICS)
    assert handle not in (None, INVALID_HANDLE_VALUE)
    info = BY_HANDLE_FILE_INFORMATION()
    assert k32.GetFileInformationByHandle(handle, byref(info)) == 1
    assert info.dwFileAttributes == DIRECTORY
    flags = FILE_FLAG_BACKUP_SEMANTICS
    assert _failed(_open(k32, folder, GENERIC_WRITE, disposition=CREATE_ALWAYS, flags=flags), 5)
    assert _failed(_open(k32, folder, disposition=CREATE_NEW, flags=flags), 80)


def test_prefixes_and_separators_name_the_same_host_file(k32: Any, locked: str) -> None:
    for name in (
        "\\\\?\\" + locked,
        locked.replace("/", "\\"),
        "\\\\?\\" + locked.replace("/", "\\"),
    ):
        handle = _open(k32, name)
        assert handle not in (None, INVALID_HANDLE_VALUE), name
        assert k32.CloseHandle(handle) == 1


# --- attributes and handle information -------------------------------------------------------
def test_get_file_attributes(k32: Any, tmp_path: Path, locked: str) -> None:
    assert k32.GetFileAttributesW(locked) == ARCHIVE
    assert k32.GetFileAttributesW("\\\\?\\" + locked.replace("/", "\\")) == ARCHIVE
    assert k32.GetFileAttributesW(str(tmp_path)) == DIRECTORY
    os.chmod(locked, 0o444)
    assert k32.GetFileAttributesW(locked) == ARCHIVE | READONLY
    link, folder_link, dangling = tmp_path / "link", tmp_path / "dir_link", tmp_path / "gone"
    link.symlink_to(locked)
    folder_link.symlink_to(tmp_path)
    dangling.symlink_to(tmp_path / "nothing")
    assert k32.GetFileAttributesW(str(link)) == ARCHIVE | 0x400  # the link: REPARSE_POINT
    assert k32.GetFileAttributesW(str(folder_link)) == DIRECTORY | 0x400
    assert k32.GetFileAttributesW(str(dangling)) == ARCHIVE | 0x400  # not followed
    cases = [(str(tmp_path / "none"), 2), (str(tmp_path / "no" / "x"), 3), (None, 3)]
    cases += [("", 3), ("C:\\Windows", 3), ("bad|name", 123)]
    for name, code in cases:
        assert k32.GetFileAttributesW(name) == INVALID_FILE_ATTRIBUTES and last_error() == code


def test_file_information_by_handle(k32: Any, locked: str) -> None:
    handle = _open(k32, locked)
    info = BY_HANDLE_FILE_INFORMATION()  # 8-byte DWORDs off Windows: filled field by field
    assert k32.GetFileInformationByHandle(handle, byref(info)) == 1
    st = os.stat(locked)
    assert info.dwFileAttributes == ARCHIVE and info.nFileSizeLow == 4 and info.nFileSizeHigh == 0
    assert (info.nFileIndexHigh << 32 | info.nFileIndexLow) == st.st_ino
    assert info.nNumberOfLinks == 1 and info.dwVolumeSerialNumber == st.st_dev & 0xFFFFFFFF
    written = info.ftLastWriteTime.dwHighDateTime << 32 | info.ftLastWriteTime.dwLowDateTime
    assert written == 116_444_736_000_000_000 + st.st_mtime_ns // 100
    raw = (ctypes.c_ubyte * 52)()  # the Windows image itself
    assert k32.GetFileInformationByHandle(handle, raw) == 1 and bytes(raw[20:24]) != bytes(4)
    with pytest.raises(OSError, match="access violation writing 0x0000000000000000"):
        k32.GetFileInformationByHandle(handle, None)
    with pytest.warns(rmcore.RmUsageWarning, match="overrunning"):
        k32.GetFileInformationByHandle(handle, (ctypes.c_ubyte * 8)())


def test_file_information_refuses_what_is_no_file(k32: Any, world: World) -> None:
    app = world.add_process(EDITOR)
    process = k32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, app.pid)
    info = BY_HANDLE_FILE_INFORMATION()
    for handle in (process, k32.GetCurrentProcess(), 0, 0x7777770):
        assert k32.GetFileInformationByHandle(handle, byref(info)) == 0 and last_error() == 6


def test_closing_a_file_handle_closes_it(k32: Any, locked: str) -> None:
    handle = _open(k32, locked, GENERIC_READ, 0)
    assert k32.CloseHandle(handle) == 1
    assert k32.CloseHandle(handle) == 0 and last_error() == 6
    assert k32.WaitForSingleObject(handle, 0) == 0xFFFFFFFF and last_error() == 6
    again = _open(k32, locked, GENERIC_READ, 0)  # the exclusive opener is gone
    assert again not in (None, INVALID_HANDLE_VALUE)
    assert k32.WaitForSingleObject(again, 0xFFFFFFFF) == 0  # a file handle is signalled


# --- FormatMessageW --------------------------------------------------------------------------
def test_format_message_from_system(k32: Any) -> None:
    buffer = ctypes.create_unicode_buffer(256)
    sharing = "The process cannot access the file because it is being used by another process."
    assert k32.FormatMessageW(0x1000, None, 32, 0, buffer, 256, None) == len(sharing) + 2
    assert buffer.value == sharing + "\r\n"
    assert k32.FormatMessageW(0x12FF, None, 5, 0x409, buffer, 256, None) == 18  # max width
    assert buffer.value == "Access is denied. "
    assert k32.FormatMessageW(0x1000, None, 121, 0, buffer, 256, None) > 0
    assert buffer.value.startswith("The semaphore timeout")  # rmcore.winerror's messages
    assert k32.FormatMessageW(0x1000, None, 99999, 0, buffer, 256, None) == 0
    assert last_error() == 317
    assert k32.FormatMessageW(0x1000, None, 5, 0, buffer, 19, None) == 0 and last_error() == 122
    assert k32.FormatMessageW(0, None, 5, 0, buffer, 256, None) == 0 and last_error() == 87
    with pytest.raises(OSError, match="access violation writing"):
        k32.FormatMessageW(0x1000, None, 5, 0, None, 256, None)
    with pytest.raises(NotSimulatedError):
        allocated = ctypes.c_void_p()
        k32.FormatMessageW(
            0x1100, None, 5, 0, ctypes.cast(byref(allocated), wintypes.LPWSTR), 0, None
        )


def test_format_message_agrees_with_ctypes_format_error(k32: Any) -> None:
    buffer = ctypes.create_unicode_buffer(512)
    for code in (2, 5, 6, 121, 1219):
        assert k32.FormatMessageW(0x10FF, None, code, 0, buffer, 512, None)
        assert buffer.value.strip() == ctypes.FormatError(code)  # type: ignore[attr-defined]


def test_a_shared_world_shares_files_between_simulated_processes(world: World, locked: str) -> None:
    with rmcore.patch(world=world):
        first = kernel32()
        handle = _open(first, locked, GENERIC_WRITE, 0)
        with rmcore.patch(world=world):  # another simulated process on the same machine
            assert _failed(_open(kernel32(), locked), 32)
        assert first.CloseHandle(handle) == 1


def test_paths_given_as_buffers_and_pointers(k32: Any, locked: str, world: World) -> None:
    app: App = world.add_process(EDITOR, files=[locked])
    buffer = ctypes.create_unicode_buffer(locked)
    assert _failed(_open(k32, ctypes.cast(buffer, wintypes.LPCWSTR)), 32)
    assert k32.GetFileAttributesW(ctypes.c_wchar_p(locked)) == ARCHIVE
    plain = ctypes.windll.kernel32  # type: ignore[attr-defined]
    assert plain.CreateFileW(buffer, GENERIC_READ, 7, None, 3, 0, None) == -1
    assert plain.GetLastError() == 32 and app.running
