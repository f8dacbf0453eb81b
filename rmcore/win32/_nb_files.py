"""Files as kernel32 sees them: real host files, with Windows' names, errors and sharing.

A file name is resolved as Windows resolves it (``\\\\?\\`` and ``\\\\?\\UNC\\`` prefixes,
either separator, reserved characters, ``NUL``) and then opened on the host. Sharing is
Windows': an open that asks for data access (read, write, execute, delete) conflicts with
the share modes of every other opener of the same file, and a World process that holds a
file (``World.holders``, compared as the World compares) is an opener that shares nothing,
so CreateFileW answers winerror.ERROR_SHARING_VIOLATION until the process is shut down or killed.
Openers are tracked per world: Simulators that share a World share its files.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .. import winerror
from ..world._world import World
from ._libraries import NotSimulatedError
from ._nb_errors import Win32Failure, from_os_error
from ._nb_state import Beside

__all__ = ["INVALID_FILE_ATTRIBUTES", "Opened", "attributes_of", "information", "open_file"]

FILE_READ_DATA: Final = 0x0001
FILE_WRITE_DATA: Final = 0x0002
FILE_APPEND_DATA: Final = 0x0004
FILE_EXECUTE: Final = 0x0020
DELETE: Final = 0x00010000
FILE_ALL_ACCESS: Final = 0x001F01FF
GENERIC_WRITE: Final = 0x40000000
MAXIMUM_ALLOWED: Final = 0x02000000
_GENERIC: Final = {  # file generic mapping (GENERIC_READ, _WRITE, _EXECUTE, _ALL)
    0x80000000: 0x00120089,
    GENERIC_WRITE: 0x00120116,
    0x20000000: 0x001200A0,
    0x10000000: FILE_ALL_ACCESS,
}
FILE_SHARE_VALID: Final = 0x7  # READ 1, WRITE 2, DELETE 4
CREATE_NEW, CREATE_ALWAYS, OPEN_EXISTING, OPEN_ALWAYS, TRUNCATE_EXISTING = 1, 2, 3, 4, 5
FILE_FLAG_BACKUP_SEMANTICS: Final = 0x02000000
FILE_FLAG_DELETE_ON_CLOSE: Final = 0x04000000
FILE_ATTRIBUTE_READONLY: Final = 0x01
FILE_ATTRIBUTE_DIRECTORY: Final = 0x10
FILE_ATTRIBUTE_ARCHIVE: Final = 0x20
FILE_ATTRIBUTE_REPARSE_POINT: Final = 0x400
INVALID_FILE_ATTRIBUTES: Final = 0xFFFFFFFF
_READ, _WRITE = FILE_READ_DATA | FILE_EXECUTE, FILE_WRITE_DATA | FILE_APPEND_DATA
_DATA = _READ | _WRITE | DELETE
_SHARE_READ, _SHARE_WRITE, _SHARE_DELETE = 1, 2, 4
_EPOCH_AS_FILETIME = 116_444_736_000_000_000
_INFORMATION = struct.Struct("<IQQQIIIIII")  # BY_HANDLE_FILE_INFORMATION, 52 bytes
_RESERVED = re.compile(r'[<>"|?*\x00-\x1f]')
_DRIVE = re.compile(r"^[A-Za-z]:")

# Decided (with why) in rmcore.session._decisions.DECISIONS.
WORLD_HOLDER_ACCESS: Final = _READ | _WRITE
WORLD_HOLDER_SHARE: Final = 0
NO_HOST_VOLUME_RESULT: Final = winerror.ERROR_PATH_NOT_FOUND
FILE_ATTRIBUTES: Final = FILE_ATTRIBUTE_ARCHIVE
EMPTY_NAME_RESULT: Final = winerror.ERROR_PATH_NOT_FOUND
OTHER_DEVICE_RESULT: Final = winerror.ERROR_FILE_NOT_FOUND
MAXIMUM_ALLOWED_FILE_ACCESS: Final = FILE_ALL_ACCESS


@dataclass(frozen=True)
class _Opener:
    key: tuple[int, int]  # (st_dev, st_ino)
    access: int
    share: int


class _Openers:
    """Who has which host file open through kernel32, per world."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: dict[int, _Opener] = {}
        self.tokens = iter(range(1 << 62))


_openers: Beside[object, _Openers] = Beside(lambda _world: _Openers())


def _conflict(held_access: int, held_share: int, access: int, share: int) -> bool:
    """Windows' share check between an existing opener and a new open: only openers that
    ask for data access take part (IoCheckShareAccess/IoSetShareAccess skip the others)."""
    if not access & _DATA or not held_access & _DATA:
        return False
    return bool(
        (access & _READ and not held_share & _SHARE_READ)
        or (access & _WRITE and not held_share & _SHARE_WRITE)
        or (access & DELETE and not held_share & _SHARE_DELETE)
        or (held_access & _READ and not share & _SHARE_READ)
        or (held_access & _WRITE and not share & _SHARE_WRITE)
        or (held_access & DELETE and not share & _SHARE_DELETE)
    )


def _file_access(requested: int) -> int:
    for generic, specific in _GENERIC.items():
        if requested & generic:
            requested = (requested & ~generic) | specific
    if requested & MAXIMUM_ALLOWED:
        requested = (requested & ~MAXIMUM_ALLOWED) | MAXIMUM_ALLOWED_FILE_ACCESS
    return requested


def names(name: str | None) -> tuple[str, str | None]:
    """(the name Windows resolves, the host file or ``None`` if the host has none)."""
    if not name:
        raise Win32Failure(EMPTY_NAME_RESULT, "empty file name")
    given = name
    if given.startswith("\\\\?\\UNC\\"):
        given = "\\\\" + given[8:]
    elif given.startswith(("\\\\?\\", "\\??\\")):
        given = given[4:]
    elif given.startswith("\\\\.\\"):
        device = given[4:]
        if device.upper() != "NUL":
            raise Win32Failure(OTHER_DEVICE_RESULT, f"device {device!r}")
        return given, os.devnull
    if _RESERVED.search(given):
        raise Win32Failure(winerror.ERROR_INVALID_NAME, f"reserved character in {given!r}")
    if given.upper() == "NUL":
        return given, os.devnull
    if os.sep == "\\":
        return given, os.path.abspath(given)
    if _DRIVE.match(given) or given.startswith(("\\\\", "//")):
        return given, None
    return given, os.path.abspath(given.replace("\\", "/"))


def _parent_exists(host: str) -> bool:
    return os.path.isdir(os.path.dirname(host) or ".")


def _attributes(st: os.stat_result) -> int:
    if stat.S_ISDIR(st.st_mode):
        return FILE_ATTRIBUTE_DIRECTORY
    readonly = not st.st_mode & stat.S_IWUSR
    return FILE_ATTRIBUTES | (FILE_ATTRIBUTE_READONLY if readonly else 0)


def attributes_of(name: str | None) -> int:
    """GetFileAttributesW: never blocked by sharing; a symbolic link answers for itself
    (REPARSE_POINT, plus DIRECTORY for a link to a directory), as Windows does not follow
    it."""
    _given, host = names(name)
    if host is None:
        raise Win32Failure(NO_HOST_VOLUME_RESULT, "no such volume on this host")
    try:
        st = os.lstat(host)
    except OSError as exc:
        raise from_os_error(exc, parent_exists=_parent_exists(host)) from None
    if stat.S_ISLNK(st.st_mode):
        kind = FILE_ATTRIBUTE_DIRECTORY if os.path.isdir(host) else FILE_ATTRIBUTES
        return kind | FILE_ATTRIBUTE_REPARSE_POINT
    return _attributes(st)


@dataclass
class Opened:
    """What CreateFileW opened: the fd, the world's forget-me, the last error to leave."""

    fd: int
    path: str
    access: int
    release: Callable[[], None]
    last_error: int | None


def open_file(
    world: object, name: str | None, access: int, share: int, disposition: int, flags: int
) -> Opened:
    """CreateFileW: checks in Windows' order, then the host open."""
    if not CREATE_NEW <= disposition <= TRUNCATE_EXISTING or share & ~FILE_SHARE_VALID:
        raise Win32Failure(
            winerror.ERROR_INVALID_PARAMETER, f"disposition {disposition}, share {share}"
        )
    if disposition == TRUNCATE_EXISTING and not access & GENERIC_WRITE:
        raise Win32Failure(
            winerror.ERROR_INVALID_PARAMETER, "TRUNCATE_EXISTING needs GENERIC_WRITE"
        )
    if flags & FILE_FLAG_DELETE_ON_CLOSE:
        raise NotSimulatedError("not simulated by rmcore: CreateFileW FILE_FLAG_DELETE_ON_CLOSE")
    given, host = names(name)
    wanted = _file_access(access)
    if isinstance(world, World) and world.holders([given, host or given]):
        if disposition == CREATE_NEW:
            raise Win32Failure(
                winerror.ERROR_FILE_EXISTS, f"{given} exists (a World process holds it)"
            )
        if _conflict(WORLD_HOLDER_ACCESS, WORLD_HOLDER_SHARE, wanted, share):
            raise Win32Failure(winerror.ERROR_SHARING_VIOLATION, f"a World process holds {given}")
    if host is None:
        raise Win32Failure(NO_HOST_VOLUME_RESULT, f"{given}: no such volume on this host")
    openers = _openers.of(world)
    with openers.lock:
        existed = _check_existing(openers, host, wanted, share, disposition, flags)
        fd = _host_open(host, wanted, disposition, directory=existed == "directory")
        token = next(openers.tokens)
        st = os.fstat(fd)
        openers.open[token] = _Opener((st.st_dev, st.st_ino), wanted, share)
    always = disposition in (CREATE_ALWAYS, OPEN_ALWAYS)
    last_error = (winerror.ERROR_ALREADY_EXISTS if existed else 0) if always else None

    def release() -> None:
        with openers.lock:
            openers.open.pop(token, None)

    return Opened(fd, host, wanted, release, last_error)


def _check_existing(
    openers: _Openers, host: str, wanted: int, share: int, disposition: int, flags: int
) -> str:
    """What exists at *host* ("", "file", "directory"), after Windows' checks on it."""
    try:
        st = os.stat(host)
    except OSError:
        return ""
    if disposition == CREATE_NEW:
        raise Win32Failure(winerror.ERROR_FILE_EXISTS, f"{host} exists")
    directory = stat.S_ISDIR(st.st_mode)
    overwrite = disposition in (CREATE_ALWAYS, TRUNCATE_EXISTING)
    if directory and (overwrite or not flags & FILE_FLAG_BACKUP_SEMANTICS):
        raise Win32Failure(winerror.ERROR_ACCESS_DENIED, f"{host} is a directory")
    key = (st.st_dev, st.st_ino)
    for opener in openers.open.values():
        if opener.key == key and _conflict(opener.access, opener.share, wanted, share):
            raise Win32Failure(winerror.ERROR_SHARING_VIOLATION, f"{host} is open without sharing")
    return "directory" if directory else "file"


_DISPOSITION_FLAGS: Final = {
    CREATE_NEW: os.O_CREAT | os.O_EXCL,
    CREATE_ALWAYS: os.O_CREAT | os.O_TRUNC,
    OPEN_EXISTING: 0,
    OPEN_ALWAYS: os.O_CREAT,
    TRUNCATE_EXISTING: os.O_TRUNC,
}


def _host_open(host: str, wanted: int, disposition: int, *, directory: bool) -> int:
    if directory:
        mode = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    else:
        writing = wanted & _WRITE or disposition in (CREATE_ALWAYS, TRUNCATE_EXISTING)
        mode = (os.O_RDWR if wanted & _READ else os.O_WRONLY) if writing else os.O_RDONLY
        mode |= _DISPOSITION_FLAGS[disposition]
    try:
        return os.open(host, mode | getattr(os, "O_BINARY", 0), 0o666)
    except PermissionError:
        path_only = getattr(os, "O_PATH", 0)
        if directory or wanted & (_READ | _WRITE) or not path_only or mode & os.O_CREAT:
            raise Win32Failure(winerror.ERROR_ACCESS_DENIED, f"{host}: permission") from None
        return _host_open_path(host, path_only)  # attribute-only access needs no read right
    except OSError as exc:
        raise from_os_error(exc, parent_exists=_parent_exists(host)) from None


def _host_open_path(host: str, path_only: int) -> int:
    try:
        return os.open(host, path_only)
    except OSError as exc:
        raise from_os_error(exc, parent_exists=_parent_exists(host)) from None


def _filetime(nanoseconds: int) -> int:
    return _EPOCH_AS_FILETIME + nanoseconds // 100


def information(fd: int) -> bytes:
    """BY_HANDLE_FILE_INFORMATION (52 bytes, Windows layout) from the fd's fstat (the
    times as the decision "file identity and times" says)."""
    try:
        st = os.fstat(fd)
    except OSError:
        raise Win32Failure(winerror.ERROR_INVALID_HANDLE, "the fd is gone") from None
    birth = getattr(st, "st_birthtime", None)
    born = int(birth * 1e9) if birth else min(st.st_ctime_ns, st.st_mtime_ns)
    return _INFORMATION.pack(
        _attributes(st),
        _filetime(born),
        _filetime(st.st_atime_ns),
        _filetime(st.st_mtime_ns),
        st.st_dev & 0xFFFFFFFF,
        st.st_size >> 32 & 0xFFFFFFFF,
        st.st_size & 0xFFFFFFFF,
        min(st.st_nlink, 0xFFFFFFFF),
        st.st_ino >> 32 & 0xFFFFFFFF,
        st.st_ino & 0xFFFFFFFF,
    )
