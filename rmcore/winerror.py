"""The Win32 error codes rmcore returns: winerror.h names, values and system messages.

This module is the one table of codes in rmcore: the codes Restart Manager returns and the
last errors of the simulated kernel32 and psapi calls around it. Values are winerror.h's, never a
documentation misprint: ERROR_BAD_ARGUMENTS is 160 (the RmJoinSession page prints 22, which
is ERROR_BAD_COMMAND) and ERROR_FILE_NOT_FOUND is 2 (the RmRemoveFilter page prints 1).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ERROR_ACCESS_DENIED",
    "ERROR_ALREADY_EXISTS",
    "ERROR_BAD_ARGUMENTS",
    "ERROR_BAD_COMMAND",
    "ERROR_CANCELLED",
    "ERROR_CANT_RESOLVE_FILENAME",
    "ERROR_DISK_FULL",
    "ERROR_FAIL_NOACTION_REBOOT",
    "ERROR_FAIL_RESTART",
    "ERROR_FAIL_SHUTDOWN",
    "ERROR_FILENAME_EXCED_RANGE",
    "ERROR_FILE_EXISTS",
    "ERROR_FILE_NOT_FOUND",
    "ERROR_GEN_FAILURE",
    "ERROR_INSUFFICIENT_BUFFER",
    "ERROR_INVALID_HANDLE",
    "ERROR_INVALID_NAME",
    "ERROR_INVALID_PARAMETER",
    "ERROR_MAX_SESSIONS_REACHED",
    "ERROR_MORE_DATA",
    "ERROR_MR_MID_NOT_FOUND",
    "ERROR_OUTOFMEMORY",
    "ERROR_PARTIAL_COPY",
    "ERROR_PATH_NOT_FOUND",
    "ERROR_REQUEST_OUT_OF_SEQUENCE",
    "ERROR_SEM_TIMEOUT",
    "ERROR_SESSION_CREDENTIAL_CONFLICT",
    "ERROR_SHARING_VIOLATION",
    "ERROR_SUCCESS",
    "ERROR_TOO_MANY_OPEN_FILES",
    "ERROR_WRITE_FAULT",
    "ERROR_WRITE_PROTECT",
    "RESTART_MANAGER_CODES",
    "describe",
    "message",
    "name",
]

ERROR_SUCCESS: Final = 0
ERROR_FILE_NOT_FOUND: Final = 2
ERROR_PATH_NOT_FOUND: Final = 3
ERROR_TOO_MANY_OPEN_FILES: Final = 4
ERROR_ACCESS_DENIED: Final = 5
ERROR_INVALID_HANDLE: Final = 6
ERROR_OUTOFMEMORY: Final = 14
ERROR_WRITE_PROTECT: Final = 19
ERROR_BAD_COMMAND: Final = 22
ERROR_WRITE_FAULT: Final = 29
ERROR_GEN_FAILURE: Final = 31
ERROR_SHARING_VIOLATION: Final = 32
ERROR_FILE_EXISTS: Final = 80
ERROR_INVALID_PARAMETER: Final = 87
ERROR_DISK_FULL: Final = 112
ERROR_SEM_TIMEOUT: Final = 121
ERROR_INSUFFICIENT_BUFFER: Final = 122
ERROR_INVALID_NAME: Final = 123
ERROR_BAD_ARGUMENTS: Final = 160
ERROR_ALREADY_EXISTS: Final = 183
ERROR_FILENAME_EXCED_RANGE: Final = 206
ERROR_MORE_DATA: Final = 234
ERROR_PARTIAL_COPY: Final = 299
ERROR_MR_MID_NOT_FOUND: Final = 317
ERROR_FAIL_NOACTION_REBOOT: Final = 350
ERROR_FAIL_SHUTDOWN: Final = 351
ERROR_FAIL_RESTART: Final = 352
ERROR_MAX_SESSIONS_REACHED: Final = 353
ERROR_REQUEST_OUT_OF_SEQUENCE: Final = 776
ERROR_SESSION_CREDENTIAL_CONFLICT: Final = 1219
ERROR_CANCELLED: Final = 1223
ERROR_CANT_RESOLVE_FILENAME: Final = 1921

# The codes Restart Manager's function pages document (the rest are kernel32's and psapi's).
RESTART_MANAGER_CODES: Final = frozenset(
    {
        ERROR_SUCCESS, ERROR_FILE_NOT_FOUND, ERROR_ACCESS_DENIED, ERROR_INVALID_HANDLE,
        ERROR_OUTOFMEMORY, ERROR_WRITE_FAULT, ERROR_SEM_TIMEOUT, ERROR_BAD_ARGUMENTS,
        ERROR_MORE_DATA, ERROR_FAIL_NOACTION_REBOOT, ERROR_FAIL_SHUTDOWN, ERROR_FAIL_RESTART,
        ERROR_MAX_SESSIONS_REACHED, ERROR_REQUEST_OUT_OF_SEQUENCE,
        ERROR_SESSION_CREDENTIAL_CONFLICT, ERROR_CANCELLED,
    }
)  # fmt: skip

# The one table: code -> message (the text Win32 FormatMessage gives for it).
MESSAGES: Final[dict[int, str]] = {
    ERROR_SUCCESS: "The operation completed successfully.",
    ERROR_FILE_NOT_FOUND: "The system cannot find the file specified.",
    ERROR_PATH_NOT_FOUND: "The system cannot find the path specified.",
    ERROR_TOO_MANY_OPEN_FILES: "The system cannot open the file.",
    ERROR_ACCESS_DENIED: "Access is denied.",
    ERROR_INVALID_HANDLE: "The handle is invalid.",
    ERROR_OUTOFMEMORY: "Not enough memory resources are available to complete this operation.",
    ERROR_WRITE_PROTECT: "The media is write protected.",
    ERROR_BAD_COMMAND: "The device does not recognize the command.",
    ERROR_WRITE_FAULT: "The system cannot write to the specified device.",
    ERROR_GEN_FAILURE: "A device attached to the system is not functioning.",
    ERROR_SHARING_VIOLATION: (
        "The process cannot access the file because it is being used by another process."
    ),
    ERROR_FILE_EXISTS: "The file exists.",
    ERROR_INVALID_PARAMETER: "The parameter is incorrect.",
    ERROR_DISK_FULL: "There is not enough space on the disk.",
    ERROR_SEM_TIMEOUT: "The semaphore timeout period has expired.",
    ERROR_INSUFFICIENT_BUFFER: "The data area passed to a system call is too small.",
    ERROR_INVALID_NAME: "The filename, directory name, or volume label syntax is incorrect.",
    ERROR_BAD_ARGUMENTS: "One or more arguments are not correct.",
    ERROR_ALREADY_EXISTS: "Cannot create a file when that file already exists.",
    ERROR_FILENAME_EXCED_RANGE: "The filename or extension is too long.",
    ERROR_MORE_DATA: "More data is available.",
    ERROR_PARTIAL_COPY: (
        "Only part of a ReadProcessMemory or WriteProcessMemory request was completed."
    ),
    ERROR_MR_MID_NOT_FOUND: (
        "The system cannot find message text for message number 0x%1 in the message file for %2."
    ),
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
    ERROR_CANT_RESOLVE_FILENAME: "The name of the file cannot be resolved by the system.",
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
