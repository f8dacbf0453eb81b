"""Every behaviour where Windows is unknown, decided once: the constants the code reads, and
:data:`DECISIONS`, the one table of them (docs/fidelity.md's decision table is generated from
it, and a test keeps the two equal; the record/replay tool names the decisions a divergence
touches through it). Decisions that are the shape of an algorithm are rows of the table
that name the function implementing them.

"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .. import winerror

__all__ = [
    "CANCEL_WITHOUT_TASK_RESULT",
    "DECISIONS",
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
    "Decision",
    "decisions_markdown",
    "path_key",
    "same_path",
]

# The values the code reads; each is explained in DECISIONS below (one row per name).
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
    path = path.replace("/", "\\")
    if path.startswith("\\\\?\\"):
        path = path[4:]
    return path.casefold()


def same_path(left: str, right: str) -> bool:
    """Whether two full paths name the same file, as Windows compares them."""
    return path_key(left) == path_key(right)


@dataclass(frozen=True)
class Decision:
    """One behaviour rmcore had to decide: what, why, where, and what would reveal it."""

    name: str  # the constant's name, or a title for a decision that is an algorithm
    choice: str  # what rmcore does
    why: str
    code: str  # where the code makes it
    exports: tuple[str, ...]  # the functions whose results it decides
    test: str | None = None  # the conformance test that checks it on the real DLL


_MUTEXED = ("RmStartSession", "RmJoinSession", "RmEndSession", "RmRegisterResources",
            "RmGetList", "RmShutdown", "RmRestart")  # fmt: skip
_PRIMARY_ONLY = ("RmGetList", "RmShutdown", "RmRestart", "RmCancelCurrentTask")

DECISIONS: tuple[Decision, ...] = (
    Decision(
        "DEFAULT_MUTEX_TIMEOUT",
        f"calls wait up to {DEFAULT_MUTEX_TIMEOUT} s for the registry write mutex, then 121",
        "the function pages name the mutex but not its timeout; real contention lasts "
        "microseconds, and a wedged holder shows as 121 within a test run (tunable)",
        "SessionTable (timeout per Simulator)",
        _MUTEXED,
    ),
    Decision(
        "FIRST_HANDLE",
        f"handles are small integers counting up from {FIRST_HANDLE} in each process; "
        "0xFFFFFFFF is never issued",
        "handle values are undocumented; the event log shows 'Starting session 0' and "
        "Microsoft's samples use 0xFFFFFFFF as the invalid value",
        "Simulator._reserve_handle",
        ("RmStartSession", "RmJoinSession"),
        "test_first_handle_of_a_process",
    ),
    Decision(
        "handles are never reused",
        "a process never issues a handle value twice (a failed call gives its value back)",
        "undocumented; a stale handle is then always 6, never a newer session",
        "Simulator._reserve_handle",
        ("RmStartSession", "RmJoinSession", "RmEndSession"),
    ),
    Decision(
        "REJECT_NONZERO_SESSION_FLAGS",
        "dwSessionFlags != 0 (RmStartSession) and dwRestartFlags != 0 (RmRestart) are 160",
        "both are reserved and 'should be 0' (RmStartSession and RmRestart pages); whether "
        "Windows refuses other values is undocumented; the only third-party test asserts 160",
        "Simulator.RmStartSession, Simulator.RmRestart",
        ("RmStartSession", "RmRestart"),
        "test_nonzero_session_flags",
    ),
    Decision(
        "undefined RmShutdown flags",
        "lActionFlags with bits other than RmForceShutdown and RmShutdownOnlyRegistered is 160",
        "only those two bits are defined (RM_SHUTDOWN_TYPE page); 160 is the documented code "
        "for a bad argument",
        "Simulator.RmShutdown",
        ("RmShutdown",),
    ),
    Decision(
        "KEY_IS_GUID_BYTES",
        "a key is 16 CSPRNG bytes laid out as a v4 GUID in memory order, printed as 32 "
        "lower-case hex digits",
        "restartmanager.h says a key is the text of sizeof(GUID) bytes; the one key observed "
        "(a Windows Installer log) fits this layout",
        "session._keys",
        ("RmStartSession",),
    ),
    Decision(
        "JOIN_KEY_CASE_SENSITIVE",
        "RmJoinSession compares the 16 bytes a key encodes: upper-case hex joins; anything "
        "but 32 hex digits is 1219",
        "a key is documented as the text of 16 bytes; a malformed key 'cannot be validated', "
        "which is what the RmJoinSession page gives 1219 for",
        "session._keys.key_to_bytes",
        ("RmJoinSession",),
        "test_upper_case_key_joins",
    ),
    Decision(
        "SAME_PROCESS_MAY_JOIN",
        "a process may join a session it started, getting a second (secondary) handle",
        "undocumented; refusing would need a code nothing documents",
        "SessionTable.join",
        ("RmJoinSession",),
        "test_process_joins_its_own_session",
    ),
    Decision(
        "joined handles do not count",
        "only started sessions count toward the 64; RmJoinSession never returns 353 itself",
        "the RmStartSession page limits sessions 'open at the same time'; a join opens none",
        "SessionTable.start",
        ("RmStartSession", "RmJoinSession"),
    ),
    Decision(
        "JOIN_ABANDONED_SESSION_RESULT",
        "joining a session whose primary has exited is 1219",
        "an abandoned key stays until reused (observed), but nothing can drive it any more: "
        "its key 'cannot be validated' (RmJoinSession page)",
        "SessionTable.join",
        ("RmJoinSession",),
    ),
    Decision(
        "STALE_SECONDARY_HANDLE_RESULT",
        "a secondary's handle after the primary's RmEndSession is 6, and the handle dies",
        "undocumented; the session no longer exists, which is what 6 says on every page",
        "SessionTable, Simulator.RmEndSession",
        ("RmEndSession", "RmRegisterResources"),
        "test_secondary_handle_after_the_primary_ended",
    ),
    Decision(
        "SECONDARY_CALLS_PRIMARY_ONLY_RESULT",
        "a secondary's RmGetList, RmShutdown, RmRestart and RmCancelCurrentTask are 1219",
        "the filter pages document 1219 for secondaries and Tailscale observed it for "
        "RmGetList; the other pages say 'primary only' without a code",
        "Simulator._primary",
        _PRIMARY_ONLY,
    ),
    Decision(
        "roles are per handle",
        "a process that started a session and joined it acts as primary through the first "
        "handle and as secondary through the second",
        "undocumented; per handle follows the handle the caller passes",
        "Simulator._primary",
        _PRIMARY_ONLY,
    ),
    Decision(
        "CANCEL_WITHOUT_TASK_RESULT",
        "RmCancelCurrentTask with no task running returns 0 and cancels nothing started later",
        "undocumented; a cancel that hit the next unrelated call would be surprising",
        "Simulator.RmCancelCurrentTask, SessionApps.cancel",
        ("RmCancelCurrentTask",),
        "test_cancel_with_no_task_running",
    ),
    Decision(
        "GETLIST_COUNT_ON_MORE_DATA",
        "on 234 *pnProcInfo is set to 0 and nothing is written to the array; a NULL "
        "pnProcInfoNeeded, pnProcInfo or lpdwRebootReasons is 160",
        "the RmGetList page leaves both open; the wine4office fork does the same",
        "Simulator.RmGetList",
        ("RmGetList",),
    ),
    Decision(
        "SERVICES_CAUSE_SESSION_MISMATCH",
        "a service (session 0) is no session mismatch; any reboot reason makes RmShutdown "
        "return 350 without stopping anything",
        "RM stops services through the service manager whatever their session; 350 means "
        "'nothing was shut down, a restart is needed' (RmShutdown page)",
        "world._engine.SessionApps",
        ("RmGetList", "RmShutdown"),
    ),
    Decision(
        "SHUTDOWN_ONLY_REGISTERED_REFUSAL",
        "RmShutdownOnlyRegistered with an app not registered for restart: nothing is shut "
        "down, 351",
        "the RmShutdown page says only that nothing is shut down; 351 is its 'could not shut "
        "down' code",
        "world._engine.SessionApps.shutdown",
        ("RmShutdown",),
    ),
    Decision(
        "UNKNOWN_APP_SHUTDOWN_RANK",
        "RmUnknownApp is shut down with the GUI apps, first; without RmForceShutdown it fails "
        "(ErrorOnStop, 351)",
        "the documented order (GUI, console, services, Explorer) omits it; RM_APP_TYPE says it "
        "'can only be shut down by force'",
        "world._engine",
        ("RmShutdown",),
    ),
    Decision(
        "AppStatus history",
        "Stopped, Restarted, ErrorOnStop and ErrorOnRestart accumulate; Running is the app's "
        "state now; the masked bits follow the filters; apps the session stopped or restarted "
        "stay listed; RmStatusStoppedOther is never produced",
        "the RM_APP_STATUS page documents the bits, not their history",
        "world._engine.SessionApps._row",
        ("RmGetList",),
    ),
    Decision(
        "failed restarts are retried",
        "an app whose restart failed stays 'stopped by RmShutdown': the next RmRestart tries "
        "it again",
        "undocumented; the app is still down and still the session's to bring back",
        "world._engine.SessionApps.restart",
        ("RmRestart",),
    ),
    Decision(
        "REENTRANT_TASK_RESULT",
        "RmShutdown or RmRestart called from the status callback of the session's running "
        "task is 776; RmGetList and RmCancelCurrentTask from a callback work",
        "undocumented; waiting for the running task from its own callback would deadlock",
        "world._engine.SessionApps._task",
        ("RmShutdown", "RmRestart"),
    ),
    Decision(
        "arguments checked before the handle",
        "RmRegisterResources checks its arrays (160) before the handle (6); a NULL or empty "
        "name in an array is 160",
        "undocumented; both third-party implementations (the wine4office and ReactOS forks) "
        "check in this order",
        "Simulator.RmRegisterResources",
        ("RmRegisterResources",),
    ),
    Decision(
        "registrations are kept per call",
        "each RmRegisterResources call is one RegFiles/RegProcs/RegSvcs group of the names as "
        "given, duplicates included; RmGetList lists each app once",
        "the hive keeps numbered groups (observed); nothing says Windows drops duplicates",
        "session._records, SessionTable.resources",
        ("RmRegisterResources", "RmGetList"),
    ),
    Decision(
        "FILTER_ACTION_MUST_BE_VALID",
        "RmAddFilter needs exactly one target (an empty path or service name is none) and "
        "RmNoRestart or RmNoShutdown; anything else is 160",
        "the RmAddFilter page documents 160 only for 'NULL or 0 where not allowed'",
        "Simulator.RmAddFilter, _filter_target",
        ("RmAddFilter", "RmRemoveFilter"),
    ),
    Decision(
        "RmGetFilterList layout",
        "each RM_FILTER_INFO is followed by its NUL-terminated UTF-16 string, padded to "
        "pointer alignment; the union's pointer points at it; cbNextOffset is the distance "
        "to the next record, 0 in the last",
        "the layout is undocumented; this one keeps every pointer inside the caller's buffer",
        "world._filters.FilterSet.buffer_bytes",
        ("RmGetFilterList",),
    ),
    Decision(
        "SEQUENCE_AT_START",
        f"a session's Sequence is {SEQUENCE_AT_START} after RmStartSession, +1 per "
        "RmRegisterResources call that registered something; joins do not change it",
        "its meaning is undocumented; the one observed key shows 1 after one such call",
        "session._hive",
        ("RmStartSession", "RmRegisterResources"),
    ),
    Decision(
        "HIVE_HASH_ALGORITHM",
        f"SessionHash and Reg*Hash are {HIVE_HASH_ALGORITHM.upper()} digests (of the key's 16 "
        "bytes; of each kind's REG_MULTI_SZ data), present when that kind was registered",
        "the algorithm is unknown; observed: REG_BINARY values longer than 16 bytes",
        "session._keys, session._hive",
        ("RmJoinSession",),
    ),
    Decision(
        "reading past the caller's object",
        "a count larger than the array behind a pointer, or a string with no NUL inside its "
        "object, raises the access violation Windows' ctypes raises; nothing is read past it",
        "Windows would read the neighbouring memory: garbage or an access violation; rmcore "
        "cannot produce the garbage",
        "win32._memory.Region.read, win32._args.read_string",
        ("RmRegisterResources", "RmJoinSession", "RmAddFilter", "RmRemoveFilter"),
    ),
    Decision(
        "writing past the caller's object",
        "an out-buffer smaller than what the DLL writes gets what fits; the call returns what "
        "Windows returns and RmUsageWarning says so (an error in strict mode)",
        "the DLL has no length parameters: Windows overruns the buffer and succeeds; rmcore "
        "never corrupts the caller's memory",
        "win32._args.check_out, Region.write",
        ("RmStartSession", "RmGetList", "RmGetFilterList"),
    ),
    Decision(
        "huge counts",
        "a count whose array would exceed 256 MiB is 14 (ERROR_OUTOFMEMORY)",
        "the DLL must copy the names; memory is what runs out first",
        "Simulator._check_array",
        ("RmRegisterResources",),
    ),
    Decision(
        "raw callback addresses",
        "a status callback given as a raw address or another library's function is not "
        "called (RmUsageWarning); ctypes callbacks made from Python functions are",
        "rmcore cannot tell code from data at an address; calling it could crash the caller",
        "win32._args.status_callback",
        ("RmShutdown", "RmRestart"),
    ),
    Decision(
        "same_path",
        "file paths and service names compare case-insensitively; a \\\\?\\ prefix and "
        "forward slashes name the same file",
        "NTFS and the service manager ignore case",
        "session._fidelity.same_path, World",
        ("RmGetList", "RmAddFilter", "RmRemoveFilter"),
    ),
)


def decisions_markdown() -> str:
    """The decision table of docs/fidelity.md, generated from :data:`DECISIONS`."""
    lines = [
        "| Decision | What rmcore does | Why | Where | Decides | Checked on Windows by |",
        "|---|---|---|---|---|---|",
    ]
    for decision in DECISIONS:
        test = f"`{decision.test}`" if decision.test else "-"
        cells = (
            f"`{decision.name}`" if decision.name.isupper() else decision.name,
            decision.choice,
            decision.why,
            f"`{decision.code}`",
            ", ".join(decision.exports),
            test,
        )
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
