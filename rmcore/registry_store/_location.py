"""Where a store lives, and whether rmcore may use that directory.

The default root (``$XDG_RUNTIME_DIR/rmcore``, else ``<tmp>/rmcore-<uid>``) is rmcore's by
name: it is made 0700, and anything planted there first (a link, another user's
directory) is refused, never followed; a loose mode on our own is tightened. An explicit
path (an argument or ``$RMCORE_STORE``) is the caller's: used as given and never chmod'ed,
it must be absolute, and a directory rmcore did not make must be empty (then adopted) or
carry the marker file rmcore writes in every store it makes. Read-only use creates,
chmods and locks nothing: a missing store reads as empty.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile

from . import _fs
from ._errors import StoreError

__all__ = ["MARKER_NAME", "MEMORY", "STORE_ENV_VAR", "Root", "default_store_path"]

STORE_ENV_VAR = "RMCORE_STORE"
MARKER_NAME = ".rmcore-store"
_MARKER = b"rmcore store, format 1\n"
MEMORY = ":memory:"  # names a MemoryStore, never a directory


def _user_tag() -> str:
    getuid = getattr(os, "getuid", None)
    if getuid is not None:
        return str(getuid())
    import getpass

    return getpass.getuser()


def _explicit(path: str, what: str) -> str:
    """An explicit store path, which must be absolute (a relative one silently made a
    directory in whatever the cwd was)."""
    if path == MEMORY:
        raise ValueError(f"{what} {path!r} names a memory store: use open_store({path!r})")
    if not os.path.isabs(path):
        raise ValueError(f"{what} {path!r} is a relative path: give an absolute path or ':memory:'")
    return os.path.normpath(path)


def _default() -> tuple[str, bool]:
    """The store path when the caller names none, and whether it is explicit."""
    configured = os.environ.get(STORE_ENV_VAR)
    if configured:
        return _explicit(configured, f"${STORE_ENV_VAR}"), True
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir and os.path.isabs(runtime_dir) and os.path.isdir(runtime_dir):
        return os.path.join(runtime_dir, "rmcore"), False
    return os.path.join(tempfile.gettempdir(), f"rmcore-{_user_tag()}"), False


def default_store_path() -> str:
    """``$RMCORE_STORE``, else ``$XDG_RUNTIME_DIR/rmcore``, else ``<tmp>/rmcore-<uid>``.

    Like the real hive's volatile key, all three live for the login or until reboot, not
    longer, and none is shared between users.
    """
    return _default()[0]


class Root:
    """A store's root directory, opened once and checked before every use."""

    def __init__(self, store: str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        if store is None:
            self.path, explicit = _default()
        else:
            self.path, explicit = _explicit(os.fspath(store), "store"), True
        self.writable = create
        self._follow = explicit  # a link the caller named is the caller's choice
        self._dir: _fs.Dir | None = None
        self._identity = (0, 0)
        try:
            if explicit:
                self._open_explicit(create)
            else:
                self._open_default(create)
        except OSError as exc:
            if self._dir is not None:
                self._dir.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(exc.errno, f"cannot use store {self.path}: {exc.strerror}") from exc

    def _open_default(self, create: bool) -> None:
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.path, _fs.DIR_MODE)
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            if create:
                raise
            return  # read-only: a missing store is an empty one
        fix = "remove it or set " + STORE_ENV_VAR
        if not stat.S_ISDIR(info.st_mode):
            what = _fs.kind_of(info.st_mode)
            raise StoreError(errno.ENOTDIR, f"store {self.path} is a {what}, refused: {fix}")
        if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
            raise StoreError(
                errno.EPERM, f"store {self.path} belongs to uid {info.st_uid}, refused: {fix}"
            )
        self._dir = _fs.Dir.open_root(self.path, follow=False)
        opened = os.fstat(self._dir.fd) if self._dir.fd >= 0 else info
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            raise StoreError(errno.EAGAIN, f"store {self.path} changed while opened: {fix}")
        if create and stat.S_IMODE(opened.st_mode) & 0o077 and self._dir.fd >= 0:
            os.fchmod(self._dir.fd, _fs.DIR_MODE)  # ours (checked above): private again
        self._identity = (opened.st_dev, opened.st_ino)
        if create:
            self._ensure_marker()

    def _open_explicit(self, create: bool) -> None:
        made = False
        if create:
            try:
                os.mkdir(self.path, _fs.DIR_MODE)
                made = True
            except FileExistsError:
                pass
            except FileNotFoundError as exc:
                raise StoreError(
                    exc.errno, f"cannot create store {self.path}: its parent does not exist"
                ) from exc
        try:
            self._dir = _fs.Dir.open_root(self.path, follow=True)
        except FileNotFoundError:
            if create:
                raise
            return  # read-only: a missing store is an empty one
        except NotADirectoryError as exc:
            raise StoreError(exc.errno, f"store {self.path} is not a directory") from exc
        info = os.fstat(self._dir.fd) if self._dir.fd >= 0 else os.stat(self.path)
        self._identity = (info.st_dev, info.st_ino)
        if made or self._has_marker() or not self._dir.entries():
            if create:
                self._ensure_marker()
            return
        raise StoreError(
            errno.EEXIST,
            f"not an rmcore store: {self.path} (a directory with files and no "
            f"{MARKER_NAME} marker); give a new or empty directory",
        )

    def _marker(self) -> bytes | None:
        """The marker's bytes (``None``: no marker); a foreign or unreadable one raises."""
        assert self._dir is not None
        try:
            data = _fs.read_file(self._dir, MARKER_NAME, 4096)
        except StoreError as exc:
            raise StoreError(
                exc.errno, f"store {self.path}: its {MARKER_NAME} is a {exc.strerror}"
            ) from exc
        if data is not None and not _MARKER.startswith(data):  # a prefix: torn by a crash
            raise StoreError(
                errno.EPROTO, f"store {self.path} has an unknown {MARKER_NAME}: {data[:60]!r}"
            )
        return data

    def _has_marker(self) -> bool:
        return self._marker() is not None

    def _ensure_marker(self) -> None:
        """Write the marker in one write: a crash leaves it empty or partial, still ours."""
        assert self._dir is not None
        if self._marker() == _MARKER:
            return
        fd = self._dir.open(MARKER_NAME, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0))
        try:
            os.write(fd, _MARKER)
        finally:
            os.close(fd)

    def marked(self) -> bool:
        """Whether a store is there: the directory exists and carries the marker."""
        return self._dir is not None and self._has_marker()

    def dir(self, *, check: bool = True) -> _fs.Dir | None:
        """The root, after checking it is still the directory opened (``None``: a missing
        store opened read-only). A store moved or replaced meanwhile raises StoreError."""
        if self._dir is None or not check:
            return self._dir
        try:
            info = os.stat(self.path, follow_symlinks=self._follow)
        except OSError as exc:
            raise StoreError(exc.errno, f"store {self.path} is gone: {exc.strerror}") from exc
        if (info.st_dev, info.st_ino) != self._identity:
            raise StoreError(errno.ESTALE, f"store {self.path} was replaced by another entry")
        return self._dir

    def close(self) -> None:
        if self._dir is not None:
            self._dir.close()
