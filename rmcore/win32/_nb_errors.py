"""How the simulated kernel32 and psapi fail: Win32 codes, their messages, and the boundary.

An export body raises :class:`Win32Failure`; the :func:`export` decorator turns it into what
the Windows function does on failure: ``SetLastError(code)`` and its failure value. The
codes Restart Manager itself returns live in :mod:`rmcore.winerror`; the ones only the
neighbourhood needs are here (to be merged there), with the system messages FormatMessageW
returns for them. Host ``OSError``\\ s map to the code Windows gives for the same situation.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import Any, Final

from .. import winerror
from ._libraries import native
from ._winctypes import set_system_error

__all__ = ["Win32Failure", "export", "from_os_error", "message"]

ERROR_PATH_NOT_FOUND: Final = 3
ERROR_TOO_MANY_OPEN_FILES: Final = 4
ERROR_WRITE_PROTECT: Final = 19
ERROR_GEN_FAILURE: Final = 31
ERROR_SHARING_VIOLATION: Final = 32
ERROR_FILE_EXISTS: Final = 80
ERROR_INVALID_PARAMETER: Final = 87
ERROR_DISK_FULL: Final = 112
ERROR_INSUFFICIENT_BUFFER: Final = 122
ERROR_INVALID_NAME: Final = 123
ERROR_ALREADY_EXISTS: Final = 183
ERROR_FILENAME_EXCED_RANGE: Final = 206
ERROR_PARTIAL_COPY: Final = 299
ERROR_MR_MID_NOT_FOUND: Final = 317
ERROR_CANT_RESOLVE_FILENAME: Final = 1921

_MESSAGES: Final[dict[int, str]] = {
    ERROR_PATH_NOT_FOUND: "The system cannot find the path specified.",
    ERROR_TOO_MANY_OPEN_FILES: "The system cannot open the file.",
    ERROR_WRITE_PROTECT: "The media is write protected.",
    ERROR_GEN_FAILURE: "A device attached to the system is not functioning.",
    ERROR_SHARING_VIOLATION: (
        "The process cannot access the file because it is being used by another process."
    ),
    ERROR_FILE_EXISTS: "The file exists.",
    ERROR_INVALID_PARAMETER: "The parameter is incorrect.",
    ERROR_DISK_FULL: "There is not enough space on the disk.",
    ERROR_INSUFFICIENT_BUFFER: "The data area passed to a system call is too small.",
    ERROR_INVALID_NAME: "The filename, directory name, or volume label syntax is incorrect.",
    ERROR_ALREADY_EXISTS: "Cannot create a file when that file already exists.",
    ERROR_FILENAME_EXCED_RANGE: "The filename or extension is too long.",
    ERROR_PARTIAL_COPY: (
        "Only part of a ReadProcessMemory or WriteProcessMemory request was completed."
    ),
    ERROR_MR_MID_NOT_FOUND: (
        "The system cannot find message text for message number 0x%1 in the message file for %2."
    ),
    ERROR_CANT_RESOLVE_FILENAME: "The name of the file cannot be resolved by the system.",
}

_ERRNO: Final[dict[int, int]] = {
    errno.EACCES: winerror.ERROR_ACCESS_DENIED,
    errno.EPERM: winerror.ERROR_ACCESS_DENIED,
    errno.EISDIR: winerror.ERROR_ACCESS_DENIED,
    errno.EEXIST: ERROR_FILE_EXISTS,
    errno.ENOTDIR: ERROR_PATH_NOT_FOUND,
    errno.ENAMETOOLONG: ERROR_FILENAME_EXCED_RANGE,
    errno.EMFILE: ERROR_TOO_MANY_OPEN_FILES,
    errno.ENFILE: ERROR_TOO_MANY_OPEN_FILES,
    errno.ELOOP: ERROR_CANT_RESOLVE_FILENAME,
    errno.EINVAL: ERROR_INVALID_NAME,
    errno.EROFS: ERROR_WRITE_PROTECT,
    errno.ENOSPC: ERROR_DISK_FULL,
    errno.EBADF: winerror.ERROR_INVALID_HANDLE,
}


class Win32Failure(Exception):
    """An export fails with this Win32 code (its last error)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"{code}: {reason}" if reason else str(code))
        self.code = code


def message(code: int) -> str | None:
    """The system message text for *code*, or ``None`` if rmcore has none."""
    return winerror.MESSAGES.get(code, _MESSAGES.get(code))


def from_os_error(exc: OSError, *, parent_exists: bool) -> Win32Failure:
    """The failure Windows reports where the host raised *exc* (a missing file is 2 when its
    directory exists, else 3, as on Windows)."""
    if exc.errno == errno.ENOENT:
        code = winerror.ERROR_FILE_NOT_FOUND if parent_exists else ERROR_PATH_NOT_FOUND
    else:
        code = _ERRNO.get(exc.errno or 0, ERROR_GEN_FAILURE)
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
