"""The one table of decisions: every behaviour where Windows is unknown, with what rmcore
does, why, where the code makes it, which exports it decides, and the conformance test that
checks it on the real DLL. docs/fidelity.md's decision table is generated from it (a test
keeps the two equal); the record/replay tool names the decisions a divergence touches
through it. Decisions that are values are constants of :mod:`._fidelity` (or of the module
named in ``code``); decisions that are the shape of an algorithm name the function.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._fidelity import DEFAULT_MUTEX_TIMEOUT, FIRST_HANDLE, HIVE_HASH_ALGORITHM, SEQUENCE_AT_START

__all__ = ["DECISIONS", "Decision", "decisions_markdown"]


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
        "win32._session_handles.SessionHandles.open",
        ("RmStartSession", "RmJoinSession"),
        "test_first_handle_of_a_process",
    ),
    Decision(
        "handles are never reused",
        "a process never issues a handle value twice (a failed call gives its value back)",
        "undocumented; a stale handle is then always 6, never a newer session",
        "win32._session_handles.SessionHandles.open",
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
        "test_undefined_shutdown_flags_are_160",
    ),
    Decision(
        "KEY_IS_GUID_BYTES",
        "a key is 16 CSPRNG bytes laid out as a v4 GUID in memory order, printed as 32 "
        "lower-case hex digits",
        "restartmanager.h says a key is the text of sizeof(GUID) bytes; the one key observed "
        "(a Windows Installer log) fits this layout",
        "session._keys",
        ("RmStartSession",),
        "test_keys_are_version_4_guids",
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
        "test_a_secondary_may_not_list_shut_down_or_cancel",
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
        "test_an_undefined_filter_action_is_160",
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
    # --- the neighbourhood: kernel32 and psapi as clients call them around Restart Manager
    Decision(
        "NULL out-pointers",
        "a NULL out-pointer given to a simulated kernel32 or psapi function is the access "
        "violation Windows' ctypes raises, at address 0",
        "no parameter validation is documented for these functions",
        "win32._nb_memory",
        (
            "kernel32.QueryFullProcessImageNameW",
            "kernel32.GetProcessTimes",
            "kernel32.GetExitCodeProcess",
            "psapi.EnumProcesses",
        ),
    ),
    Decision(
        "FIRST_OBJECT_HANDLE",
        "kernel32 handles of a fresh simulated process count up from 0x100 in steps of 4 and "
        "are never reused",
        "Windows' values are small multiples of 4; the first depends on what the process "
        "opened before; never reusing one makes a stale handle always 6",
        "win32._nb_handles.FIRST_OBJECT_HANDLE",
        ("kernel32.OpenProcess", "kernel32.CreateFileW"),
    ),
    Decision(
        "HANDLE_SIGNIFICANT_BITS",
        "a HANDLE is read as its low 32 bits, sign-extended: the pseudo-handle -1 is the same "
        "as a 32-bit int (no argtypes) and as a 64-bit c_void_p",
        "handles are 32-bit significant on 64-bit Windows (the WOW64 interoperability rule)",
        "win32._nb_handles.HANDLE_SIGNIFICANT_BITS",
        ("kernel32.CloseHandle", "kernel32.WaitForSingleObject"),
    ),
    Decision(
        "RESTRICTED_PROCESS_ACCESS",
        "a process of another user or an elevated one (App.other_user) and a critical one "
        "(App.critical) open with query-limited and synchronize rights only; any other right "
        "is 5; MAXIMUM_ALLOWED grants just these",
        "what Windows grants a standard user on such processes",
        "win32._nb_processes.RESTRICTED_PROCESS_ACCESS",
        ("kernel32.OpenProcess",),
    ),
    Decision(
        "EXITED_PROCESSES_OPENABLE",
        "an exited World process stays openable by PID until a new process takes its PID; a "
        "PID no World process ever had is 87",
        "as if a handle somewhere kept its process object alive, which is common on Windows",
        "win32._nb_processes.EXITED_PROCESSES_OPENABLE",
        ("kernel32.OpenProcess",),
    ),
    Decision(
        "EXIT_CODE_WHEN_CLOSED",
        "a process that ended other than by TerminateProcess (RmShutdown, World.exit) has exit "
        "code 0; its exit time is the simulated clock when kernel32 first sees it gone",
        "a polite close exits with 0; the World does not record exit times",
        "win32._nb_processes.EXIT_CODE_WHEN_CLOSED",
        ("kernel32.GetExitCodeProcess", "kernel32.GetProcessTimes"),
    ),
    Decision(
        "WORLD_CPU_TIME",
        "a World process used no CPU (kernel and user time 0); the calling process reports "
        "the host's os.times()",
        "a simulated process runs no code",
        "win32._nb_processes.WORLD_CPU_TIME",
        ("kernel32.GetProcessTimes",),
    ),
    Decision(
        "NATIVE_VOLUME_PREFIX",
        "the native image path of drive X: is \\Device\\HarddiskVolumeN with N = 1 for A: "
        "(C: is 3)",
        "the usual number behind an EFI and a recovery partition; the mapping is per machine",
        "win32._nb_processes.NATIVE_VOLUME_PREFIX",
        ("kernel32.QueryFullProcessImageNameW", "psapi.GetProcessImageFileNameW"),
    ),
    Decision(
        "infinite waits on a running process",
        "WaitForSingleObject(INFINITE) on a running World process raises SimulatedDeadlock "
        "instead of hanging; a finite timeout advances the simulated clock",
        "nothing in a World ends a process by itself: on Windows the call would never return",
        "win32._nb_processes.Processes.wait",
        ("kernel32.WaitForSingleObject",),
    ),
    Decision(
        "FILE_HANDLE_WAIT_RESULT",
        "WaitForSingleObject on a file handle is WAIT_OBJECT_0 at once",
        "a file handle is signalled when no I/O is pending, and none ever is on a simulated handle",
        "win32._kernel32.FILE_HANDLE_WAIT_RESULT",
        ("kernel32.WaitForSingleObject",),
    ),
    Decision(
        "EnumProcesses order",
        "EnumProcesses lists the running World processes and the caller in ascending PID "
        "order; a World process declared with the caller's PID is that process",
        "Windows' order is the kernel's list, which is unspecified",
        "win32._nb_processes.Processes.pids",
        ("psapi.EnumProcesses", "kernel32.K32EnumProcesses"),
    ),
    Decision(
        "TerminateProcess on the caller",
        "TerminateProcess on the calling process ends the simulated process (its sessions "
        "become abandoned, its kernel32 handles close) and raises SimulatorExited",
        "the call never returns on Windows",
        "win32._nb_processes.Processes.terminate, Simulator.terminate",
        ("kernel32.TerminateProcess",),
    ),
    Decision(
        "short image-name buffer",
        "QueryFullProcessImageNameW with too small a buffer is 122, leaves *lpdwSize as it was "
        "and writes nothing",
        "Windows does not document the size it reports then",
        "win32._kernel32.Kernel32.QueryFullProcessImageNameW",
        ("kernel32.QueryFullProcessImageNameW",),
    ),
    Decision(
        "module-name truncation",
        "a module name longer than nSize - 1 characters is cut to nSize - 1 and NUL-terminated; "
        "the result is the count copied, the last error left alone; nSize 0 copies nothing: "
        "0 and 122",
        "GetModuleFileNameEx documents 'truncated and null-terminated'; taken for "
        "GetModuleBaseName too",
        "win32._psapi.PsapiExports",
        ("psapi.GetModuleBaseNameW", "psapi.GetModuleFileNameExW"),
    ),
    Decision(
        "OTHER_MODULE_RESULT",
        "a process's only module is its image; any other hModule than NULL is 6",
        "a simulated process loads no DLLs",
        "win32._psapi.OTHER_MODULE_RESULT",
        ("psapi.GetModuleBaseNameW", "psapi.GetModuleFileNameExW"),
    ),
    Decision(
        "EXITED_MODULE_RESULT",
        "module names of an exited process are 299 (ERROR_PARTIAL_COPY)",
        "they are read from the process's memory, which is gone; 299 is what "
        "ReadProcessMemory reports for an exited process",
        "win32._psapi.EXITED_MODULE_RESULT",
        ("psapi.GetModuleBaseNameW", "psapi.GetModuleFileNameExW"),
    ),
    Decision(
        "FormatMessageW messages",
        "English system messages for any dwLanguageId; a non-zero maximum width ends the text "
        "with a space instead of CRLF; inserts are left as written; FROM_STRING, FROM_HMODULE "
        "and ALLOCATE_BUFFER raise NotSimulatedError",
        "rmcore carries one language; no surveyed client uses the other sources",
        "win32._kernel32.Kernel32.FormatMessageW",
        ("kernel32.FormatMessageW",),
    ),
    Decision(
        "WORLD_HOLDER_ACCESS",
        "a World process holds its files open for reading and writing and shares nothing: "
        "any open asking for data access is 32; an attribute-only open succeeds",
        "that is what a locking editor does; Windows skips the share check for attribute-only "
        "access",
        "win32._nb_files.WORLD_HOLDER_ACCESS",
        ("kernel32.CreateFileW",),
    ),
    Decision(
        "NO_HOST_VOLUME_RESULT",
        "off Windows a drive-letter or UNC name has no host file: 3; one a World process holds "
        "is still 32 (or 80 for CREATE_NEW)",
        "3 is what Windows answers for a missing volume; a held name exists in the World",
        "win32._nb_files.NO_HOST_VOLUME_RESULT",
        ("kernel32.CreateFileW", "kernel32.GetFileAttributesW"),
    ),
    Decision(
        "EMPTY_NAME_RESULT",
        "a NULL or empty file name is 3; a device name other than NUL (\\\\.\\PhysicalDrive0, "
        "COM1...) is 2",
        "there is no path to resolve; rmcore simulates no devices",
        "win32._nb_files.EMPTY_NAME_RESULT",
        ("kernel32.CreateFileW", "kernel32.GetFileAttributesW"),
    ),
    Decision(
        "FILE_ATTRIBUTES",
        "a regular file is FILE_ATTRIBUTE_ARCHIVE, plus READONLY when the owner may not write "
        "it; a symbolic link is ARCHIVE (or DIRECTORY) | REPARSE_POINT; NORMAL is never "
        "reported",
        "NTFS sets ARCHIVE on every file it creates or writes",
        "win32._nb_files.FILE_ATTRIBUTES",
        ("kernel32.GetFileAttributesW", "kernel32.GetFileInformationByHandle"),
    ),
    Decision(
        "CreateFileW last error on success",
        "set only where documented: 183 or 0 after CREATE_ALWAYS and OPEN_ALWAYS; left alone "
        "after the other dispositions",
        "the CreateFileW page documents the last error on success for those two only",
        "win32._nb_files.open_file",
        ("kernel32.CreateFileW",),
    ),
    Decision(
        "MAXIMUM_ALLOWED_FILE_ACCESS",
        "MAXIMUM_ALLOWED asks for every right; FILE_FLAG_OPEN_REPARSE_POINT is ignored (links "
        "are followed); FILE_FLAG_DELETE_ON_CLOSE raises NotSimulatedError",
        "the caller is the file's owner on the host; deleting host files on close is not "
        "something a test double should do",
        "win32._nb_files.MAXIMUM_ALLOWED_FILE_ACCESS",
        ("kernel32.CreateFileW",),
    ),
    Decision(
        "file identity and times",
        "BY_HANDLE_FILE_INFORMATION's creation time is the host's birth time where it has one, "
        "else the older of change and modification time; the volume serial number is "
        "st_dev's low 32 bits; the file index is st_ino",
        "the nearest host facts to NTFS's",
        "win32._nb_files.information",
        ("kernel32.GetFileInformationByHandle",),
    ),
    Decision(
        "HOST_TS_SESSION",
        "in the host world every process is in the caller's terminal-services session: no "
        "SessionMismatch arises",
        "POSIX has no terminal-services sessions",
        "world._host.HOST_TS_SESSION",
        ("RmGetList",),
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
