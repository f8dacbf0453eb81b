"""A directory that emulates a registry hive: a tree of keys, each holding typed values.

Layout: key ``A\\B\\C`` is the file ``<root>/A/B/C.key`` (all its values), and its subkeys
live in the directory ``<root>/A/B/C/``. A key file is replaced whole with write-to-temp +
``os.replace``, so a reader sees the old value set or the new one, never a mix, and a process
killed mid-write leaves at most a stray temp file. Links (``REG_LINK`` keys) are symlinks
where the host allows them. No fsync: like the real volatile hive, the store must survive a
process crash, not a reboot, and rename is atomic against the former.

One operation touches only the files of the keys it names, so its cost does not depend on
how many other keys exist.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
import threading
from collections.abc import Callable, Iterator, Mapping

from ._errors import StoreError, StoreReadError, StoreWriteError
from ._guard import refuse_fake_filesystem
from ._location import resolve_store_path
from ._mutex import RegistryMutex
from ._values import CorruptKeyError, RegValue, decode_values, encode_values

__all__ = ["RegistryStore"]

_KEY_SUFFIX = ".key"
_TMP_SUFFIX = ".tmp"
_LOCK_NAME = "registry.lock"
_READ_CHUNK = 1 << 14  # a session key is ~200 bytes; one read covers nearly all
_LINK_VALUE = "SymbolicLinkValue"
_POSIX = hasattr(os, "getuid")
_DIR_MODE = 0o700
_FILE_MODE = 0o600


@functools.lru_cache(maxsize=4096)
def _split(key_path: str) -> tuple[str, ...]:
    """The validated names of a key path (``A\\B\\C`` -> ``("A", "B", "C")``)."""
    parts = tuple(part for part in key_path.split("\\") if part)
    for part in parts:
        if part in (".", "..") or "/" in part or "\0" in part or os.sep in part:
            raise ValueError(f"invalid registry key name {part!r} in {key_path!r}")
    if not parts:
        raise ValueError("empty registry key path")
    return parts


@functools.lru_cache(maxsize=4096)
def _relative_file(key_path: str) -> str:
    """The key's file, relative to the store root (plain string joins: this is a hot path)."""
    return os.sep.join(_split(key_path)) + _KEY_SUFFIX


class RegistryStore:
    """One on-disk hive, shared by every process that opens the same directory."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        refuse_fake_filesystem()
        self.path = resolve_store_path(path)
        self._ensure_root()
        self._root = self.path + os.sep
        self.mutex = RegistryMutex(self._root + _LOCK_NAME)
        self._made_dirs: set[str] = set()
        self._write_failures = 0

    def inject_write_failures(self, times: int) -> None:
        """Make the next *times* changes through this instance fail as a full disk would."""
        self._write_failures = times

    def _check_injected_failure(self, what: str) -> None:
        if self._write_failures > 0:
            self._write_failures -= 1
            raise StoreWriteError(errno.ENOSPC, f"injected write failure: {what}")

    def _ensure_root(self) -> None:
        try:
            os.makedirs(self.path, mode=_DIR_MODE, exist_ok=True)
            info = os.stat(self.path)
        except OSError as exc:
            raise StoreWriteError(exc.errno, f"cannot create store {self.path}: {exc}") from exc
        if _POSIX and info.st_uid != os.getuid():
            raise StoreError(f"store {self.path} belongs to another user; refusing to use it")
        if _POSIX and stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(self.path, _DIR_MODE)

    # -- paths ----------------------------------------------------------------------------

    def _key_file(self, key_path: str) -> str:
        return self._root + _relative_file(key_path)

    def _subkey_dir(self, key_path: str) -> str:
        return self._root + os.sep.join(_split(key_path))

    def _parent_dir(self, key_path: str) -> str:
        """The directory a key's file goes in, created 0700 one level at a time if missing
        (``os.makedirs`` would give intermediate levels the umask's default mode)."""
        parent = self.path
        for part in _split(key_path)[:-1]:
            parent = parent + os.sep + part
            if parent in self._made_dirs:
                continue
            try:
                os.mkdir(parent, _DIR_MODE)
            except FileExistsError:
                pass
            except OSError as exc:
                raise StoreWriteError(exc.errno, f"cannot create {parent}: {exc}") from exc
            self._made_dirs.add(parent)
        return parent

    # -- reading --------------------------------------------------------------------------

    def read_key(self, key_path: str) -> dict[str, RegValue] | None:
        """All values of a key, or ``None`` if the key does not exist."""
        try:
            fd = os.open(self._key_file(key_path), os.O_RDONLY)
            try:
                chunks = [os.read(fd, _READ_CHUNK)]
                while len(chunks[-1]) == _READ_CHUNK:  # rare: 2,000 paths are ~100 KiB
                    chunks.append(os.read(fd, _READ_CHUNK))
            finally:
                os.close(fd)
            blob = b"".join(chunks)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreReadError(exc.errno, f"cannot read {key_path}: {exc}") from exc
        try:
            return decode_values(blob)
        except CorruptKeyError as exc:
            raise StoreReadError(f"corrupt key {key_path}: {exc}") from exc

    def key_exists(self, key_path: str) -> bool:
        return os.path.lexists(self._key_file(key_path))

    def subkeys(self, key_path: str) -> list[str]:
        """Names of the existing subkeys of a key, sorted."""
        try:
            names = os.listdir(self._subkey_dir(key_path))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreReadError(exc.errno, f"cannot list {key_path}: {exc}") from exc
        return sorted(name[: -len(_KEY_SUFFIX)] for name in names if name.endswith(_KEY_SUFFIX))

    def read_link(self, key_path: str) -> str | None:
        """The target key path of a link key, or ``None`` if there is no such link."""
        try:
            return os.readlink(self._key_file(key_path))
        except FileNotFoundError:
            return None
        except OSError:  # not a symlink: the portable REG_LINK form
            values = self.read_key(key_path)
            link = None if values is None else values.get(_LINK_VALUE)
            return None if link is None else link.as_str()

    # -- writing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _replacing(self, target: str) -> Iterator[str]:
        """Yield a temp path beside *target*; on success it atomically becomes *target*."""
        tmp = f"{target}.{os.getpid()}.{threading.get_ident()}{_TMP_SUFFIX}"
        try:
            yield tmp
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise StoreWriteError(exc.errno, f"cannot write {target}: {exc}") from exc

    def write_key(self, key_path: str, values: Mapping[str, RegValue]) -> None:
        """Create or replace a key with exactly *values*, atomically."""
        self._check_injected_failure(key_path)
        blob = encode_values(values)
        self._parent_dir(key_path)
        target = self._key_file(key_path)
        with self._replacing(target) as tmp:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
            try:
                os.write(fd, blob)
            finally:
                os.close(fd)

    def write_link(self, key_path: str, target_key_path: str) -> None:
        """Create or replace a link key pointing at *target_key_path*, atomically.

        POSIX: a symlink (a new one is a single atomic call). Windows, where symlinks need a
        privilege: a key file holding the target in a REG_LINK-style value.
        """
        if not _POSIX:
            self.write_key(key_path, {_LINK_VALUE: RegValue.sz(target_key_path)})
            return
        self._check_injected_failure(key_path)
        self._parent_dir(key_path)
        target = self._key_file(key_path)
        try:
            os.symlink(target_key_path, target)
            return
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreWriteError(exc.errno, f"cannot write link {key_path}: {exc}") from exc
        with self._replacing(target) as tmp:
            os.symlink(target_key_path, tmp)

    def delete_key(self, key_path: str) -> bool:
        """Remove a key's values (its subkeys are left alone); ``False`` if it did not exist."""
        self._check_injected_failure(key_path)
        try:
            os.unlink(self._key_file(key_path))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreWriteError(exc.errno, f"cannot delete {key_path}: {exc}") from exc
        return True

    def remove_stray_temp_files(self, key_path: str, writer_gone: Callable[[int], bool]) -> int:
        """Delete temp files below *key_path* whose writer (by PID) died mid-write."""
        folder = self._subkey_dir(key_path)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return 0
        removed = 0
        for name in names:
            if name.endswith(_TMP_SUFFIX) and writer_gone(int(name.split(".")[-3])):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(folder, name))
                    removed += 1
        return removed
