"""The real rstrtmgr.dll through ctypes, with the :class:`~rmcore.Simulator`'s interface.

:class:`RstrtmgrDLL` has the eleven exports as methods, with the Simulator's names and
parameters, and returns the DLL's DWORD result as an ``int``. The foreign functions are declared
with the exact Windows types of restartmanager.h (spec §1, §2), and the methods accept what
ctypes callers pass the Simulator: ``str`` or ``create_unicode_buffer`` for strings (``c_wchar``
is 32-bit off Windows, the DLL's ``WCHAR`` 16-bit), ``byref``/``pointer``/instances of any
ctypes integer for ``DWORD *`` (``c_ulong`` is 64-bit on LP64 hosts), caller-defined struct
mirrors, Python callables for the status callback. Whatever is not already in the Windows
layout is marshalled into exact-width temporaries and copied back after the call.

An argument that cannot be expressed as the C type returns ERROR_BAD_ARGUMENTS (160) without
calling the DLL, as the Simulator does; so does a buffer smaller than the DLL will write (the
real DLL would write past its end). NULL pointers go through as NULL: the DLL decides.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from .. import winerror
from ._args import (
    BadArgument,
    array_items,
    byte_buffer,
    dword_ref,
    dword_value,
    is_null,
    read_processes,
    read_wstr,
    status_callback,
    struct_array,
    unwrap,
    wstr_buffer,
)
from ._types import (
    CCH_RM_SESSION_KEY,
    DWORD,
    RM_PROCESS_INFO,
    RM_UNIQUE_PROCESS,
    RM_WRITE_STATUS_CALLBACK,
    UINT,
    ULONG,
    WCHAR,
    read_unique_process,
    write_process_info,
    write_unique_process,
    wstr_get,
)

__all__ = ["DEFAULT_DLL_NAME", "SIGNATURES", "BackendUnavailable", "RstrtmgrDLL"]

DEFAULT_DLL_NAME = "rstrtmgr.dll"

_LPWSTR = ctypes.POINTER(WCHAR)
_ENUM = ctypes.c_int32  # RM_FILTER_ACTION: C enums are int-sized (spec §2.5)
_MASK32 = 0xFFFFFFFF
_UTF16 = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"
_KEY_UNITS = CCH_RM_SESSION_KEY + 1  # the DLL writes 32 characters and a NUL

# restartmanager.h, spec §1: every function is ``DWORD WINAPI`` (restype, argtypes).
SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "RmStartSession": (DWORD, [ctypes.POINTER(DWORD), DWORD, _LPWSTR]),
    "RmJoinSession": (DWORD, [ctypes.POINTER(DWORD), _LPWSTR]),
    "RmEndSession": (DWORD, [DWORD]),
    "RmRegisterResources": (
        DWORD,
        [
            DWORD,
            UINT,
            ctypes.POINTER(_LPWSTR),
            UINT,
            ctypes.POINTER(RM_UNIQUE_PROCESS),
            UINT,
            ctypes.POINTER(_LPWSTR),
        ],
    ),
    "RmGetList": (
        DWORD,
        [
            DWORD,
            ctypes.POINTER(UINT),
            ctypes.POINTER(UINT),
            ctypes.POINTER(RM_PROCESS_INFO),
            ctypes.POINTER(DWORD),
        ],
    ),
    "RmShutdown": (DWORD, [DWORD, ULONG, RM_WRITE_STATUS_CALLBACK]),
    "RmRestart": (DWORD, [DWORD, DWORD, RM_WRITE_STATUS_CALLBACK]),
    "RmCancelCurrentTask": (DWORD, [DWORD]),
    "RmAddFilter": (
        DWORD,
        [DWORD, _LPWSTR, ctypes.POINTER(RM_UNIQUE_PROCESS), _LPWSTR, _ENUM],
    ),
    "RmRemoveFilter": (DWORD, [DWORD, _LPWSTR, ctypes.POINTER(RM_UNIQUE_PROCESS), _LPWSTR]),
    "RmGetFilterList": (
        DWORD,
        [DWORD, ctypes.POINTER(ctypes.c_ubyte), DWORD, ctypes.POINTER(DWORD)],
    ),
}


class BackendUnavailable(RuntimeError):
    """The requested backend cannot be used on this host (e.g. the real DLL off Windows)."""


_P = ParamSpec("_P")
_Self = TypeVar("_Self", bound="RstrtmgrDLL")


def _entry_point(
    method: Callable[Concatenate[_Self, _P], int],
) -> Callable[Concatenate[_Self, _P], int]:
    """An argument that cannot be marshalled is ERROR_BAD_ARGUMENTS, as in the Simulator."""

    def call(self: _Self, /, *args: _P.args, **kwargs: _P.kwargs) -> int:
        try:
            return method(self, *args, **kwargs)
        except BadArgument:
            return winerror.ERROR_BAD_ARGUMENTS

    functools.update_wrapper(call, method)
    return call


# --- Marshalling helpers ---------------------------------------------------------------------
class _DwordOut:
    """A ``DWORD *`` argument: an exact 32-bit temporary, copied back if the DLL changed it."""

    def __init__(self, param: object) -> None:
        self._target = None if is_null(param) else dword_ref(param)
        self._initial = 0 if self._target is None else self._target.value & _MASK32
        self.temp = DWORD(self._initial)

    def arg(self) -> Any:
        return None if self._target is None else ctypes.byref(self.temp)

    def copy_back(self) -> None:
        if self._target is not None and self.temp.value != self._initial:
            self._target.value = self.temp.value


def _units(text: str) -> ctypes.Array[ctypes.c_uint16]:
    """``text`` as a NUL-terminated array of UTF-16 code units (surrogates pass through)."""
    encoded = text.encode(_UTF16, "surrogatepass") + b"\0\0"
    array = (WCHAR * (len(encoded) // 2))()
    ctypes.memmove(array, encoded, len(encoded))
    return array


def _is_wchar16_array(obj: object) -> bool:
    element = getattr(type(obj), "_type_", None)
    return isinstance(obj, ctypes.Array) and (
        element in (ctypes.c_uint16, ctypes.c_int16)
        or (element is ctypes.c_wchar and ctypes.sizeof(ctypes.c_wchar) == 2)
    )


def _lpcwstr(param: object, keep: list[object]) -> Any:
    """An ``LPCWSTR`` argument as a ``WCHAR *`` (``None`` for NULL); *keep* holds the buffer."""
    if is_null(param):
        return None
    target = unwrap(param)
    if isinstance(target, ctypes._Pointer) and target._type_ in (WCHAR, ctypes.c_int16):
        return ctypes.cast(target, _LPWSTR)
    text = read_wstr(param)
    if text is None:
        return None
    array = _units(text)
    keep.append(array)
    return ctypes.cast(array, _LPWSTR)


def _lpcwstr_array(param: object, count: int, keep: list[object]) -> Any:
    """An ``LPCWSTR[]`` argument as a ``WCHAR **`` (NULL entries stay NULL)."""
    if is_null(param):
        return None
    target = unwrap(param)
    if isinstance(target, ctypes.Array) and target._type_ is _LPWSTR and len(target) >= count:
        return target  # already an array of WCHAR pointers
    pointers = (_LPWSTR * max(count, 1))()
    for index, item in enumerate(array_items(param, count)):
        pointers[index] = _lpcwstr(item, keep)
    keep.append(pointers)
    return pointers


def _unique_processes(param: object, count: int, keep: list[object]) -> Any:
    """An ``RM_UNIQUE_PROCESS *``/``[]`` argument; rmcore's own structs go straight through."""
    if is_null(param):
        return None
    target = unwrap(param)
    if isinstance(target, RM_UNIQUE_PROCESS) and count <= 1:
        return ctypes.byref(target)
    if isinstance(target, ctypes.Array) and target._type_ is RM_UNIQUE_PROCESS:
        if len(target) < count:
            raise BadArgument(f"array of {len(target)} for a count of {count}")
        return target
    if isinstance(target, ctypes._Pointer) and target._type_ is RM_UNIQUE_PROCESS:
        return target
    pairs = read_processes(param, count)
    array = (RM_UNIQUE_PROCESS * max(count, 1))()
    for index, (pid, start_time) in enumerate(pairs):
        write_unique_process(array[index], pid, start_time)
    keep.append(array)
    return array


def _own_process_infos(target: object, capacity: int) -> bool:
    """Whether *target* is rmcore's RM_PROCESS_INFO array with room for *capacity* rows, or a
    pointer to them (whose room the caller vouches for, as with the DLL)."""
    if isinstance(target, ctypes.Array):
        return target._type_ is RM_PROCESS_INFO and capacity <= len(target)
    return isinstance(target, ctypes._Pointer) and target._type_ is RM_PROCESS_INFO


def _as_callback(param: object, errors: list[BaseException]) -> Any:
    """An RM_WRITE_STATUS_CALLBACK for *param*: NULL, the caller's own, or a cdecl thunk.

    An exception in a Python callback cannot cross the DLL: the thunk records the first one,
    stops forwarding, and the method re-raises it once the DLL has returned.
    """
    function = None if is_null(param) else status_callback(param)
    if function is None:
        return RM_WRITE_STATUS_CALLBACK()  # ctypes refuses None for a function-pointer type
    if isinstance(function, RM_WRITE_STATUS_CALLBACK):
        return function

    def thunk(percent: int) -> None:
        if errors:
            return
        try:
            function(percent)
        except BaseException as exc:
            errors.append(exc)

    return RM_WRITE_STATUS_CALLBACK(thunk)


def _copy_units(target: ctypes.Array[Any], source: ctypes.Array[ctypes.c_uint16]) -> None:
    """Store *source*'s units up to and including its first NUL into a caller's buffer of
    16-bit units (copied as they are) or 32-bit ``c_wchar`` (decoded); it holds them all."""
    units = list(source)
    end = units.index(0) + 1 if 0 in units else len(units)
    if _is_wchar16_array(target):
        ctypes.memmove(target, source, 2 * end)
        return
    raw = b"".join(unit.to_bytes(2, sys.byteorder) for unit in units[:end] if unit)
    text = raw.decode(_UTF16, "surrogatepass")
    for index, char in enumerate(text + "\0" if len(text) < len(target) else text):
        target[index] = char


def _copy_process_info(target: ctypes.Structure, source: RM_PROCESS_INFO) -> None:
    """One RM_PROCESS_INFO into a caller's struct of any layout, field by field."""
    pid, start_time = read_unique_process(source.Process)
    write_process_info(
        target,
        pid=pid,
        start_time=start_time,
        app_name=wstr_get(source.strAppName),
        service_short_name=wstr_get(source.strServiceShortName),
        app_type=source.ApplicationType,
        app_status=source.AppStatus,
        ts_session_id=source.TSSessionId,
        restartable=bool(source.bRestartable),
    )


# --- The backend -----------------------------------------------------------------------------
class RstrtmgrDLL:
    """rstrtmgr.dll through ctypes, called like a :class:`~rmcore.Simulator`.

    On Windows it loads ``path`` or ``rstrtmgr.dll`` with ``ctypes.WinDLL`` (WINAPI). Elsewhere
    the real DLL does not exist: without *path* it raises :class:`BackendUnavailable`; with
    one, it loads that library with ``ctypes.CDLL`` (a stand-in; x64 has one convention).
    """

    def __init__(self, path: str | None = None) -> None:
        name = path if path is not None else DEFAULT_DLL_NAME
        try:
            if sys.platform == "win32":
                self.lib: ctypes.CDLL = ctypes.WinDLL(name)
            elif path is None:
                raise BackendUnavailable(
                    "the real rstrtmgr.dll exists only on Windows; use the simulator "
                    "(rmcore.Simulator, or RMCORE_BACKEND=simulator)"
                )
            else:
                self.lib = ctypes.CDLL(path)
        except OSError as exc:
            raise BackendUnavailable(f"cannot load {name}: {exc}") from exc
        self.path = name
        for function, (restype, argtypes) in SIGNATURES.items():
            try:
                foreign = getattr(self.lib, function)
            except AttributeError as exc:
                raise BackendUnavailable(f"{name} does not export {function}") from exc
            foreign.restype = restype
            foreign.argtypes = argtypes

    def __repr__(self) -> str:
        return f"<rmcore.RstrtmgrDLL {self.path!r}>"

    def _call(self, function: str, *args: object) -> int:
        return int(getattr(self.lib, function)(*args))

    @_entry_point
    def RmStartSession(
        self, pSessionHandle: object, dwSessionFlags: object, strSessionKey: object
    ) -> int:
        """Start a session; the key is copied into the caller's buffer of 16- or 32-bit chars."""
        handle = _DwordOut(pSessionHandle)
        flags = dword_value(dwSessionFlags)
        buffer = None if is_null(strSessionKey) else wstr_buffer(strSessionKey)
        if buffer is None:
            return self._call("RmStartSession", handle.arg(), flags, None)
        if buffer[0] < _KEY_UNITS:
            return winerror.ERROR_BAD_ARGUMENTS  # the DLL would write past its end
        key = (WCHAR * _KEY_UNITS)()
        code = self._call("RmStartSession", handle.arg(), flags, key)
        handle.copy_back()
        target = unwrap(strSessionKey)
        assert isinstance(target, ctypes.Array)  # wstr_buffer accepted it
        if code == winerror.ERROR_SUCCESS or any(key):
            _copy_units(target, key)
        return code

    @_entry_point
    def RmJoinSession(self, pSessionHandle: object, strSessionKey: object) -> int:
        """Join the session *strSessionKey* names; the key goes in as UTF-16."""
        keep: list[object] = []
        handle = _DwordOut(pSessionHandle)
        code = self._call("RmJoinSession", handle.arg(), _lpcwstr(strSessionKey, keep))
        handle.copy_back()
        return code

    @_entry_point
    def RmEndSession(self, dwSessionHandle: object) -> int:
        """End (primary) or leave (secondary) the session."""
        return self._call("RmEndSession", dword_value(dwSessionHandle))

    @_entry_point
    def RmRegisterResources(
        self,
        dwSessionHandle: object,
        nFiles: object,
        rgsFileNames: object,
        nApplications: object,
        rgApplications: object,
        nServices: object,
        rgsServiceNames: object,
    ) -> int:
        """Register files, processes and services; arrays become exact Windows arrays."""
        keep: list[object] = []
        n_files, n_apps, n_services = (dword_value(n) for n in (nFiles, nApplications, nServices))
        return self._call(
            "RmRegisterResources",
            dword_value(dwSessionHandle),
            n_files,
            _lpcwstr_array(rgsFileNames, n_files, keep),
            n_apps,
            _unique_processes(rgApplications, n_apps, keep),
            n_services,
            _lpcwstr_array(rgsServiceNames, n_services, keep),
        )

    @_entry_point
    def RmGetList(
        self,
        dwSessionHandle: object,
        pnProcInfoNeeded: object,
        pnProcInfo: object,
        rgAffectedApps: object,
        lpdwRebootReasons: object,
    ) -> int:
        """The affected apps; rmcore's RM_PROCESS_INFO arrays are passed straight through,
        other layouts get a temporary copied back field by field on success."""
        needed, count, reasons = (
            _DwordOut(p) for p in (pnProcInfoNeeded, pnProcInfo, lpdwRebootReasons)
        )
        capacity = count.temp.value
        target = unwrap(rgAffectedApps)
        rows: Any
        copy_to: tuple[Callable[[int], ctypes.Structure], int | None] | None = None
        if is_null(rgAffectedApps):
            rows = None
        elif _own_process_infos(target, capacity):
            rows = target  # already the Windows layout, with room: straight through
        elif isinstance(target, RM_PROCESS_INFO) and capacity <= 1:
            rows = ctypes.byref(target)
        else:
            copy_to = struct_array(rgAffectedApps)
            rows = (RM_PROCESS_INFO * max(capacity, 1))()
        code = self._call(
            "RmGetList",
            dword_value(dwSessionHandle),
            needed.arg(),
            count.arg(),
            rows,
            reasons.arg(),
        )
        for out in (needed, count, reasons):
            out.copy_back()
        if copy_to is not None and code == winerror.ERROR_SUCCESS:
            row_at, length = copy_to
            filled = min(count.temp.value, capacity)
            if length is not None and filled > length:
                return winerror.ERROR_BAD_ARGUMENTS  # *pnProcInfo claimed more room
            for index in range(filled):
                _copy_process_info(row_at(index), rows[index])
        return code

    @_entry_point
    def RmShutdown(self, dwSessionHandle: object, lActionFlags: object, fnStatus: object) -> int:
        """Shut down the affected apps, reporting progress to *fnStatus* (may be ``None``)."""
        errors: list[BaseException] = []
        callback = _as_callback(fnStatus, errors)
        code = self._call(
            "RmShutdown", dword_value(dwSessionHandle), dword_value(lActionFlags), callback
        )
        if errors:
            raise errors[0]
        return code

    @_entry_point
    def RmRestart(self, dwSessionHandle: object, dwRestartFlags: object, fnStatus: object) -> int:
        """Restart what RmShutdown stopped, reporting progress to *fnStatus*."""
        errors: list[BaseException] = []
        callback = _as_callback(fnStatus, errors)
        code = self._call(
            "RmRestart", dword_value(dwSessionHandle), dword_value(dwRestartFlags), callback
        )
        if errors:
            raise errors[0]
        return code

    @_entry_point
    def RmCancelCurrentTask(self, dwSessionHandle: object) -> int:
        """Ask the session's running task to stop (call it from another thread)."""
        return self._call("RmCancelCurrentTask", dword_value(dwSessionHandle))

    @_entry_point
    def RmAddFilter(
        self,
        dwSessionHandle: object,
        strModuleName: object,
        pProcess: object,
        strServiceShortName: object,
        FilterAction: object,
    ) -> int:
        """Filter one executable, process or service; the DLL checks the one-target rule."""
        keep: list[object] = []
        action = dword_value(FilterAction)
        return self._call(
            "RmAddFilter",
            dword_value(dwSessionHandle),
            _lpcwstr(strModuleName, keep),
            _unique_processes(pProcess, 1, keep),
            _lpcwstr(strServiceShortName, keep),
            action - (1 << 32) if action & 0x80000000 else action,
        )

    @_entry_point
    def RmRemoveFilter(
        self,
        dwSessionHandle: object,
        strModuleName: object,
        pProcess: object,
        strServiceShortName: object,
    ) -> int:
        """Remove the filter on one target."""
        keep: list[object] = []
        return self._call(
            "RmRemoveFilter",
            dword_value(dwSessionHandle),
            _lpcwstr(strModuleName, keep),
            _unique_processes(pProcess, 1, keep),
            _lpcwstr(strServiceShortName, keep),
        )

    @_entry_point
    def RmGetFilterList(
        self,
        dwSessionHandle: object,
        pbFilterBuf: object,
        cbFilterBuf: object,
        cbFilterBufNeeded: object,
    ) -> int:
        """The filters as RM_FILTER_INFO records, written into the caller's own buffer.

        Never a temporary: the records' string pointers point into the buffer. A size larger
        than a buffer whose size is known is cut to it (the DLL then answers 234).
        """
        needed = _DwordOut(cbFilterBufNeeded)
        size = dword_value(cbFilterBuf)
        buffer = None if is_null(pbFilterBuf) else byte_buffer(pbFilterBuf)
        pointer: Any = None
        if buffer is not None:
            address, known = buffer
            size = size if known is None else min(size, known)
            pointer = ctypes.cast(address, ctypes.POINTER(ctypes.c_ubyte))
        code = self._call(
            "RmGetFilterList", dword_value(dwSessionHandle), pointer, size, needed.arg()
        )
        needed.copy_back()
        return code
