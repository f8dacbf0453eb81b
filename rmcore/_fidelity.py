"""Every behaviour where Windows is unknown, decided once (see docs/fidelity.md for reasons).

Each constant names one open question of the spec (§7) or one emulation choice; the code
reads these names instead of repeating the decision. Documented facts live where they are
used and are not listed here.
"""

from __future__ import annotations

from typing import Final

from . import winerror

__all__ = [
    "ABANDONED_RECLAIM_AT_LIMIT_ONLY",
    "DEFAULT_MUTEX_TIMEOUT",
    "FIRST_HANDLE",
    "HANDLES_ARE_REUSED",
    "JOINED_HANDLES_COUNT_TOWARD_LIMIT",
    "JOIN_ABANDONED_SESSION_RESULT",
    "JOIN_KEY_CASE_SENSITIVE",
    "KEY_IS_GUID_BYTES",
    "REJECT_NONZERO_SESSION_FLAGS",
    "SAME_PROCESS_MAY_JOIN",
    "STALE_SECONDARY_HANDLE_RESULT",
]

# §7.11 - the registry write mutex's timeout is unknown. Long enough that real contention
# never trips it, short enough that a wedged holder surfaces as 121 within a test run.
DEFAULT_MUTEX_TIMEOUT: Final = 2.0

# §7.1 - handle values. Small integers from 0 per process (the event log's "session 0",
# Microsoft's 0xFFFFFFFF sentinel); 0xFFFFFFFF is never issued.
FIRST_HANDLE: Final = 0

# §7.1 - a handle value is never handed out twice in one process, so a stale handle is
# always ERROR_INVALID_HANDLE rather than silently naming a newer session.
HANDLES_ARE_REUSED: Final = False

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

# §7.6 - only started sessions count toward the 64-session limit; RmJoinSession never
# returns 353 on its own (fault injection can make it).
JOINED_HANDLES_COUNT_TOWARD_LIMIT: Final = False

# §3.3 - a session whose owner is gone can no longer be validated: joining it is 1219.
JOIN_ABANDONED_SESSION_RESULT: Final = winerror.ERROR_SESSION_CREDENTIAL_CONFLICT

# §7.7 - a secondary's handle after the primary's RmEndSession names no session: 6.
STALE_SECONDARY_HANDLE_RESULT: Final = winerror.ERROR_INVALID_HANDLE

# §3.3 - Windows reuses "the first abandoned" session key at RmStartSession. rmcore
# reclaims abandoned sessions only when the limit would otherwise be hit (and on
# ``rmcore reap``): what the API shows is the same (never 353 while one is abandoned),
# but an ordinary start does not have to check every other session's owner.
ABANDONED_RECLAIM_AT_LIMIT_ONLY: Final = True
