"""The Win32 error codes Restart Manager returns: winerror.h names, values and messages.

This module is the one table of codes in rmcore. Values are winerror.h's, never a
documentation misprint: ERROR_BAD_ARGUMENTS is 160 (the RmJoinSession page prints 22, which
is ERROR_BAD_COMMAND) and ERROR_FILE_NOT_FOUND is 2 (the RmRemoveFilter page prints 1).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ERROR_ACCESS_DENIED",
    "ERROR_BAD_ARGUMENTS",
    "ERROR_BAD_COMMAND",
    "ERROR_CANCELLED",
    "ERROR_FAIL_NOACTION_REBOOT",
    "ERROR_FAIL_RESTART",
    "ERROR_FAIL_SHUTDOWN",
    "ERROR_FILE_NOT_FOUND",
    "ERROR_INVALID_HANDLE",
    "ERROR_MAX_SESSIONS_REACHED",
    "ERROR_MORE_DATA",
    "ERROR_OUTOFMEMORY",
    "ERROR_REQUEST_OUT_OF_SEQUENCE",
    "ERROR_SEM_TIMEOUT",
    "ERROR_SESSION_CREDENTIAL_CONFLICT",
    "ERROR_SUCCESS",
    "ERROR_WRITE_FAULT",
    "describe",
    "message",
    "name",
]

ERROR_SUCCESS: Final = 0
ERROR_FILE_NOT_FOUND: Final = 2
ERROR_ACCESS_DENIED: Final = 5
ERROR_INVALID_HANDLE: Final = 6
ERROR_OUTOFMEMORY: Final = 14
ERROR_BAD_COMMAND: Final = 22
ERROR_WRITE_FAULT: Final = 29
ERROR_SEM_TIMEOUT: Final = 121
ERROR_BAD_ARGUMENTS: Final = 160
ERROR_MORE_DATA: Final = 234
ERROR_FAIL_NOACTION_REBOOT: Final = 350
ERROR_FAIL_SHUTDOWN: Final = 351
ERROR_FAIL_RESTART: Final = 352
ERROR_MAX_SESSIONS_REACHED: Final = 353
ERROR_REQUEST_OUT_OF_SEQUENCE: Final = 776
ERROR_SESSION_CREDENTIAL_CONFLICT: Final = 1219
ERROR_CANCELLED: Final = 1223

# The one table: code -> message (the Win32 FormatMessage text, as Restart Manager uses it).
MESSAGES: Final[dict[int, str]] = {
    ERROR_SUCCESS: "The operation completed successfully.",
    ERROR_FILE_NOT_FOUND: "The system cannot find the file specified.",
    ERROR_ACCESS_DENIED: "Access is denied.",
    ERROR_INVALID_HANDLE: "The handle is invalid.",
    ERROR_OUTOFMEMORY: "Not enough memory resources are available to complete this operation.",
    ERROR_BAD_COMMAND: "The device does not recognize the command.",
    ERROR_WRITE_FAULT: "The system cannot write to the specified device.",
    ERROR_SEM_TIMEOUT: "The semaphore timeout period has expired.",
    ERROR_BAD_ARGUMENTS: "One or more arguments are not correct.",
    ERROR_MORE_DATA: "More data is available.",
    ERROR_FAIL_NOACTION_REBOOT: "No action was taken as a system reboot is required.",
    ERROR_FAIL_SHUTDOWN: "The shutdown operation failed.",
    ERROR_FAIL_RESTART: "The restart operation failed.",
    ERROR_MAX_SESSIONS_REACHED: "The maximum number of sessions has been reached.",
    ERROR_REQUEST_OUT_OF_SEQUENCE: "The request is out of sequence.",
    ERROR_SESSION_CREDENTIAL_CONFLICT: (
        "Multiple connections to a server or shared resource by the same user, using more "
        "than one user name, are not allowed."
    ),
    ERROR_CANCELLED: "The operation was canceled by the user.",
}

NAMES: Final[dict[int, str]] = {
    value: key
    for key, value in dict(globals()).items()
    if key.startswith("ERROR_") and isinstance(value, int)
}


def name(code: int) -> str:
    """The winerror.h name of *code*, e.g. ``'ERROR_SEM_TIMEOUT'``; ``'ERROR_<n>'`` if unknown."""
    return NAMES.get(code, f"ERROR_{code}")


def message(code: int) -> str:
    """The system message text of *code*."""
    return MESSAGES.get(code, f"Unknown error {code}.")


def describe(code: int) -> str:
    """One readable line: ``'121 ERROR_SEM_TIMEOUT: The semaphore timeout period has expired.'``"""
    return f"{code} {name(code)}: {message(code)}"
