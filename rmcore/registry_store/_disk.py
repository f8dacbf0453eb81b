"""A directory that emulates a registry hive, shared by every process that opens it.

Layout: key ``A\\B\\C`` is the file ``<root>/A/B/C.key`` (all its values, replaced whole
by write-to-temp + rename, so a reader sees the old value set or the new one and a process
killed mid-write leaves at most a stray temp file); its log is ``<root>/A/B/C.log``
(records appended one write each); ``<root>/registry.lock`` is the mutex's lock file and
``<root>/.rmcore-store`` marks the directory as a store. No fsync: like the real volatile
hive, the store must survive a process crash, not a reboot.

Every path below the root goes through :mod:`._fs` (no link followed, every read bounded:
keys at most :data:`KEY_CAP`, logs :data:`LOG_CAP` bytes). Directory descriptors are kept
per key folder, so one operation touches only the files it names; a folder is looked at
again only when an entry is not found in it (was the folder itself removed?).

What a store last read or wrote is remembered by content, never by file identity: a key
file that still holds the very bytes remembered is not decoded again, a write encodes
only the values that changed, and a log (only ever appended to) that still begins with
the bytes read before is parsed from there on. A file is never held open between calls.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from types import MappingProxyType

from . import _fs
from ._base import Problem, Store, split_key_path
from ._errors import StoreError, StoreReadError, StoreWriteError
from ._guard import refuse_fake_filesystem
from ._location import MARKER_NAME, Root
from ._mutex import RegistryMutex
from ._values import (
    CorruptKeyError,
    Entries,
    RegValue,
    decode_entries,
    decode_values,
    encode_entries,
    frame_record,
    unframe,
)

__all__ = ["KEY_CAP", "LOCK_NAME", "LOG_CAP", "DiskStore", "RegistryStore"]

KEY_CAP = 1 << 20  # a key file larger than 1 MiB is not read (a full session is ~5 KiB)
LOG_CAP = 64 << 20  # a log larger than 64 MiB is not read nor appended to
LOCK_NAME = "registry.lock"
_KEY, _LOG = ".key", ".log"
_OWN_ROOT_FILES = frozenset({LOCK_NAME, MARKER_NAME})
_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_KNOWN_KEYS = 8  # key files remembered (bytes and values) per store: the table, a few more
_KNOWN_LOGS = 4  # logs remembered (bytes and records) per store, each of at most:
_KNOWN_LOG_BYTES = 8 << 20

Values = Mapping[str, RegValue]
Slot = tuple[tuple[str, ...], str]  # a key file: its folder's parts, its file name


class _Known:
    """A key file as this store last read or wrote it: its bytes, its entries (each value
    with its encoded bytes, for the next write) and its values (a read-only view)."""

    __slots__ = ("blob", "entries", "values")

    def __init__(self, blob: bytes, entries: Entries) -> None:
        self.blob = blob
        self.entries = entries
        self.values: Values = MappingProxyType({name: e[0] for name, e in entries.items()})


def _close_all(dirs: list[_fs.Dir]) -> None:
    for directory in dirs:
        directory.close()


@functools.lru_cache(maxsize=1024)
def _relative(parts: tuple[str, ...], suffix: str) -> str:
    return "/".join(parts) + suffix


@functools.lru_cache(maxsize=1024)
def _slot(key_path: str, suffix: str) -> Slot:
    """The folder parts and file name of a key path's file (validated)."""
    parts = split_key_path(key_path)
    return parts[:-1], parts[-1] + suffix


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
        # While a thread holds the mutex (``checked`` is set), the root is not checked
        # again: the mutex checked it as it locked.
        self._holding = threading.local()
        self._dirs: dict[tuple[str, ...], _fs.Dir] = {}
        self._opened: list[_fs.Dir] = []  # every descriptor, closed with the store
        # Key files as last read or written, least recently used first (see read_key).
        self._known: OrderedDict[Slot, _Known] = OrderedDict()
        # Logs as last read: their records' bytes and the records (see read_records).
        self._known_logs: OrderedDict[Slot, tuple[bytes, list[bytes]]] = OrderedDict()
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
        if self._write_failures:
            super()._before_write(what)

    def __repr__(self) -> str:
        return f"<DiskStore {self.path!r}{'' if self._root.writable else ' read-only'}>"

    # -- directories -----------------------------------------------------------------------

    def _dir(self, parts: tuple[str, ...], *, create: bool) -> _fs.Dir | None:
        """The folder of *parts* below the root (``None``: missing and not *create*).

        A folder once opened is trusted: an operation that finds no entry in it asks
        :meth:`_gone` whether the folder itself was removed, and then tries again.
        """
        if create and not self._root.writable:
            raise StoreWriteError(f"store {self.path} is opened read-only")
        root = self._root.dir(check=getattr(self._holding, "checked", None) is None)
        if root is None or not parts:
            return root
        cached = self._dirs.get(parts)
        if cached is not None:
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

    def _gone(self, parts: tuple[str, ...]) -> bool:
        """After an entry was not found in folder *parts*: whether the folder itself was
        removed (it is then forgotten, and the caller tries once more)."""
        cached = self._dirs.get(parts)
        if cached is None or cached.alive():
            return False
        with self._lock:
            for known in [known for known in self._dirs if known[: len(parts)] == parts]:
                del self._dirs[known]
        return True

    def _absent(self, parts: tuple[str, ...], suffix: str) -> bool:
        """Whether a look from the root finds nothing at the key's path: one ``stat`` that
        never acts on what it finds (an entry there is then looked at the careful way)."""
        root = self._root.dir(check=False)
        if root is None:
            return True
        if root.fd < 0:
            return False
        try:
            os.stat(_relative(parts, suffix), dir_fd=root.fd, follow_symlinks=False)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return False

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
        self._holding.checked = True
        return True

    def _released(self) -> None:
        self._holding.checked = None

    # -- keys ------------------------------------------------------------------------------

    def read_key(self, key_path: str) -> Values | None:
        """The key's values (a read-only view). A key file whose bytes are the ones this
        store last read or wrote there is not decoded again."""
        slot = _slot(key_path, _KEY)
        for _attempt in range(2):
            directory = self._dir(slot[0], create=False)
            if directory is None:
                self._forget(slot)
                return None
            try:
                return self._read_key(directory, slot)
            except FileNotFoundError:
                self._forget(slot)
                if not self._gone(slot[0]):
                    return None
            except StoreReadError as exc:
                raise StoreReadError(exc.errno, f"{key_path}: {exc.strerror}") from exc
            except CorruptKeyError as exc:
                raise StoreReadError(f"corrupt key {key_path}: {exc}") from exc
        return None

    def _read_key(self, directory: _fs.Dir, slot: Slot) -> Values:
        """The values of a key file that exists (FileNotFoundError if none does)."""
        known = self._known.get(slot)
        blob = _fs.read_file(directory, slot[1], KEY_CAP, None if known is None else known.blob)
        if blob is None:
            raise FileNotFoundError(slot[1])
        if known is not None and blob is known.blob:
            return known.values
        return self._remember(slot, blob, decode_entries(blob))

    def _remember(self, slot: Slot, blob: bytes, entries: Entries) -> Values:
        """Remember *blob* as the key file's current bytes (see read_key); its values."""
        known = _Known(blob, entries)
        with self._lock:
            self._known.pop(slot, None)
            self._known[slot] = known
            if len(self._known) > _KNOWN_KEYS:
                self._known.popitem(last=False)
        return known.values

    def _forget(self, slot: Slot) -> None:
        if self._known:
            with self._lock:
                self._known.pop(slot, None)

    def write_key(self, key_path: str, values: Mapping[str, RegValue]) -> None:
        self._before_write(key_path)
        slot = _slot(key_path, _KEY)
        known = self._known.get(slot)
        blob, entries = encode_entries(values, None if known is None else known.entries)
        for attempt in range(2):
            directory = self._dir(slot[0], create=True)
            assert directory is not None
            try:
                _fs.replace_file(directory, slot[1], blob)
            except StoreWriteError as exc:
                self._forget(slot)
                if attempt or exc.errno != errno.ENOENT or not self._gone(slot[0]):
                    raise
                continue
            self._remember(slot, blob, entries)
            return

    def delete_key(self, key_path: str) -> bool:
        self._before_write(key_path)
        self._forget(_slot(key_path, _KEY))
        return self._remove(split_key_path(key_path), _KEY)

    def _remove(self, parts: tuple[str, ...], suffix: str) -> bool:
        if self._absent(parts, suffix):
            return False
        folder, name = parts[:-1], parts[-1] + suffix
        for _attempt in range(2):
            directory = self._dir(folder, create=False)
            if directory is None:
                return False
            if _fs.remove_file(directory, name):
                return True
            if not self._gone(folder):
                return False
        return False

    def key_exists(self, key_path: str) -> bool:
        """Whether the key's file is there (never raises: an unusable store has no keys)."""
        try:
            parts = split_key_path(key_path)
            if self._absent(parts, _KEY):
                return False
            for _attempt in range(2):
                directory = self._dir(parts[:-1], create=False)
                if directory is None:
                    return False
                try:
                    return stat.S_ISREG(directory.lstat(parts[-1] + _KEY).st_mode)
                except FileNotFoundError:
                    if not self._gone(parts[:-1]):
                        return False
        except OSError:
            pass
        return False

    def _names(self, key_path: str, suffix: str) -> list[str]:
        parts = split_key_path(key_path)
        directory = self._dir(parts, create=False)
        if directory is not None and not directory.alive():
            self._gone(parts)
            directory = self._dir(parts, create=False)
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
        parts = split_key_path(key_path)
        folder, name = parts[:-1], parts[-1] + _LOG
        framed = frame_record(record)
        for attempt in range(2):
            directory = self._dir(folder, create=True)
            assert directory is not None
            try:
                _fs.append_file(directory, name, framed, LOG_CAP)
                return
            except StoreWriteError as exc:
                if attempt or exc.errno != errno.ENOENT or not self._gone(folder):
                    raise

    def read_records(self, key_path: str) -> list[bytes]:
        """The log's records. A log is only appended to: records read before are taken as
        they were (the same objects) if the file still starts with their bytes, and only
        what follows them is parsed."""
        slot = _slot(key_path, _LOG)
        for _attempt in range(2):
            directory = self._dir(slot[0], create=False)
            if directory is None:
                return []
            known = self._known_logs.get(slot)
            try:
                blob = _fs.read_file(directory, slot[1], LOG_CAP)
            except StoreReadError as exc:
                raise StoreReadError(exc.errno, f"log {key_path}: {exc.strerror}") from exc
            if blob is not None:
                return self._records(slot, blob, known)
            if not self._gone(slot[0]):
                return []
        return []

    def _records(
        self, slot: Slot, blob: bytes, known: tuple[bytes, list[bytes]] | None
    ) -> list[bytes]:
        if known is not None and blob.startswith(known[0]):
            new, end = unframe(blob, len(known[0]))
            records = known[1] + new if new else known[1]
        else:
            records, end = unframe(blob)
        with self._lock:
            self._known_logs.pop(slot, None)
            if end <= _KNOWN_LOG_BYTES:
                self._known_logs[slot] = (blob[:end] if end < len(blob) else blob, records)
                if len(self._known_logs) > _KNOWN_LOGS:
                    self._known_logs.popitem(last=False)
        return list(records)  # the caller's own list; the records are shared

    def delete_log(self, key_path: str) -> bool:
        self._before_write(key_path)
        return self._remove(split_key_path(key_path), _LOG)

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
