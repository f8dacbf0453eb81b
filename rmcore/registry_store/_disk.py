"""A directory that emulates a registry hive, shared by every process that opens it.

Layout: key ``A\\B\\C`` is the file ``<root>/A/B/C.key`` (all its values, replaced whole
by write-to-temp + rename, so a reader sees the old value set or the new one and a process
killed mid-write leaves at most a stray temp file); its log is ``<root>/A/B/C.log``
(records appended one write each); ``<root>/registry.lock`` is the mutex's lock file and
``<root>/.rmcore-store`` marks the directory as a store. No fsync: like the real volatile
hive, the store must survive a process crash, not a reboot.

Every path below the root goes through :mod:`._fs` (no link followed, every read bounded:
keys at most :data:`KEY_CAP`, logs :data:`LOG_CAP` bytes). Directory descriptors are kept
per key folder, so one operation touches only the files it names.
"""

from __future__ import annotations

import os
import stat
import threading
import weakref
from collections.abc import Callable, Mapping

from . import _fs
from ._base import Problem, Store, split_key_path
from ._errors import StoreError, StoreReadError, StoreWriteError
from ._guard import refuse_fake_filesystem
from ._location import MARKER_NAME, Root
from ._mutex import RegistryMutex
from ._values import (
    CorruptKeyError,
    RegValue,
    decode_values,
    encode_values,
    frame_record,
    unframe_records,
)

__all__ = ["KEY_CAP", "LOCK_NAME", "LOG_CAP", "DiskStore", "RegistryStore"]

KEY_CAP = 1 << 20  # a key file larger than 1 MiB is not read (a full session is ~5 KiB)
LOG_CAP = 64 << 20  # a log larger than 64 MiB is not read nor appended to
LOCK_NAME = "registry.lock"
_KEY, _LOG = ".key", ".log"
_OWN_ROOT_FILES = frozenset({LOCK_NAME, MARKER_NAME})
_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def _close_all(dirs: list[_fs.Dir]) -> None:
    for directory in dirs:
        directory.close()


class DiskStore(Store):
    """One on-disk hive (see the module docstring); *path* ``None`` is the default root.

    ``create=False`` opens it read-only: nothing is created, chmod'ed or locked, writes
    raise StoreWriteError, and a missing store reads as empty.
    """

    is_memory = False

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        refuse_fake_filesystem()
        super().__init__()
        self._root = Root(path, create=create)
        self.path = self._root.path
        self._lock_path = os.path.join(self.path, LOCK_NAME)
        self._lock_identity = (-1, -1)  # (st_dev, st_ino) of the lock file the mutex keeps
        self._mutex = RegistryMutex(
            self._lock_path, self._open_lock, released=self._released, verify=self._verify_lock
        )
        self.mutex = self._mutex
        # While a thread holds the mutex, what it checked once (the root is still the
        # directory opened, a key folder still has a name) is not checked again.
        self._holding = threading.local()
        self._dirs: dict[tuple[str, ...], _fs.Dir] = {}
        self._opened: list[_fs.Dir] = []  # every descriptor, closed with the store
        self._lock = threading.Lock()
        self._closer = weakref.finalize(self, _close_all, self._opened)
        root = self._root.dir()
        if root is not None:
            self._opened.append(root)
        if create:  # its descriptor is kept: opened now, before the caller's own files
            self._mutex.prepare()

    def close(self) -> None:
        """Close the store's descriptors (also done when it is garbage-collected)."""
        self._mutex.close()
        self._closer()

    def describe(self) -> str:
        return self.path

    @property
    def exists(self) -> bool:
        """Whether a store is there (read-only opens may find none, or an empty directory)."""
        return self._root.marked()

    def _before_write(self, what: str) -> None:
        if not self._root.writable:
            raise StoreWriteError(f"store {self.path} is opened read-only")
        super()._before_write(what)

    def __repr__(self) -> str:
        return f"<DiskStore {self.path!r}{'' if self._root.writable else ' read-only'}>"

    # -- directories -----------------------------------------------------------------------

    def _dir(self, parts: tuple[str, ...], *, create: bool) -> _fs.Dir | None:
        """The folder of *parts* below the root (``None``: missing and not *create*)."""
        if create and not self._root.writable:
            raise StoreWriteError(f"store {self.path} is opened read-only")
        checked: set[tuple[str, ...]] | None = getattr(self._holding, "checked", None)
        root = self._root.dir(check=checked is None)
        if root is None or not parts:
            return root
        cached = self._dirs.get(parts)
        if cached is not None and checked is not None and parts in checked:
            return cached
        if cached is not None and cached.alive():
            if checked is not None:
                checked.add(parts)
            return cached
        with self._lock:
            directory, depth = root, 0
            for depth in range(len(parts) - 1, 0, -1):  # the deepest folder still in place
                ancestor = self._dirs.get(parts[:depth])
                if ancestor is not None and ancestor.alive():
                    directory = ancestor
                    break
            else:
                depth = 0
            for index in range(depth, len(parts)):
                child = directory.child(parts[index], create=create)
                if child is None:
                    return None
                self._opened.append(child)  # a replaced one stays open: a reader may use it
                self._dirs[parts[: index + 1]] = directory = child
            return directory

    def _open_lock(self) -> int:
        """The lock file, opened for the mutex to keep (never through a link; a FIFO planted
        there cannot block the open and locks as well as a file)."""
        directory = self._dir((), create=True)
        assert directory is not None
        fd = directory.open(LOCK_NAME, _LOCK_FLAGS)
        try:
            info = os.fstat(fd)
        except OSError:
            os.close(fd)
            raise
        self._lock_identity = (info.st_dev, info.st_ino)
        return fd

    def _verify_lock(self, fd: int) -> bool:
        """Just locked: whether the kept descriptor is still the lock file at the store's
        path (one ``stat``, which also finds a store moved or replaced: that raises)."""
        try:
            info = os.stat(self._lock_path, follow_symlinks=False)
            current = (info.st_dev, info.st_ino) == self._lock_identity
        except OSError:
            current = False
        if not current:
            self._root.dir()  # raises StoreError if the store is not the directory opened
            return False  # only the lock file was replaced: the mutex locks the new one
        self._holding.checked = set()
        return True

    def _released(self) -> None:
        self._holding.checked = None

    def _file(self, key_path: str, suffix: str, *, create: bool) -> tuple[_fs.Dir | None, str]:
        parts = split_key_path(key_path)
        return self._dir(parts[:-1], create=create), parts[-1] + suffix

    # -- keys ------------------------------------------------------------------------------

    def read_key(self, key_path: str) -> dict[str, RegValue] | None:
        directory, name = self._file(key_path, _KEY, create=False)
        if directory is None:
            return None
        try:
            blob = _fs.read_file(directory, name, KEY_CAP)
        except StoreReadError as exc:
            raise StoreReadError(exc.errno, f"{key_path}: {exc.strerror}") from exc
        if blob is None:
            return None
        try:
            return decode_values(blob)
        except CorruptKeyError as exc:
            raise StoreReadError(f"corrupt key {key_path}: {exc}") from exc

    def write_key(self, key_path: str, values: Mapping[str, RegValue]) -> None:
        self._before_write(key_path)
        blob = encode_values(values)
        directory, name = self._file(key_path, _KEY, create=True)
        assert directory is not None
        _fs.replace_file(directory, name, blob)

    def delete_key(self, key_path: str) -> bool:
        self._before_write(key_path)
        directory, name = self._file(key_path, _KEY, create=False)
        return directory is not None and _fs.remove_file(directory, name)

    def key_exists(self, key_path: str) -> bool:
        """Whether the key's file is there (never raises: an unusable store has no keys)."""
        try:
            directory, name = self._file(key_path, _KEY, create=False)
            return directory is not None and stat.S_ISREG(directory.lstat(name).st_mode)
        except OSError:
            return False

    def _names(self, key_path: str, suffix: str) -> list[str]:
        directory = self._dir(split_key_path(key_path), create=False)
        if directory is None:
            return []
        try:
            entries = directory.entries()
        except OSError as exc:
            raise StoreReadError(exc.errno, f"cannot list {key_path}: {exc.strerror}") from exc
        return sorted(
            entry.name[: -len(suffix)]
            for entry in entries
            if entry.name.endswith(suffix) and entry.is_file(follow_symlinks=False)
        )

    def subkeys(self, key_path: str) -> list[str]:
        return self._names(key_path, _KEY)

    # -- logs ------------------------------------------------------------------------------

    def append_record(self, key_path: str, record: bytes) -> None:
        self._before_write(key_path)
        directory, name = self._file(key_path, _LOG, create=True)
        assert directory is not None
        _fs.append_file(directory, name, frame_record(record), LOG_CAP)

    def read_records(self, key_path: str) -> list[bytes]:
        directory, name = self._file(key_path, _LOG, create=False)
        if directory is None:
            return []
        try:
            blob = _fs.read_file(directory, name, LOG_CAP)
        except StoreReadError as exc:
            raise StoreReadError(exc.errno, f"log {key_path}: {exc.strerror}") from exc
        return [] if blob is None else unframe_records(blob)

    def delete_log(self, key_path: str) -> bool:
        self._before_write(key_path)
        directory, name = self._file(key_path, _LOG, create=False)
        return directory is not None and _fs.remove_file(directory, name)

    def logs(self, key_path: str) -> list[str]:
        return self._names(key_path, _LOG)

    # -- maintenance -----------------------------------------------------------------------

    def scan(self) -> list[Problem]:
        root = self._root.dir()
        if root is None:
            return []
        problems = []
        for relative, directory, name, mode, size in _fs.walk(root):
            reason = self._judge(relative, directory, name, mode, size)
            if reason:
                problems.append(Problem(relative, reason))
        return problems

    @staticmethod
    def _judge(relative: str, directory: _fs.Dir, name: str, mode: int, size: int) -> str:
        """Why an entry is a problem ("" if it is one of the store's own)."""
        if stat.S_ISDIR(mode):
            return "directory where a file belongs" if name.endswith((_KEY, _LOG)) else ""
        if not stat.S_ISREG(mode):
            return _fs.kind_of(mode)
        if relative in _OWN_ROOT_FILES or _fs.parse_temp_name(name) is not None:
            return ""
        if name.endswith(_LOG):
            return "" if size <= LOG_CAP else f"{size} bytes, over the {LOG_CAP}-byte cap"
        if not name.endswith(_KEY):
            what = "malformed temp file name" if name.endswith(".tmp") else "not a store file"
            return f"foreign file ({what})"
        try:
            decode_values(_fs.read_file(directory, name, KEY_CAP) or b"")
        except StoreReadError as exc:
            return exc.strerror or str(exc)
        except CorruptKeyError as exc:
            return f"corrupt key file ({exc})"
        return ""

    def remove_stray_temp_files(self, writer_gone: Callable[[int], bool]) -> list[str]:
        root = self._dir((), create=True)
        assert root is not None
        removed = []
        for relative, directory, name, mode, _size in _fs.walk(root):
            parsed = _fs.parse_temp_name(name)
            if parsed is None or not stat.S_ISREG(mode) or not writer_gone(parsed[1]):
                continue
            try:
                if _fs.remove_file(directory, name):
                    removed.append(relative)
            except StoreError:
                continue  # gone or replaced meanwhile: the next reap sees it again
        return removed


RegistryStore = DiskStore  # the name callers used before the store had two implementations
