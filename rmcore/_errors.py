"""rmcore's one error channel: an exception class per documented Restart Manager code.

Inside rmcore every failure is an :class:`RmError` carrying ``.winerror`` (the DWORD code),
``.function`` (the Rm* call) and ``.reason`` (which rule, which argument, which cause); the
Win32-shaped entry points turn it into the bare code at their boundary, the Pythonic layer
raises it. Names and messages come from :mod:`rmcore.winerror`, the one table of codes.
:class:`RmUsageWarning` is the one diagnostic for calls Windows accepts but that are
probably mistakes.
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
    "RmUsageWarning",
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

    def __init__(
        self, winerror_code: int | None = None, function: str = "", reason: str = ""
    ) -> None:
        if winerror_code is not None:
            self.winerror = winerror_code
        self.function = function
        self.reason = reason
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.function} returned " if self.function else ""
        why = f" ({self.reason})" if self.reason else ""
        return f"{where}{winerror.describe(self.winerror)}{why}"

    def __str__(self) -> str:
        return self._text()  # function and reason may be filled in after construction

    @staticmethod
    def from_code(code: int, function: str = "", reason: str = "") -> RmError:
        """The exception for *code*: its own class if documented, else :class:`RmError`."""
        cls = RmError._by_code.get(code)
        if cls is None:
            return RmError(code, function, reason)
        return cls(function=function, reason=reason)


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


class RmUsageWarning(UserWarning):
    """A call Windows accepts but that is probably a mistake (a buffer the DLL overruns, a
    struct whose layout differs from Windows', an argument passed by value instead of by
    reference...). The call returns what Windows returns; ``strict=True`` raises this
    instead, before the call changes anything it can avoid changing."""
