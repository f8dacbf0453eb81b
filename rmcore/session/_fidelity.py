"""Every behaviour where Windows is unknown, decided once: the values the code reads.

Each constant here is one row of :data:`rmcore.session._decisions.DECISIONS`, which says
what it decides, why, and what would reveal a difference from Windows.
"""

from __future__ import annotations

from typing import Final

from .. import winerror

__all__ = [
    "CANCEL_WITHOUT_TASK_RESULT",
    "DEFAULT_MUTEX_TIMEOUT",
    "FILTER_ACTION_MUST_BE_VALID",
    "FIRST_HANDLE",
    "GETLIST_COUNT_ON_MORE_DATA",
    "HIVE_HASH_ALGORITHM",
    "JOIN_ABANDONED_SESSION_RESULT",
    "JOIN_KEY_CASE_SENSITIVE",
    "KEY_IS_GUID_BYTES",
    "REENTRANT_TASK_RESULT",
    "REJECT_NONZERO_SESSION_FLAGS",
    "SAME_PROCESS_MAY_JOIN",
    "SECONDARY_CALLS_PRIMARY_ONLY_RESULT",
    "SEQUENCE_AT_START",
    "SERVICES_CAUSE_SESSION_MISMATCH",
    "SHUTDOWN_ONLY_REGISTERED_REFUSAL",
    "STALE_SECONDARY_HANDLE_RESULT",
    "UNKNOWN_APP_SHUTDOWN_RANK",
    "path_key",
    "same_path",
]

# The values the code reads; each is a row of DECISIONS (one row per name).
DEFAULT_MUTEX_TIMEOUT: Final = 2.0
FIRST_HANDLE: Final = 0
REJECT_NONZERO_SESSION_FLAGS: Final = True
KEY_IS_GUID_BYTES: Final = True
JOIN_KEY_CASE_SENSITIVE: Final = False
SAME_PROCESS_MAY_JOIN: Final = True
JOIN_ABANDONED_SESSION_RESULT: Final = winerror.ERROR_SESSION_CREDENTIAL_CONFLICT
STALE_SECONDARY_HANDLE_RESULT: Final = winerror.ERROR_INVALID_HANDLE
SHUTDOWN_ONLY_REGISTERED_REFUSAL: Final = winerror.ERROR_FAIL_SHUTDOWN
UNKNOWN_APP_SHUTDOWN_RANK: Final = 0
SECONDARY_CALLS_PRIMARY_ONLY_RESULT: Final = winerror.ERROR_SESSION_CREDENTIAL_CONFLICT
CANCEL_WITHOUT_TASK_RESULT: Final = winerror.ERROR_SUCCESS
GETLIST_COUNT_ON_MORE_DATA: Final = 0
SERVICES_CAUSE_SESSION_MISMATCH: Final = False
REENTRANT_TASK_RESULT: Final = winerror.ERROR_REQUEST_OUT_OF_SEQUENCE
FILTER_ACTION_MUST_BE_VALID: Final = True
SEQUENCE_AT_START: Final = 0
HIVE_HASH_ALGORITHM: Final = "sha256"


# Windows file names compare case-insensitively (NTFS default); module-path filters and
# registered paths match apps that way in every world.
def path_key(path: str) -> str:
    """What makes two paths the same file for Windows: case ignored (NTFS's default), the
    ``\\\\?\\`` prefix of long paths dropped, ``/`` read as ``\\``."""
    key = _path_keys.get(path)
    if key is None:
        key = path.replace("/", "\\")
        if key.startswith("\\\\?\\"):
            key = key[4:]
        key = key.casefold()
        if len(_path_keys) >= _PATH_KEYS:
            _path_keys.clear()
        _path_keys[path] = key
    return key


# RmGetList compares every registered path with every app's files on each call: the keys
# of the paths seen lately are remembered (bounded; cleared whole when full).
_PATH_KEYS = 1 << 16
_path_keys: dict[str, str] = {}


def same_path(left: str, right: str) -> bool:
    """Whether two full paths name the same file, as Windows compares them."""
    return path_key(left) == path_key(right)
