"""How the simulated kernel32 and psapi fail: the boundary between a failure and a result.

An export body raises :class:`Win32Failure`; the :func:`export` decorator turns it into what
the Windows function does on failure: ``SetLastError(code)`` and its failure value. Host
``OSError``\\ s map to the code Windows gives for the same situation. The codes and their
messages are :mod:`rmcore.winerror`'s.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import Any, Final

from .. import winerror
from ._libraries import native
from ._winctypes import set_system_error

__all__ = ["Win32Failure", "export", "from_os_error"]

_ERRNO: Final[dict[int, int]] = {
    errno.EACCES: winerror.ERROR_ACCESS_DENIED,
    errno.EPERM: winerror.ERROR_ACCESS_DENIED,
    errno.EISDIR: winerror.ERROR_ACCESS_DENIED,
    errno.EEXIST: winerror.ERROR_FILE_EXISTS,
    errno.ENOTDIR: winerror.ERROR_PATH_NOT_FOUND,
    errno.ENAMETOOLONG: winerror.ERROR_FILENAME_EXCED_RANGE,
    errno.EMFILE: winerror.ERROR_TOO_MANY_OPEN_FILES,
    errno.ENFILE: winerror.ERROR_TOO_MANY_OPEN_FILES,
    errno.ELOOP: winerror.ERROR_CANT_RESOLVE_FILENAME,
    errno.EINVAL: winerror.ERROR_INVALID_NAME,
    errno.EROFS: winerror.ERROR_WRITE_PROTECT,
    errno.ENOSPC: winerror.ERROR_DISK_FULL,
    errno.EBADF: winerror.ERROR_INVALID_HANDLE,
}


class Win32Failure(Exception):
    """An export fails with this Win32 code (its last error)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"{code}: {reason}" if reason else str(code))
        self.code = code


def from_os_error(exc: OSError, *, parent_exists: bool) -> Win32Failure:
    """The failure Windows reports where the host raised *exc* (a missing file is 2 when its
    directory exists, else 3, as on Windows)."""
    if exc.errno == errno.ENOENT:
        code = winerror.ERROR_FILE_NOT_FOUND if parent_exists else winerror.ERROR_PATH_NOT_FOUND
    else:
        code = _ERRNO.get(exc.errno or 0, winerror.ERROR_GEN_FAILURE)
    return Win32Failure(code, str(exc))


_Method = Callable[..., int]


def export(arity: int, failure: int) -> Callable[[_Method], _Method]:
    """A :func:`native` export whose :class:`Win32Failure` becomes ``SetLastError(code)``
    and *failure* (the function's documented failure value)."""

    def wrap(method: _Method) -> _Method:
        @functools.wraps(method)
        def call(self: Any, *arguments: object) -> int:
            try:
                return method(self, *arguments)
            except Win32Failure as exc:
                set_system_error(exc.code)
                return failure

        return native(arity)(call)

    return wrap
