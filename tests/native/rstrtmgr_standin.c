/*
 * rstrtmgr_standin.c: a stand-in for rstrtmgr.dll, for testing rmcore's ctypes backend
 * (rmcore/_dll.py) on hosts without Windows.
 *
 * It exports the eleven Rm* functions with the Windows types and struct layouts of
 * restartmanager.h (WCHAR is 16-bit, DWORD/UINT/ULONG 32-bit, enums and BOOL int32), RECORDS
 * what each call received into the exported global `standin_record`, and WRITES KNOWN OUTPUTS,
 * so a test can check every crossing of the boundary in both directions. It implements no
 * Restart Manager semantics. Build: cc -shared -fPIC -std=c11 -o rstrtmgr_standin.so this.c
 */
/*
 * Mode 1 (StandinSetMode(1), at the end of this file) is the exception: a small faithful
 * Restart Manager over the apps StandinSetApps declares, for the record/replay tests
 * (tests/test_replay.py). Mode 0, the default, is the fixed-answer recorder.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(_WIN32)
#define RM_EXPORT __declspec(dllexport)
#define WINAPI __stdcall
#else
#define RM_EXPORT __attribute__((visibility("default")))
#define WINAPI
#endif

typedef uint16_t WCHAR;
typedef uint32_t DWORD;
typedef uint32_t UINT;
typedef uint32_t ULONG;
typedef int32_t BOOL;
typedef uint8_t BYTE;

typedef struct { DWORD dwLowDateTime; DWORD dwHighDateTime; } FILETIME;
typedef struct { DWORD dwProcessId; FILETIME ProcessStartTime; } RM_UNIQUE_PROCESS;
typedef struct {
    RM_UNIQUE_PROCESS Process;
    WCHAR strAppName[256];
    WCHAR strServiceShortName[64];
    int32_t ApplicationType; /* RM_APP_TYPE */
    ULONG AppStatus;
    DWORD TSSessionId;
    BOOL bRestartable;
} RM_PROCESS_INFO;
typedef struct {
    int32_t FilterAction;  /* RM_FILTER_ACTION */
    int32_t FilterTrigger; /* RM_FILTER_TRIGGER */
    DWORD cbNextOffset;
    union {
        WCHAR *strFilename;
        RM_UNIQUE_PROCESS Process;
        WCHAR *strServiceShortName;
    } u;
} RM_FILTER_INFO;
typedef void (*RM_WRITE_STATUS_CALLBACK)(UINT nPercentComplete); /* cdecl, as in the header */

_Static_assert(sizeof(WCHAR) == 2 && sizeof(DWORD) == 4, "Windows scalar sizes");
_Static_assert(sizeof(RM_UNIQUE_PROCESS) == 12, "RM_UNIQUE_PROCESS is 12 bytes");
_Static_assert(sizeof(RM_PROCESS_INFO) == 668, "RM_PROCESS_INFO is 668 bytes");
_Static_assert(sizeof(RM_FILTER_INFO) == (sizeof(void *) == 8 ? 32 : 24), "RM_FILTER_INFO");

enum { ERROR_SUCCESS = 0, ERROR_INVALID_HANDLE = 6, ERROR_BAD_ARGUMENTS = 160,
       ERROR_MORE_DATA = 234 };
enum { STANDIN_HANDLE = 7, STANDIN_JOIN_HANDLE = 8, MAX_PROCS = 4 };

/* What the last call received. Mirrored field by field by tests/test_dll_backend.py. */
typedef struct {
    uint32_t calls;           /* Rm* calls since StandinReset */
    char function[32];        /* name of the last Rm* function called */
    uint32_t handle;          /* its dwSessionHandle, if it takes one */
    uint32_t flags;           /* dwSessionFlags / lActionFlags / dwRestartFlags */
    uint32_t null_mask;       /* bit i: the i-th parameter (0-based) was a NULL pointer */
    uint32_t in_count;        /* *pnProcInfo (RmGetList) or cbFilterBuf (RmGetFilterList) */
    int32_t filter_action;    /* RmAddFilter's FilterAction */
    uint32_t n_files, n_apps, n_services;
    uint32_t pids[MAX_PROCS], start_low[MAX_PROCS], start_high[MAX_PROCS];
    uint32_t callback_given;  /* fnStatus was not NULL */
    uint64_t buffer_address;  /* rgAffectedApps / pbFilterBuf as received */
    WCHAR key[40];            /* RmJoinSession's key, up to its NUL */
    WCHAR files[512];         /* file names joined by '|'; a NULL entry reads "(null)" */
    WCHAR services[512];      /* service names joined by '|' */
    WCHAR module[512];        /* RmAddFilter/RmRemoveFilter strModuleName */
    WCHAR service[128];       /* RmAddFilter/RmRemoveFilter strServiceShortName */
} StandinRecord;

RM_EXPORT StandinRecord standin_record;

RM_EXPORT uint32_t StandinRecordSize(void) { return (uint32_t)sizeof(StandinRecord); }
RM_EXPORT void StandinReset(void) { memset(&standin_record, 0, sizeof standin_record); }

static void begin(const char *function) {
    StandinRecord *r = &standin_record;
    uint32_t calls = r->calls + 1;
    memset(r, 0, sizeof *r);
    r->calls = calls;
    strncpy(r->function, function, sizeof r->function - 1);
}

static void null_if(int index, const void *pointer) {
    if (pointer == NULL) standin_record.null_mask |= 1u << index;
}

/* Append src (NUL-terminated, or "(null)" for NULL) to dst, after a '|' if dst is not empty. */
static void append(WCHAR *dst, size_t cap, const WCHAR *src) {
    static const WCHAR null_text[] = u"(null)";
    size_t at = 0;
    while (at < cap - 1 && dst[at]) at++;
    if (at && at < cap - 1) dst[at++] = u'|';
    if (src == NULL) src = null_text;
    for (size_t i = 0; src[i] && at < cap - 1; i++) dst[at++] = src[i];
    dst[at] = 0;
}

static void put(WCHAR *dst, size_t cap, const WCHAR *src) {
    dst[0] = 0;
    append(dst, cap, src);
}

static void report(RM_WRITE_STATUS_CALLBACK fnStatus) {
    standin_record.callback_given = fnStatus != NULL;
    if (fnStatus) {
        fnStatus(0);
        fnStatus(50);
        fnStatus(100);
    }
}

/* Mode 1 (defined at the end of this file): each Rm* function hands over to it first. */
static int standin_mode;
static DWORD f_RmStartSession(DWORD *, DWORD, WCHAR[]);
static DWORD f_RmJoinSession(DWORD *, const WCHAR[]);
static DWORD f_RmEndSession(DWORD);
static DWORD f_RmRegisterResources(DWORD, UINT, const WCHAR *[], UINT, RM_UNIQUE_PROCESS[], UINT,
                                   const WCHAR *[]);
static DWORD f_RmGetList(DWORD, UINT *, UINT *, RM_PROCESS_INFO[], DWORD *);
static DWORD f_RmShutdown(DWORD, ULONG, RM_WRITE_STATUS_CALLBACK);
static DWORD f_RmRestart(DWORD, DWORD, RM_WRITE_STATUS_CALLBACK);
static DWORD f_RmCancelCurrentTask(DWORD);
static DWORD f_RmAddFilter(DWORD, const WCHAR *, RM_UNIQUE_PROCESS *, const WCHAR *, int32_t);
static DWORD f_RmRemoveFilter(DWORD, const WCHAR *, RM_UNIQUE_PROCESS *, const WCHAR *);
static DWORD f_RmGetFilterList(DWORD, BYTE *, DWORD, DWORD *);

RM_EXPORT DWORD WINAPI RmStartSession(DWORD *pSessionHandle, DWORD dwSessionFlags,
                                      WCHAR strSessionKey[]) {
    if (standin_mode) return f_RmStartSession(pSessionHandle, dwSessionFlags, strSessionKey);
    static const WCHAR key[] = u"0123456789abcdef0123456789abcdef";
    begin("RmStartSession");
    standin_record.flags = dwSessionFlags;
    null_if(0, pSessionHandle);
    null_if(2, strSessionKey);
    if (!pSessionHandle || !strSessionKey) return ERROR_BAD_ARGUMENTS;
    *pSessionHandle = STANDIN_HANDLE;
    memcpy(strSessionKey, key, sizeof key); /* 32 characters and the NUL: 33 WCHARs */
    return ERROR_SUCCESS;
}

RM_EXPORT DWORD WINAPI RmJoinSession(DWORD *pSessionHandle, const WCHAR strSessionKey[]) {
    if (standin_mode) return f_RmJoinSession(pSessionHandle, strSessionKey);
    begin("RmJoinSession");
    null_if(0, pSessionHandle);
    null_if(1, strSessionKey);
    if (!pSessionHandle || !strSessionKey) return ERROR_BAD_ARGUMENTS;
    for (size_t i = 0; i < 39 && strSessionKey[i]; i++) standin_record.key[i] = strSessionKey[i];
    *pSessionHandle = STANDIN_JOIN_HANDLE;
    return ERROR_SUCCESS;
}

static DWORD known_handle(DWORD handle) {
    return handle == STANDIN_HANDLE || handle == STANDIN_JOIN_HANDLE ? ERROR_SUCCESS
                                                                     : ERROR_INVALID_HANDLE;
}

RM_EXPORT DWORD WINAPI RmEndSession(DWORD dwSessionHandle) {
    if (standin_mode) return f_RmEndSession(dwSessionHandle);
    begin("RmEndSession");
    standin_record.handle = dwSessionHandle;
    return known_handle(dwSessionHandle);
}

RM_EXPORT DWORD WINAPI RmRegisterResources(DWORD dwSessionHandle, UINT nFiles,
                                           const WCHAR *rgsFileNames[], UINT nApplications,
                                           RM_UNIQUE_PROCESS rgApplications[], UINT nServices,
                                           const WCHAR *rgsServiceNames[]) {
    if (standin_mode)
        return f_RmRegisterResources(dwSessionHandle, nFiles, rgsFileNames, nApplications,
                                     rgApplications, nServices, rgsServiceNames);
    StandinRecord *r = &standin_record;
    begin("RmRegisterResources");
    r->handle = dwSessionHandle;
    r->n_files = nFiles;
    r->n_apps = nApplications;
    r->n_services = nServices;
    null_if(2, rgsFileNames);
    null_if(4, rgApplications);
    null_if(6, rgsServiceNames);
    if ((nFiles && !rgsFileNames) || (nApplications && !rgApplications) ||
        (nServices && !rgsServiceNames))
        return ERROR_BAD_ARGUMENTS;
    for (UINT i = 0; i < nFiles; i++) append(r->files, 512, rgsFileNames[i]);
    for (UINT i = 0; i < nApplications && i < MAX_PROCS; i++) {
        r->pids[i] = rgApplications[i].dwProcessId;
        r->start_low[i] = rgApplications[i].ProcessStartTime.dwLowDateTime;
        r->start_high[i] = rgApplications[i].ProcessStartTime.dwHighDateTime;
    }
    for (UINT i = 0; i < nServices; i++) append(r->services, 512, rgsServiceNames[i]);
    return known_handle(dwSessionHandle);
}

static void fill_app(RM_PROCESS_INFO *info, DWORD pid, DWORD low, DWORD high,
                     const WCHAR *name, const WCHAR *service, int32_t type, ULONG status,
                     DWORD ts_session, BOOL restartable) {
    memset(info, 0, sizeof *info);
    info->Process.dwProcessId = pid;
    info->Process.ProcessStartTime.dwLowDateTime = low;
    info->Process.ProcessStartTime.dwHighDateTime = high;
    put(info->strAppName, 256, name);
    put(info->strServiceShortName, 64, service);
    info->ApplicationType = type;
    info->AppStatus = status;
    info->TSSessionId = ts_session;
    info->bRestartable = restartable;
}

/* Two affected apps; reboot reasons RmRebootReasonDetectedSelf (0x10). */
RM_EXPORT DWORD WINAPI RmGetList(DWORD dwSessionHandle, UINT *pnProcInfoNeeded,
                                 UINT *pnProcInfo, RM_PROCESS_INFO rgAffectedApps[],
                                 DWORD *lpdwRebootReasons) {
    if (standin_mode)
        return f_RmGetList(dwSessionHandle, pnProcInfoNeeded, pnProcInfo, rgAffectedApps,
                           lpdwRebootReasons);
    StandinRecord *r = &standin_record;
    begin("RmGetList");
    r->handle = dwSessionHandle;
    null_if(1, pnProcInfoNeeded);
    null_if(2, pnProcInfo);
    null_if(3, rgAffectedApps);
    null_if(4, lpdwRebootReasons);
    r->buffer_address = (uint64_t)(uintptr_t)rgAffectedApps;
    if (!pnProcInfoNeeded || !pnProcInfo || !lpdwRebootReasons) return ERROR_BAD_ARGUMENTS;
    r->in_count = *pnProcInfo;
    *pnProcInfoNeeded = 2;
    *lpdwRebootReasons = 0x10;
    if (*pnProcInfo < 2) {
        *pnProcInfo = 0;
        return ERROR_MORE_DATA;
    }
    if (!rgAffectedApps) return ERROR_BAD_ARGUMENTS;
    /* "Editor \u00e9\U0001F600": a non-ASCII BMP character and a surrogate pair. */
    fill_app(&rgAffectedApps[0], 1111, 0x89ABCDEFu, 0x01D90000u, u"Editor \u00e9\U0001F600",
             u"", 1 /* RmMainWindow */, 0x1 /* RmStatusRunning */, 1, 0);
    fill_app(&rgAffectedApps[1], 2222, 0x00000001u, 0x01DA0000u, u"Print Spooler", u"Spooler",
             3 /* RmService */, 0x1, 0xFFFFFFFFu /* RM_INVALID_TS_SESSION */, 1);
    *pnProcInfo = 2;
    return ERROR_SUCCESS;
}

RM_EXPORT DWORD WINAPI RmShutdown(DWORD dwSessionHandle, ULONG lActionFlags,
                                  RM_WRITE_STATUS_CALLBACK fnStatus) {
    if (standin_mode) return f_RmShutdown(dwSessionHandle, lActionFlags, fnStatus);
    begin("RmShutdown");
    standin_record.handle = dwSessionHandle;
    standin_record.flags = lActionFlags;
    report(fnStatus);
    return ERROR_SUCCESS;
}

RM_EXPORT DWORD WINAPI RmRestart(DWORD dwSessionHandle, DWORD dwRestartFlags,
                                 RM_WRITE_STATUS_CALLBACK fnStatus) {
    if (standin_mode) return f_RmRestart(dwSessionHandle, dwRestartFlags, fnStatus);
    begin("RmRestart");
    standin_record.handle = dwSessionHandle;
    standin_record.flags = dwRestartFlags;
    report(fnStatus);
    return ERROR_SUCCESS;
}

RM_EXPORT DWORD WINAPI RmCancelCurrentTask(DWORD dwSessionHandle) {
    if (standin_mode) return f_RmCancelCurrentTask(dwSessionHandle);
    begin("RmCancelCurrentTask");
    standin_record.handle = dwSessionHandle;
    return ERROR_SUCCESS;
}

static void record_filter(DWORD handle, const WCHAR *module, RM_UNIQUE_PROCESS *process,
                          const WCHAR *service) {
    StandinRecord *r = &standin_record;
    r->handle = handle;
    null_if(1, module);
    null_if(2, process);
    null_if(3, service);
    if (module) put(r->module, 512, module);
    if (service) put(r->service, 128, service);
    if (process) {
        r->n_apps = 1;
        r->pids[0] = process->dwProcessId;
        r->start_low[0] = process->ProcessStartTime.dwLowDateTime;
        r->start_high[0] = process->ProcessStartTime.dwHighDateTime;
    }
}

RM_EXPORT DWORD WINAPI RmAddFilter(DWORD dwSessionHandle, const WCHAR *strModuleName,
                                   RM_UNIQUE_PROCESS *pProcess,
                                   const WCHAR *strServiceShortName, int32_t FilterAction) {
    if (standin_mode)
        return f_RmAddFilter(dwSessionHandle, strModuleName, pProcess, strServiceShortName,
                             FilterAction);
    begin("RmAddFilter");
    record_filter(dwSessionHandle, strModuleName, pProcess, strServiceShortName);
    standin_record.filter_action = FilterAction;
    return ERROR_SUCCESS;
}

RM_EXPORT DWORD WINAPI RmRemoveFilter(DWORD dwSessionHandle, const WCHAR *strModuleName,
                                      RM_UNIQUE_PROCESS *pProcess,
                                      const WCHAR *strServiceShortName) {
    if (standin_mode)
        return f_RmRemoveFilter(dwSessionHandle, strModuleName, pProcess, strServiceShortName);
    begin("RmRemoveFilter");
    record_filter(dwSessionHandle, strModuleName, pProcess, strServiceShortName);
    return ERROR_SUCCESS;
}

/* Two records chained by cbNextOffset: a file filter (RmNoRestart) whose string sits in the
 * buffer right after its record, then a process filter (RmNoShutdown) with cbNextOffset 0. */
static const WCHAR filter_file[] = u"C:\\Apps\\t\u00f6\u00f6l.exe";

static size_t aligned(size_t size) {
    size_t align = _Alignof(RM_FILTER_INFO);
    return (size + align - 1) / align * align;
}

RM_EXPORT DWORD WINAPI RmGetFilterList(DWORD dwSessionHandle, BYTE *pbFilterBuf,
                                       DWORD cbFilterBuf, DWORD *cbFilterBufNeeded) {
    if (standin_mode)
        return f_RmGetFilterList(dwSessionHandle, pbFilterBuf, cbFilterBuf, cbFilterBufNeeded);
    StandinRecord *r = &standin_record;
    size_t first = aligned(sizeof(RM_FILTER_INFO) + sizeof filter_file);
    size_t needed = first + sizeof(RM_FILTER_INFO);
    begin("RmGetFilterList");
    r->handle = dwSessionHandle;
    r->in_count = cbFilterBuf;
    r->buffer_address = (uint64_t)(uintptr_t)pbFilterBuf;
    null_if(1, pbFilterBuf);
    null_if(3, cbFilterBufNeeded);
    if (!cbFilterBufNeeded) return ERROR_MORE_DATA; /* documented */
    *cbFilterBufNeeded = (DWORD)needed;
    if (!pbFilterBuf || cbFilterBuf < needed) return ERROR_MORE_DATA;
    memset(pbFilterBuf, 0, needed);
    RM_FILTER_INFO *file = (RM_FILTER_INFO *)pbFilterBuf;
    WCHAR *text = (WCHAR *)(pbFilterBuf + sizeof(RM_FILTER_INFO));
    memcpy(text, filter_file, sizeof filter_file);
    file->FilterAction = 1;  /* RmNoRestart */
    file->FilterTrigger = 1; /* RmFilterTriggerFile */
    file->cbNextOffset = (DWORD)first;
    file->u.strFilename = text;
    RM_FILTER_INFO *process = (RM_FILTER_INFO *)(pbFilterBuf + first);
    process->FilterAction = 2;  /* RmNoShutdown */
    process->FilterTrigger = 2; /* RmFilterTriggerProcess */
    process->cbNextOffset = 0;
    process->u.Process.dwProcessId = 3333;
    process->u.Process.ProcessStartTime.dwLowDateTime = 0x11223344u;
    process->u.Process.ProcessStartTime.dwHighDateTime = 0x01DB0000u;
    return ERROR_SUCCESS;
}

/* ============================================================================================
 * Mode 1: a small faithful Restart Manager, with the Simulator's codes and argument checks.
 *
 * A session table shared by up to F_PROCS "processes" (StandinSetProcess says which one the
 * next calls come from: two RstrtmgrDLL objects on this one library stand for two processes);
 * handles count up from 0 per process and are never reused; keys are 32 lower-case hex digits
 * and RmJoinSession validates them (1219); RmGetList lists the apps StandinSetApps declared
 * that hold a registered file (or are registered by process or service), plus those the
 * session stopped or restarted; RmShutdown stops them in the documented order (GUI, console,
 * services, Explorer) reporting strictly increasing percentages up to 100; RmRestart brings
 * the restartable ones back as new processes; filters mask them. The caller runs in terminal
 * services session 1. No critical apps, no cancellation, no mutex.
 * ========================================================================================== */
enum { ERROR_FILE_NOT_FOUND = 2, ERROR_OUTOFMEMORY = 14, ERROR_FAIL_NOACTION_REBOOT = 350,
       ERROR_FAIL_SHUTDOWN = 351, ERROR_MAX_SESSIONS_REACHED = 353,
       ERROR_REQUEST_OUT_OF_SEQUENCE = 776, ERROR_SESSION_CREDENTIAL_CONFLICT = 1219 };
enum { F_PROCS = 4, F_HANDLES = 256, F_SESSIONS = 64, F_APPS = 8, F_NAMES = 8, F_PATH = 260,
       F_FILTERS = 8, F_CALLER_TS = 1 };
enum { APP_UNKNOWN = 0, APP_SERVICE = 3, APP_EXPLORER = 4, APP_CONSOLE = 5 };
enum { ST_RUNNING = 0x1, ST_STOPPED = 0x2, ST_RESTARTED = 0x8, ST_ERROR_ON_STOP = 0x10,
       ST_HISTORY = 0x3A, ST_SHUTDOWN_MASKED = 0x40, ST_RESTART_MASKED = 0x80 };
enum { FORCE_SHUTDOWN = 0x1, SHUTDOWN_ONLY_REGISTERED = 0x10, REASON_SESSION_MISMATCH = 0x2 };
enum { TRIGGER_FILE = 1, TRIGGER_PROCESS = 2, TRIGGER_SERVICE = 3 };

/* One app of StandinSetApps. Mirrored by tests/test_replay.py. */
typedef struct {
    DWORD pid, start_low, start_high;
    int32_t type; /* RM_APP_TYPE */
    DWORD ts_session;
    BOOL restartable;
    WCHAR name[64];
    WCHAR service[64]; /* empty: a process */
    WCHAR image[128];  /* its executable's full path (what a file filter names) */
    WCHAR files[256];  /* the files it holds: full paths joined by '|' */
} StandinApp;

typedef struct { StandinApp decl; int running; } FApp;
typedef struct { int32_t action, trigger; WCHAR text[F_PATH]; RM_UNIQUE_PROCESS process; } FFilter;
typedef struct {
    int live;
    uint32_t serial; /* never reused: a handle names the session by it */
    WCHAR key[33];
    UINT nfiles, nprocs, nservices;
    WCHAR files[F_NAMES][F_PATH];
    RM_UNIQUE_PROCESS procs[F_NAMES];
    WCHAR services[F_NAMES][64];
    ULONG history[F_APPS];              /* ST_HISTORY bits, per app */
    int seen[F_APPS], nseen;            /* the apps listed so far, first-listed first */
    int using_now[F_APPS];              /* found by the last computation (not history) */
    int to_restart[F_APPS], nrestart;   /* stopped by RmShutdown, not back yet; stop order */
    int shut_down;                      /* an RmShutdown reached it: RmRestart is in sequence */
    FFilter filters[F_FILTERS];
    UINT nfilters;
} FSession;
typedef struct { int used, primary; uint32_t serial; } FHandle;
typedef struct { uint32_t next; FHandle handles[F_HANDLES]; } FProc;

static FApp f_apps[F_APPS];
static int f_napps;
static FSession f_sessions[F_SESSIONS];
static FProc f_procs[F_PROCS];
static uint32_t f_proc, f_serial;

RM_EXPORT void StandinSetMode(int mode) {
    standin_mode = mode;
    memset(f_sessions, 0, sizeof f_sessions);
    memset(f_procs, 0, sizeof f_procs);
    memset(f_apps, 0, sizeof f_apps);
    f_napps = 0;
    f_proc = f_serial = 0;
}

RM_EXPORT void StandinSetProcess(uint32_t process) { f_proc = process % F_PROCS; }

RM_EXPORT void StandinSetApps(UINT count, const StandinApp *apps) {
    f_napps = count < F_APPS ? (int)count : F_APPS;
    for (int i = 0; i < f_napps; i++) {
        f_apps[i].decl = apps[i];
        f_apps[i].running = 1;
    }
}

RM_EXPORT uint32_t StandinAppSize(void) { return (uint32_t)sizeof(StandinApp); }

/* -- text: UTF-16, compared as Windows compares paths and service names (ASCII case) -- */
static WCHAR f_lower(WCHAR c) { return c >= u'A' && c <= u'Z' ? (WCHAR)(c + 32) : c; }

static int f_same_n(const WCHAR *a, const WCHAR *b, size_t n) { /* b has n units, no NUL */
    for (size_t i = 0; i < n; i++)
        if (!a[i] || f_lower(a[i]) != f_lower(b[i])) return 0;
    return a[n] == 0;
}

static size_t f_len(const WCHAR *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

static int f_same(const WCHAR *a, const WCHAR *b) { return f_same_n(a, b, f_len(b)); }

static void f_copy(WCHAR *dst, size_t cap, const WCHAR *src) {
    size_t i = 0;
    for (; src[i] && i < cap - 1; i++) dst[i] = src[i];
    dst[i] = 0;
}

/* -- handles and sessions -- */
static FSession *f_session(uint32_t serial) {
    for (int i = 0; i < F_SESSIONS; i++)
        if (f_sessions[i].live && f_sessions[i].serial == serial) return &f_sessions[i];
    return NULL;
}

static FHandle *f_handle(DWORD value) {
    FHandle *h = value < F_HANDLES ? &f_procs[f_proc].handles[value] : NULL;
    return h && h->used ? h : NULL;
}

static DWORD f_open(DWORD *out, uint32_t serial, int primary) {
    FProc *p = &f_procs[f_proc];
    if (p->next >= F_HANDLES) return ERROR_OUTOFMEMORY;
    p->handles[p->next] = (FHandle){1, primary, serial};
    *out = p->next++;
    return ERROR_SUCCESS;
}

/* The session of a primary's handle (6: no such handle; 1219: a secondary's). */
static DWORD f_primary(DWORD value, FSession **out) {
    FHandle *h = f_handle(value);
    if (!h) return ERROR_INVALID_HANDLE;
    if (!h->primary) return ERROR_SESSION_CREDENTIAL_CONFLICT;
    *out = f_session(h->serial);
    return *out ? ERROR_SUCCESS : ERROR_INVALID_HANDLE;
}

static uint64_t f_mix(uint64_t x) { /* splitmix64 */
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static DWORD f_RmStartSession(DWORD *pSessionHandle, DWORD dwSessionFlags,
                              WCHAR strSessionKey[]) {
    static const char hex[] = "0123456789abcdef";
    if (!pSessionHandle || !strSessionKey || dwSessionFlags) return ERROR_BAD_ARGUMENTS;
    FSession *s = NULL;
    for (int i = 0; i < F_SESSIONS && !s; i++)
        if (!f_sessions[i].live) s = &f_sessions[i];
    if (!s) return ERROR_MAX_SESSIONS_REACHED;
    memset(s, 0, sizeof *s);
    s->live = 1;
    s->serial = ++f_serial;
    for (int i = 0; i < 32; i++)
        s->key[i] = (WCHAR)hex[(f_mix(s->serial * 2 + (uint64_t)(i / 16)) >> (4 * (i % 16))) & 15];
    DWORD code = f_open(pSessionHandle, s->serial, 1);
    if (code) {
        s->live = 0;
        return code;
    }
    memcpy(strSessionKey, s->key, sizeof s->key);
    return ERROR_SUCCESS;
}

static DWORD f_RmJoinSession(DWORD *pSessionHandle, const WCHAR strSessionKey[]) {
    if (!pSessionHandle || !strSessionKey) return ERROR_BAD_ARGUMENTS;
    for (int i = 0; i < F_SESSIONS; i++)
        if (f_sessions[i].live && f_same(strSessionKey, f_sessions[i].key))
            return f_open(pSessionHandle, f_sessions[i].serial, 0);
    return ERROR_SESSION_CREDENTIAL_CONFLICT; /* malformed or unknown: cannot be validated */
}

static DWORD f_RmEndSession(DWORD dwSessionHandle) {
    FHandle *h = f_handle(dwSessionHandle);
    if (!h) return ERROR_INVALID_HANDLE;
    FSession *s = f_session(h->serial);
    h->used = 0;
    if (!s) return ERROR_INVALID_HANDLE; /* a secondary's, after the primary ended */
    if (h->primary) s->live = 0;
    return ERROR_SUCCESS;
}

static int f_names_ok(UINT count, const WCHAR *names[]) {
    if (count && !names) return 0;
    for (UINT i = 0; i < count; i++)
        if (!names[i] || !names[i][0]) return 0;
    return 1;
}

static DWORD f_RmRegisterResources(DWORD dwSessionHandle, UINT nFiles, const WCHAR *rgsFileNames[],
                                   UINT nApplications, RM_UNIQUE_PROCESS rgApplications[],
                                   UINT nServices, const WCHAR *rgsServiceNames[]) {
    if (!f_names_ok(nFiles, rgsFileNames) || (nApplications && !rgApplications) ||
        !f_names_ok(nServices, rgsServiceNames))
        return ERROR_BAD_ARGUMENTS; /* arguments before the handle */
    FHandle *h = f_handle(dwSessionHandle);
    FSession *s = h ? f_session(h->serial) : NULL;
    if (!s) return ERROR_INVALID_HANDLE;
    for (UINT i = 0; i < nFiles && s->nfiles < F_NAMES; i++)
        f_copy(s->files[s->nfiles++], F_PATH, rgsFileNames[i]);
    for (UINT i = 0; i < nApplications && s->nprocs < F_NAMES; i++)
        s->procs[s->nprocs++] = rgApplications[i];
    for (UINT i = 0; i < nServices && s->nservices < F_NAMES; i++)
        f_copy(s->services[s->nservices++], 64, rgsServiceNames[i]);
    return ERROR_SUCCESS;
}

/* -- the affected apps -- */
static int f_is_service(const FApp *a) { return a->decl.service[0] != 0; }

static int f_same_process(const RM_UNIQUE_PROCESS *p, const FApp *a) {
    return p->dwProcessId == a->decl.pid &&
           p->ProcessStartTime.dwLowDateTime == a->decl.start_low &&
           p->ProcessStartTime.dwHighDateTime == a->decl.start_high;
}

static int f_holds(const FApp *a, const FSession *s) {
    const WCHAR *file = a->decl.files;
    while (a->running && *file) {
        size_t n = 0;
        while (file[n] && file[n] != u'|') n++;
        for (UINT i = 0; i < s->nfiles; i++)
            if (f_same_n(s->files[i], file, n)) return 1;
        file += file[n] ? n + 1 : n;
    }
    return 0;
}

/* The mask bits of the latest filter that matches the app. */
static ULONG f_mask(const FSession *s, const FApp *a) {
    int32_t action = 0;
    for (UINT i = 0; i < s->nfilters; i++) {
        const FFilter *f = &s->filters[i];
        int match = f->trigger == TRIGGER_PROCESS ? f_same_process(&f->process, a)
                    : f->trigger == TRIGGER_SERVICE
                        ? f_is_service(a) && f_same(f->text, a->decl.service)
                        : f_same(f->text, a->decl.image);
        if (match) action = f->action;
    }
    return action == 2 ? ST_SHUTDOWN_MASKED | ST_RESTART_MASKED : action == 1 ? ST_RESTART_MASKED : 0;
}

static void f_add(int *list, int *n, int app) {
    for (int i = 0; i < *n; i++)
        if (list[i] == app) return;
    list[(*n)++] = app;
}

/* Who uses the session's resources now, then the apps it stopped or restarted. */
static int f_compute(FSession *s, int list[F_APPS]) {
    int n = 0;
    for (int i = 0; i < f_napps; i++)
        if (f_holds(&f_apps[i], s)) f_add(list, &n, i);
    for (UINT p = 0; p < s->nprocs; p++)
        for (int i = 0; i < f_napps; i++)
            if (f_apps[i].running && f_same_process(&s->procs[p], &f_apps[i])) f_add(list, &n, i);
    for (UINT p = 0; p < s->nservices; p++)
        for (int i = 0; i < f_napps; i++)
            if (f_apps[i].running && f_is_service(&f_apps[i]) &&
                f_same(s->services[p], f_apps[i].decl.service))
                f_add(list, &n, i);
    memset(s->using_now, 0, sizeof s->using_now);
    for (int i = 0; i < n; i++) s->using_now[list[i]] = 1;
    for (int i = 0; i < s->nseen; i++)
        if (s->history[s->seen[i]] & ST_HISTORY) f_add(list, &n, s->seen[i]);
    for (int i = 0; i < n; i++) f_add(s->seen, &s->nseen, list[i]);
    return n;
}

static int f_restartable(const FApp *a) { return f_is_service(a) || a->decl.restartable; }

static DWORD f_reasons(const FApp *a) {
    return !f_is_service(a) && a->decl.ts_session != F_CALLER_TS ? REASON_SESSION_MISMATCH : 0;
}

static DWORD f_RmGetList(DWORD dwSessionHandle, UINT *pnProcInfoNeeded, UINT *pnProcInfo,
                         RM_PROCESS_INFO rgAffectedApps[], DWORD *lpdwRebootReasons) {
    FSession *s;
    int list[F_APPS];
    if (!pnProcInfoNeeded || !pnProcInfo || !lpdwRebootReasons) return ERROR_BAD_ARGUMENTS;
    UINT capacity = *pnProcInfo;
    if (capacity && !rgAffectedApps) return ERROR_BAD_ARGUMENTS;
    DWORD code = f_primary(dwSessionHandle, &s);
    if (code) return code;
    int n = f_compute(s, list);
    DWORD reasons = 0;
    for (int i = 0; i < n; i++) reasons |= f_reasons(&f_apps[list[i]]);
    *pnProcInfoNeeded = (UINT)n;
    *lpdwRebootReasons = reasons;
    if ((UINT)n > capacity) {
        *pnProcInfo = 0;
        return ERROR_MORE_DATA;
    }
    for (int i = 0; i < n; i++) {
        const FApp *a = &f_apps[list[i]];
        ULONG status = (s->history[list[i]] & ST_HISTORY) | (a->running ? ST_RUNNING : 0);
        fill_app(&rgAffectedApps[i], a->decl.pid, a->decl.start_low, a->decl.start_high,
                 a->decl.name, a->decl.service, a->decl.type, status | f_mask(s, a),
                 f_is_service(a) ? 0xFFFFFFFFu : a->decl.ts_session, f_restartable(a));
    }
    *pnProcInfo = (UINT)n;
    return ERROR_SUCCESS;
}

/* Strictly increasing percentages, ending at 100. */
typedef struct { RM_WRITE_STATUS_CALLBACK fn; int last; } FProgress;

static void f_progress(FProgress *p, int done, int total) {
    int percent = total ? done * 100 / total : 100;
    if (p->fn && percent > p->last) {
        p->last = percent;
        p->fn((UINT)percent);
    }
}

static int f_rank(int32_t type) {
    return type == APP_CONSOLE ? 1 : type == APP_SERVICE ? 2 : type == APP_EXPLORER ? 3 : 0;
}

static DWORD f_RmShutdown(DWORD dwSessionHandle, ULONG lActionFlags,
                          RM_WRITE_STATUS_CALLBACK fnStatus) {
    FSession *s;
    int list[F_APPS], targets[F_APPS], ntargets = 0, failed = 0;
    if (lActionFlags & ~(ULONG)(FORCE_SHUTDOWN | SHUTDOWN_ONLY_REGISTERED)) return ERROR_BAD_ARGUMENTS;
    DWORD code = f_primary(dwSessionHandle, &s);
    if (code) return code;
    s->shut_down = 1;
    int n = f_compute(s, list);
    for (int i = 0; i < n; i++)
        if (f_reasons(&f_apps[list[i]])) return ERROR_FAIL_NOACTION_REBOOT;
    for (int i = 0; i < n; i++)
        if (s->using_now[list[i]] && !(f_mask(s, &f_apps[list[i]]) & ST_SHUTDOWN_MASKED))
            targets[ntargets++] = list[i];
    for (int i = 0; i < ntargets; i++)
        if ((lActionFlags & SHUTDOWN_ONLY_REGISTERED) && !f_restartable(&f_apps[targets[i]]))
            return ERROR_FAIL_SHUTDOWN;
    for (int i = 1; i < ntargets; i++) /* stable insertion sort by rank */
        for (int j = i; j > 0 && f_rank(f_apps[targets[j - 1]].decl.type) >
                                      f_rank(f_apps[targets[j]].decl.type); j--) {
            int t = targets[j];
            targets[j] = targets[j - 1];
            targets[j - 1] = t;
        }
    FProgress progress = {fnStatus, -1};
    for (int i = 0; i < ntargets; i++) {
        int app = targets[i];
        if (f_apps[app].decl.type != APP_UNKNOWN || (lActionFlags & FORCE_SHUTDOWN)) {
            f_apps[app].running = 0;
            f_apps[app].decl.files[0] = 0; /* a stopped process holds nothing */
            s->history[app] |= ST_STOPPED;
            int k = 0;
            for (int j = 0; j < s->nrestart; j++)
                if (s->to_restart[j] != app) s->to_restart[k++] = s->to_restart[j];
            s->to_restart[k++] = app;
            s->nrestart = k;
        } else {
            s->history[app] |= ST_ERROR_ON_STOP;
            failed = 1;
        }
        f_progress(&progress, i + 1, ntargets);
    }
    f_progress(&progress, ntargets, ntargets);
    return failed ? ERROR_FAIL_SHUTDOWN : ERROR_SUCCESS;
}

static DWORD f_RmRestart(DWORD dwSessionHandle, DWORD dwRestartFlags,
                         RM_WRITE_STATUS_CALLBACK fnStatus) {
    FSession *s;
    int due[F_APPS], ndue = 0;
    if (dwRestartFlags) return ERROR_BAD_ARGUMENTS;
    DWORD code = f_primary(dwSessionHandle, &s);
    if (code) return code;
    if (!s->shut_down) return ERROR_REQUEST_OUT_OF_SEQUENCE;
    for (int j = s->nrestart - 1; j >= 0; j--) {
        int app = s->to_restart[j];
        if (f_restartable(&f_apps[app]) && !(f_mask(s, &f_apps[app]) & ST_RESTART_MASKED))
            due[ndue++] = app;
    }
    FProgress progress = {fnStatus, -1};
    for (int i = 0; i < ndue; i++) {
        FApp *a = &f_apps[due[i]];
        a->decl.pid += 4000; /* a new process: a new PID and start time */
        a->decl.start_low += 1;
        a->running = 1;
        s->history[due[i]] |= ST_RESTARTED;
        int k = 0;
        for (int j = 0; j < s->nrestart; j++)
            if (s->to_restart[j] != due[i]) s->to_restart[k++] = s->to_restart[j];
        s->nrestart = k;
        f_progress(&progress, i + 1, ndue);
    }
    f_progress(&progress, ndue, ndue);
    return ERROR_SUCCESS;
}

static DWORD f_RmCancelCurrentTask(DWORD dwSessionHandle) {
    FSession *s;
    return f_primary(dwSessionHandle, &s); /* no task is ever running: 0 */
}

/* -- filters -- */
static DWORD f_target(const WCHAR *module, RM_UNIQUE_PROCESS *process, const WCHAR *service,
                      FFilter *out) {
    int given = (module && module[0]) + (process != NULL) + (service && service[0]);
    if (given != 1) return ERROR_BAD_ARGUMENTS;
    memset(out, 0, sizeof *out);
    out->trigger = process ? TRIGGER_PROCESS : module && module[0] ? TRIGGER_FILE : TRIGGER_SERVICE;
    if (process) out->process = *process;
    else f_copy(out->text, F_PATH, module && module[0] ? module : service);
    return ERROR_SUCCESS;
}

static int f_remove(FSession *s, const FFilter *target) {
    for (UINT i = 0; i < s->nfilters; i++) {
        const FFilter *f = &s->filters[i];
        int same = f->trigger == target->trigger &&
                   (f->trigger == TRIGGER_PROCESS
                        ? !memcmp(&f->process, &target->process, sizeof f->process)
                        : f_same(f->text, target->text));
        if (same) {
            memmove(&s->filters[i], &s->filters[i + 1], (s->nfilters - i - 1) * sizeof *f);
            s->nfilters--;
            return 1;
        }
    }
    return 0;
}

static DWORD f_RmAddFilter(DWORD dwSessionHandle, const WCHAR *strModuleName,
                           RM_UNIQUE_PROCESS *pProcess, const WCHAR *strServiceShortName,
                           int32_t FilterAction) {
    FSession *s;
    FFilter target;
    DWORD code = f_target(strModuleName, pProcess, strServiceShortName, &target);
    if (code) return code;
    if (FilterAction != 1 && FilterAction != 2) return ERROR_BAD_ARGUMENTS;
    if ((code = f_primary(dwSessionHandle, &s))) return code;
    f_remove(s, &target); /* a later filter on the same target replaces it, at the end */
    if (s->nfilters == F_FILTERS) return ERROR_OUTOFMEMORY;
    target.action = FilterAction;
    s->filters[s->nfilters++] = target;
    return ERROR_SUCCESS;
}

static DWORD f_RmRemoveFilter(DWORD dwSessionHandle, const WCHAR *strModuleName,
                              RM_UNIQUE_PROCESS *pProcess, const WCHAR *strServiceShortName) {
    FSession *s;
    FFilter target;
    DWORD code = f_target(strModuleName, pProcess, strServiceShortName, &target);
    if (code || (code = f_primary(dwSessionHandle, &s))) return code;
    return f_remove(s, &target) ? ERROR_SUCCESS : ERROR_FILE_NOT_FOUND;
}

static size_t f_record_size(const FFilter *f) {
    size_t text = f->trigger == TRIGGER_PROCESS ? 0 : 2 * (f_len(f->text) + 1);
    return aligned(sizeof(RM_FILTER_INFO) + text);
}

/* Each record followed by its string, padded to pointer alignment (rmcore's layout). */
static DWORD f_RmGetFilterList(DWORD dwSessionHandle, BYTE *pbFilterBuf, DWORD cbFilterBuf,
                               DWORD *cbFilterBufNeeded) {
    FSession *s;
    DWORD code = f_primary(dwSessionHandle, &s);
    if (code) return code;
    if (!cbFilterBufNeeded) return ERROR_MORE_DATA;
    size_t needed = 0;
    for (UINT i = 0; i < s->nfilters; i++) needed += f_record_size(&s->filters[i]);
    *cbFilterBufNeeded = (DWORD)needed;
    if (!needed) return ERROR_SUCCESS;
    if (!pbFilterBuf || cbFilterBuf < needed) return ERROR_MORE_DATA;
    memset(pbFilterBuf, 0, needed);
    size_t at = 0;
    for (UINT i = 0; i < s->nfilters; i++) {
        const FFilter *f = &s->filters[i];
        size_t size = f_record_size(f);
        RM_FILTER_INFO *record = (RM_FILTER_INFO *)(pbFilterBuf + at);
        record->FilterAction = f->action;
        record->FilterTrigger = f->trigger;
        record->cbNextOffset = i + 1 < s->nfilters ? (DWORD)size : 0;
        if (f->trigger == TRIGGER_PROCESS) {
            record->u.Process = f->process;
        } else {
            WCHAR *text = (WCHAR *)(pbFilterBuf + at + sizeof(RM_FILTER_INFO));
            memcpy(text, f->text, 2 * (f_len(f->text) + 1));
            record->u.strFilename = text;
        }
        at += size;
    }
    return ERROR_SUCCESS;
}
