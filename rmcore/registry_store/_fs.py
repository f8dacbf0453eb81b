"""The file system below a store root, never following a link and never reading unbounded.

Every name is one path component, opened relative to its directory's descriptor
(``dir_fd=``, ``O_NOFOLLOW``), so a symbolic link planted anywhere inside a store is
refused, not followed. Every read opens ``O_RDONLY|O_NOFOLLOW|O_NONBLOCK`` (a FIFO cannot
block it) and checks ``fstat`` first: only a regular file within the caller's size cap is
read. A replace writes ``<name>.<pid>.<tid>.tmp`` and renames it over the name (atomic
against a crash); an append is one ``write`` that is undone if it came out short.
Hosts without ``dir_fd`` (Windows, where making links needs a privilege) use full paths.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import threading
from collections.abc import Iterator

from ._errors import StoreReadError, StoreWriteError

__all__ = [
    "FILE_MODE",
    "Dir",
    "append_file",
    "kind_of",
    "parse_temp_name",
    "read_file",
    "remove_file",
    "replace_file",
    "walk",
]

DIR_MODE = 0o700
FILE_MODE = 0o600
_AT = os.open in os.supports_dir_fd and os.scandir in os.supports_fd
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_READ = os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _BINARY
_LINK_ERRNOS = {errno.ELOOP, errno.EMLINK}  # what O_NOFOLLOW gives for a link (Linux, BSD)
_TEMP = re.compile(r"(?P<target>.+)\.(?P<pid>[0-9]{1,10})\.(?P<tid>[0-9]{1,20})\.tmp")
_MAX_DEPTH = 32  # a walk goes no deeper (rmcore's own keys are 4 levels deep)
_pid = [os.getpid()]  # for temp file names; a forked child has its own


def _after_fork_in_child() -> None:
    _pid[0] = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def kind_of(mode: int) -> str:
    """What an entry is, in words, for a problem report."""
    for test, name in (
        (stat.S_ISREG, "regular file"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISLNK, "symbolic link (not followed)"),
        (stat.S_ISFIFO, "FIFO (not read)"),
        (stat.S_ISSOCK, "socket (not read)"),
        (stat.S_ISCHR, "character device (not read)"),
        (stat.S_ISBLK, "block device (not read)"),
    ):
        if test(mode):
            return name
    return "special file (not read)"


def parse_temp_name(name: str) -> tuple[str, int] | None:
    """``(target, writer pid)`` for a well-formed temp file name, else ``None``."""
    match = _TEMP.fullmatch(name)
    return None if match is None else (match["target"], int(match["pid"]))


class Dir:
    """One directory of a store: by descriptor where the host allows, else by path."""

    __slots__ = ("fd", "path")

    def __init__(self, fd: int, path: str) -> None:
        self.fd = fd  # -1 on hosts without dir_fd
        self.path = path

    @classmethod
    def open_root(cls, path: str, *, follow: bool) -> Dir:
        """The store root itself (a link there is followed only if *follow*)."""
        if not _AT:
            if not os.path.isdir(path):
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
            return cls(-1, path)
        flags = os.O_RDONLY | _DIRECTORY | (0 if follow else _NOFOLLOW)
        return cls(os.open(path, flags), path)

    def _at(self, name: str) -> tuple[str, int | None]:
        return (name, self.fd) if _AT else (os.path.join(self.path, name), None)

    # The four calls of every operation take the dir_fd branch inline (a hot path).

    def open(self, name: str, flags: int, mode: int = FILE_MODE) -> int:
        if _AT:
            return os.open(name, flags, mode, dir_fd=self.fd)
        return os.open(os.path.join(self.path, name), flags | _BINARY, mode)

    def lstat(self, name: str) -> os.stat_result:
        if _AT:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        return os.stat(os.path.join(self.path, name), follow_symlinks=False)

    def unlink(self, name: str) -> None:
        if _AT:
            os.unlink(name, dir_fd=self.fd)
        else:
            os.unlink(os.path.join(self.path, name))

    def replace(self, source: str, target: str) -> None:
        if _AT:
            os.replace(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        else:
            os.replace(os.path.join(self.path, source), os.path.join(self.path, target))

    def entries(self) -> list[os.DirEntry[str]]:
        if not _AT:
            with os.scandir(self.path) as by_path:
                return list(by_path)
        with os.scandir(self.fd) as by_fd:
            return list(by_fd)

    def child(self, name: str, *, create: bool) -> Dir | None:
        """The subdirectory *name* (made 0700 if missing and *create*), never through a
        link; ``None`` if it is missing. A non-directory there raises StoreError."""
        target, dir_fd = self._at(name)
        for _attempt in range(2):
            try:
                if not _AT:
                    if not os.path.lexists(target):
                        raise FileNotFoundError(errno.ENOENT, "no such directory", target)
                    if os.path.islink(target) or not os.path.isdir(target):
                        raise NotADirectoryError(errno.ENOTDIR, "not a directory", target)
                    return Dir(-1, target)
                fd = os.open(target, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=dir_fd)
                return Dir(fd, os.path.join(self.path, name))
            except FileNotFoundError:
                if not create:
                    return None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(target, DIR_MODE, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in _LINK_ERRNOS or isinstance(exc, NotADirectoryError):
                    raise StoreReadError(
                        exc.errno or errno.ENOTDIR,
                        f"{os.path.join(self.path, name)} is not a directory (a link or a "
                        "file where a key folder belongs); remove it",
                    ) from exc
                raise StoreReadError(exc.errno, f"cannot open {target}: {exc}") from exc
        raise StoreWriteError(errno.ENOENT, f"cannot create {os.path.join(self.path, name)}")

    def alive(self) -> bool:
        """Whether the directory still has a name (an unlinked one would swallow writes)."""
        return not _AT or os.fstat(self.fd).st_nlink > 0

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def _open_regular(directory: Dir, name: str, flags: int, cap: int) -> tuple[int, os.stat_result]:
    """``(fd, fstat)`` of a regular file within *cap* bytes; anything else raises, unread."""
    try:
        fd = directory.open(name, flags)
    except OSError as exc:
        if exc.errno in _LINK_ERRNOS:
            raise StoreReadError(exc.errno, "symbolic link (not followed)") from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StoreReadError(errno.EINVAL, kind_of(info.st_mode))
        if info.st_size > cap:
            raise StoreReadError(
                errno.EFBIG, f"{info.st_size} bytes, over the {cap}-byte cap (not read)"
            )
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def read_file(directory: Dir, name: str, cap: int, expected: bytes | None = None) -> bytes | None:
    """The whole file, or ``None`` if there is none; StoreReadError (with the reason) for
    anything that is not a regular file of at most *cap* bytes. If the file holds exactly
    *expected* (bytes the caller had from it before), that very object is returned."""
    try:
        fd, info = _open_regular(directory, name, _READ, cap)
    except FileNotFoundError:
        return None
    except StoreReadError:
        raise
    except OSError as exc:
        raise StoreReadError(exc.errno, f"unreadable: {exc.strerror or exc}") from exc
    try:
        chunks = []
        total, want = 0, info.st_size + 1  # one read covers a file that did not grow since fstat
        while True:
            want = min(want, cap + 1 - total)
            chunk = os.read(fd, want)
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise StoreReadError(errno.EFBIG, f"grew over the {cap}-byte cap while read")
            if len(chunk) < want:  # a short read of a regular file is its end
                break
            want = 1 << 16
    except StoreReadError:
        raise
    except OSError as exc:
        raise StoreReadError(exc.errno, f"unreadable: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return expected if data == expected else data


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)  # all of it, but for a signal or a full disk
    if written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]


def replace_file(directory: Dir, name: str, data: bytes) -> None:
    """Make *name* hold exactly *data*, atomically: a temp file renamed over it."""
    tmp = f"{name}.{_pid[0]}.{threading.get_ident()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
    try:
        try:
            fd = directory.open(tmp, flags)
        except FileExistsError:  # left by a dead process that had our PID and thread id
            directory.unlink(tmp)
            fd = directory.open(tmp, flags)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        directory.replace(tmp, name)
    except OSError as exc:
        with contextlib.suppress(OSError):
            directory.unlink(tmp)
        raise StoreWriteError(exc.errno, f"cannot write {name}: {exc.strerror or exc}") from exc


def append_file(directory: Dir, name: str, data: bytes, cap: int) -> None:
    """Append *data* in one write; a short write (disk full) is cut off again."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _NONBLOCK
    try:
        fd, info = _open_regular(directory, name, flags, cap)
    except OSError as exc:
        raise StoreWriteError(exc.errno, f"cannot append to {name}: {exc.strerror}") from exc
    size = info.st_size
    try:
        if size + len(data) > cap:
            raise StoreWriteError(errno.EFBIG, f"{name} would pass its {cap}-byte cap")
        written = os.write(fd, data)
        if written != len(data):
            os.ftruncate(fd, size)
            raise StoreWriteError(errno.ENOSPC, f"short write to {name}: undone")
    except StoreWriteError:
        raise
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise StoreWriteError(exc.errno, f"cannot append to {name}: {exc.strerror}") from exc
    finally:
        os.close(fd)


def remove_file(directory: Dir, name: str) -> bool:
    """Unlink a regular file; ``False`` if there is none. Anything else is left alone."""
    try:
        mode = directory.lstat(name).st_mode
        if stat.S_ISREG(mode):
            directory.unlink(name)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StoreWriteError(exc.errno, f"cannot delete {name}: {exc.strerror}") from exc
    if not stat.S_ISREG(mode):
        raise StoreWriteError(errno.EINVAL, f"{name} is a {kind_of(mode)}: left alone")
    return True


def walk(root: Dir) -> Iterator[tuple[str, Dir, str, int, int]]:
    """Every entry below *root*, depth first, without following links: ``(relative path,
    directory, name, st_mode, st_size)``. Directories are yielded, then entered (a
    directory that cannot be opened is yielded with mode 0)."""
    yield from _walk(root, "", 0)


def _walk(directory: Dir, prefix: str, depth: int) -> Iterator[tuple[str, Dir, str, int, int]]:
    try:
        entries = sorted(directory.entries(), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        relative = prefix + entry.name
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # gone meanwhile
        yield relative, directory, entry.name, info.st_mode, info.st_size
        if stat.S_ISDIR(info.st_mode) and depth < _MAX_DEPTH:
            try:
                child = directory.child(entry.name, create=False)
            except StoreReadError:
                continue
            if child is not None:
                try:
                    yield from _walk(child, relative + "/", depth + 1)
                finally:
                    child.close()
