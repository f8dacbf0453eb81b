"""Every behaviour where Windows is unknown, decided once (see docs/fidelity.md for reasons).

Each constant names one open question of the spec (§7) or one emulation choice; the code
reads these names instead of repeating the decision. Three decisions are the shape of an
algorithm rather than a value, and live in the one function that implements them:
handles are never reused in a process (``Simulator._reserve_handle``), only started
sessions count toward the limit and abandoned ones are reclaimed when it is reached
(``SessionTable.start``). Documented facts live where they are used.
"""

from __future__ import annotations

from typing import Final

from .. import winerror

__all__ = [
    "ARGUMENTS_CHECKED_BEFORE_HANDLE",
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
    "same_path",
]

# §7.11 - the registry write mutex's timeout is unknown. Long enough that real contention
# never trips it, short enough that a wedged holder surfaces as 121 within a test run.
DEFAULT_MUTEX_TIMEOUT: Final = 2.0

# §7.1 - handle values. Small integers from 0 per process (the event log's "session 0",
# Microsoft's 0xFFFFFFFF sentinel); 0xFFFFFFFF is never issued.
FIRST_HANDLE: Final = 0

# §7.5 - non-zero dwSessionFlags: the only test found asserts 160.
REJECT_NONZERO_SESSION_FLAGS: Final = True

# §7.3 - key generator: 16 CSPRNG bytes in a random (v4) GUID's memory order, printed as
# 32 lower-case hex digits, as the one observed MSI log key suggests.
KEY_IS_GUID_BYTES: Final = True

# §7.4 - RmJoinSession compares the 16 bytes the key encodes, so case does not matter;
# wrong length or non-hex text cannot name a session and is 1219 like an unknown key.
JOIN_KEY_CASE_SENSITIVE: Final = False

# §7.2 - a process may join a session it started (as a secondary, with a new handle).
SAME_PROCESS_MAY_JOIN: Final = True

# §3.3 - a session whose owner is gone can no longer be validated: joining it is 1219.
JOIN_ABANDONED_SESSION_RESULT: Final = winerror.ERROR_SESSION_CREDENTIAL_CONFLICT

# §7.7 - a secondary's handle after the primary's RmEndSession names no session: 6.
STALE_SECONDARY_HANDLE_RESULT: Final = winerror.ERROR_INVALID_HANDLE


# §1.6 - RmShutdownOnlyRegistered when some affected app is not registered for restart:
# "nothing is shut down", with no code documented. rmcore returns ERROR_FAIL_SHUTDOWN.
SHUTDOWN_ONLY_REGISTERED_REFUSAL: Final = winerror.ERROR_FAIL_SHUTDOWN

# §1.6 - the documented order names GUI apps, console apps, services, Explorer; an
# RmUnknownApp (no window known) is placed with the GUI apps, first.
UNKNOWN_APP_SHUTDOWN_RANK: Final = 0

# §7.7 - what a secondary gets from RmGetList (observed: 1219), RmShutdown, RmRestart and
# RmCancelCurrentTask (undocumented): 1219, as the filter functions document.
SECONDARY_CALLS_PRIMARY_ONLY_RESULT: Final = winerror.ERROR_SESSION_CREDENTIAL_CONFLICT

# §7.10 - RmCancelCurrentTask with no task running returns 0 and cancels nothing later.
CANCEL_WITHOUT_TASK_RESULT: Final = winerror.ERROR_SUCCESS

# §7.8 - on ERROR_MORE_DATA RmGetList sets *pnProcInfo to 0 (as the wine4office fork does);
# a NULL pnProcInfoNeeded, pnProcInfo or lpdwRebootReasons is 160.
GETLIST_COUNT_ON_MORE_DATA: Final = 0

# §1.5 - reboot reasons: a service is not a "session mismatch" (RM stops services through
# the service manager whatever their session); any reason at all makes RmShutdown 350.
SERVICES_CAUSE_SESSION_MISMATCH: Final = False

# §1.4 - RmRegisterResources checks its arguments (160) before the handle (6), as both
# third-party implementations do; a NULL or empty name in an array is 160.
ARGUMENTS_CHECKED_BEFORE_HANDLE: Final = True

# §3.5 - a status callback that calls RmShutdown/RmRestart on its own session, whose task
# is running on the same thread, cannot wait for that task: ERROR_REQUEST_OUT_OF_SEQUENCE.
# (RmGetList and RmCancelCurrentTask from a callback work.)
REENTRANT_TASK_RESULT: Final = winerror.ERROR_REQUEST_OUT_OF_SEQUENCE

# §1.9 - RmAddFilter needs exactly one target and an action of RmNoRestart or RmNoShutdown
# (RmInvalidFilterAction is 160); an empty path or service name counts as no target.
FILTER_ACTION_MUST_BE_VALID: Final = True

# §3.3 - a session key's Sequence (REG_DWORD): 0 after RmStartSession, +1 per
# RmRegisterResources call that registered something. The one observed key shows 1 after
# one such call, which "1 at creation" would fit too. Joins and leaves do not change the RM
# key (Windows keeps no secondaries there).
SEQUENCE_AT_START: Final = 0

# §3.3 - RegFilesHash / RegProcsHash / RegSvcsHash and SessionHash: "integrity checksums",
# algorithm and input unknown (observed: REG_BINARY, longer than 16 bytes). rmcore's
# placeholder: this digest of the key's 16 bytes (SessionHash, which also validates
# RmJoinSession's key) and of the concatenated REG_MULTI_SZ data of that kind's values.
HIVE_HASH_ALGORITHM: Final = "sha256"


# Windows file names compare case-insensitively (NTFS default); module-path filters and
# registered paths match apps that way in every world.
def same_path(left: str, right: str) -> bool:
    """Whether two full paths name the same file, as Windows compares them."""
    return left.casefold() == right.casefold()
