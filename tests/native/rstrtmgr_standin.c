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

RM_EXPORT DWORD WINAPI RmStartSession(DWORD *pSessionHandle, DWORD dwSessionFlags,
                                      WCHAR strSessionKey[]) {
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
    begin("RmEndSession");
    standin_record.handle = dwSessionHandle;
    return known_handle(dwSessionHandle);
}

RM_EXPORT DWORD WINAPI RmRegisterResources(DWORD dwSessionHandle, UINT nFiles,
                                           const WCHAR *rgsFileNames[], UINT nApplications,
                                           RM_UNIQUE_PROCESS rgApplications[], UINT nServices,
                                           const WCHAR *rgsServiceNames[]) {
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
    begin("RmShutdown");
    standin_record.handle = dwSessionHandle;
    standin_record.flags = lActionFlags;
    report(fnStatus);
    return ERROR_SUCCESS;
}

RM_EXPORT DWORD WINAPI RmRestart(DWORD dwSessionHandle, DWORD dwRestartFlags,
                                 RM_WRITE_STATUS_CALLBACK fnStatus) {
    begin("RmRestart");
    standin_record.handle = dwSessionHandle;
    standin_record.flags = dwRestartFlags;
    report(fnStatus);
    return ERROR_SUCCESS;
}

RM_EXPORT DWORD WINAPI RmCancelCurrentTask(DWORD dwSessionHandle) {
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
    begin("RmAddFilter");
    record_filter(dwSessionHandle, strModuleName, pProcess, strServiceShortName);
    standin_record.filter_action = FilterAction;
    return ERROR_SUCCESS;
}

RM_EXPORT DWORD WINAPI RmRemoveFilter(DWORD dwSessionHandle, const WCHAR *strModuleName,
                                      RM_UNIQUE_PROCESS *pProcess,
                                      const WCHAR *strServiceShortName) {
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
