"""Exceptions of the Pythonic layer: one class per documented Restart Manager code.

Every exception carries ``.winerror`` (the DWORD code) and ``.function`` (the Rm* call that
returned it); names and messages come from :mod:`rmcore.winerror`, the one table of codes.
"""

from __future__ import annotations

from typing import ClassVar

from . import winerror

__all__ = [
    "AccessDeniedError",
    "BadArgumentsError",
    "CancelledError",
    "FailNoActionRebootError",
    "FailRestartError",
    "FailShutdownError",
    "FileNotFoundRmError",
    "InvalidHandleError",
    "MaxSessionsReachedError",
    "MoreDataError",
    "OutOfMemoryRmError",
    "RequestOutOfSequenceError",
    "RmError",
    "SemTimeoutError",
    "SessionCredentialConflictError",
    "WriteFaultError",
]


class RmError(Exception):
    """A Restart Manager call returned a non-zero code."""

    winerror: int = -1
    _by_code: ClassVar[dict[int, type[RmError]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        RmError._by_code[cls.winerror] = cls

    def __init__(self, winerror_code: int | None = None, function: str = "") -> None:
        if winerror_code is not None:
            self.winerror = winerror_code
        self.function = function
        where = f"{function} returned " if function else ""
        super().__init__(f"{where}{winerror.describe(self.winerror)}")

    @staticmethod
    def from_code(code: int, function: str = "") -> RmError:
        """The exception for *code*: its own class if documented, else :class:`RmError`."""
        cls = RmError._by_code.get(code)
        return cls(function=function) if cls is not None else RmError(code, function)


class FileNotFoundRmError(RmError):
    winerror = winerror.ERROR_FILE_NOT_FOUND


class AccessDeniedError(RmError):
    winerror = winerror.ERROR_ACCESS_DENIED


class InvalidHandleError(RmError):
    winerror = winerror.ERROR_INVALID_HANDLE


class OutOfMemoryRmError(RmError):
    winerror = winerror.ERROR_OUTOFMEMORY


class WriteFaultError(RmError):
    winerror = winerror.ERROR_WRITE_FAULT


class SemTimeoutError(RmError):
    winerror = winerror.ERROR_SEM_TIMEOUT


class BadArgumentsError(RmError):
    winerror = winerror.ERROR_BAD_ARGUMENTS


class MoreDataError(RmError):
    winerror = winerror.ERROR_MORE_DATA


class FailNoActionRebootError(RmError):
    winerror = winerror.ERROR_FAIL_NOACTION_REBOOT


class FailShutdownError(RmError):
    winerror = winerror.ERROR_FAIL_SHUTDOWN


class FailRestartError(RmError):
    winerror = winerror.ERROR_FAIL_RESTART


class MaxSessionsReachedError(RmError):
    winerror = winerror.ERROR_MAX_SESSIONS_REACHED


class RequestOutOfSequenceError(RmError):
    winerror = winerror.ERROR_REQUEST_OUT_OF_SEQUENCE


class SessionCredentialConflictError(RmError):
    winerror = winerror.ERROR_SESSION_CREDENTIAL_CONFLICT


class CancelledError(RmError):
    winerror = winerror.ERROR_CANCELLED
