"""THE export table: rstrtmgr.dll's eleven functions, written once.

:class:`RestartManagerAPI` declares each export with its restartmanager.h parameter names and
the kind of each parameter; :data:`EXPORTS` is read off it. Everything else derives from
this table: the Simulator and the real-DLL backend implement the class, fault injection
checks function names against it, the ctypes patch takes its arities and the DLL backend its
argtypes from it, the recorder its parameter names.
"""

from __future__ import annotations

import ctypes
import enum
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ._types import DWORD as _DWORD_T
from ._types import RM_PROCESS_INFO, RM_UNIQUE_PROCESS, RM_WRITE_STATUS_CALLBACK, WCHAR

__all__ = ["BY_NAME", "EXPORTS", "Export", "Kind", "Param", "RestartManagerAPI"]

_LPWSTR = ctypes.POINTER(WCHAR)


class Kind(enum.Enum):
    """What a parameter is, as the DLL uses it; the value is its exact Windows ctypes type."""

    DWORD = ("dword", _DWORD_T)  # by value: handle, flags, count
    ENUM = ("enum", ctypes.c_int32)  # by value: a C enum (int-sized, the RM_* enumeration pages)
    DWORD_OUT = ("dword_out", ctypes.POINTER(_DWORD_T))  # DWORD * / UINT * the DLL writes
    DWORD_INOUT = (
        "dword_inout",
        ctypes.POINTER(_DWORD_T),
    )  # UINT * read (capacity) then written (count)
    KEY_OUT = ("key_out", _LPWSTR)  # WCHAR[CCH_RM_SESSION_KEY + 1] the DLL writes
    WSTR = ("wstr", _LPWSTR)  # LPCWSTR, NUL-terminated UTF-16
    WSTR_ARRAY = ("wstr_array", ctypes.POINTER(_LPWSTR))  # LPCWSTR[count]
    PROCESS = ("process", ctypes.POINTER(RM_UNIQUE_PROCESS))  # one RM_UNIQUE_PROCESS, optional
    PROCESS_ARRAY = ("process_array", ctypes.POINTER(RM_UNIQUE_PROCESS))  # RM_UNIQUE_PROCESS[count]
    PROCESS_INFO_ARRAY = (
        "process_info_array",
        ctypes.POINTER(RM_PROCESS_INFO),
    )  # RM_PROCESS_INFO[*pnProcInfo] out
    BYTES_OUT = ("bytes_out", ctypes.POINTER(ctypes.c_ubyte))  # PBYTE buffer the DLL writes
    CALLBACK = ("callback", RM_WRITE_STATUS_CALLBACK)  # RM_WRITE_STATUS_CALLBACK, optional

    @property
    def ctype(self) -> Any:
        return self.value[1]

    @property
    def is_pointer(self) -> bool:
        return self not in (Kind.DWORD, Kind.ENUM)


@dataclass(frozen=True)
class Param:
    name: str
    kind: Kind
    count: str | None = None  # for arrays and buffers: the parameter giving their length


@dataclass(frozen=True)
class Export:
    """One function of the DLL."""

    name: str
    params: tuple[Param, ...]
    takes_mutex: bool  # its page documents ERROR_SEM_TIMEOUT (121): it writes the registry
    summary: str

    @property
    def arity(self) -> int:
        return len(self.params)

    @property
    def argtypes(self) -> list[Any]:
        return [param.kind.ctype for param in self.params]


_F = TypeVar("_F", bound=Callable[..., int])


def export(*kinds: Kind, mutex: bool = False, **counts: str) -> Callable[[_F], _F]:
    """Mark a method of :class:`RestartManagerAPI` as an export with these parameter kinds;
    *counts* names, for each array or buffer parameter, the parameter giving its length."""

    def mark(function: _F) -> _F:
        function.__rm_export__ = (kinds, mutex, counts)  # type: ignore[attr-defined]
        return function

    return mark


class RestartManagerAPI:
    """rstrtmgr.dll's exports, called exactly as ctypes code calls the DLL; each returns the
    DWORD result. Backends (the Simulator, the real DLL) implement every method."""

    @export(Kind.DWORD_OUT, Kind.DWORD, Kind.KEY_OUT, mutex=True)
    def RmStartSession(
        self, pSessionHandle: object, dwSessionFlags: object, strSessionKey: object
    ) -> int:
        """Start a session: a handle into *pSessionHandle*, a new key into *strSessionKey*."""
        raise NotImplementedError

    @export(Kind.DWORD_OUT, Kind.WSTR, mutex=True)
    def RmJoinSession(self, pSessionHandle: object, strSessionKey: object) -> int:
        """Join the session a key names, as a secondary; a new handle goes out."""
        raise NotImplementedError

    @export(Kind.DWORD, mutex=True)
    def RmEndSession(self, dwSessionHandle: object) -> int:
        """End the session (primary) or leave it (secondary)."""
        raise NotImplementedError

    @export(
        Kind.DWORD,
        Kind.DWORD,
        Kind.WSTR_ARRAY,
        Kind.DWORD,
        Kind.PROCESS_ARRAY,
        Kind.DWORD,
        Kind.WSTR_ARRAY,
        mutex=True,
        rgsFileNames="nFiles",
        rgApplications="nApplications",
        rgsServiceNames="nServices",
    )
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
        """Add files (full paths), processes and services (short names) to the session."""
        raise NotImplementedError

    @export(
        Kind.DWORD,
        Kind.DWORD_OUT,
        Kind.DWORD_INOUT,
        Kind.PROCESS_INFO_ARRAY,
        Kind.DWORD_OUT,
        mutex=True,
        rgAffectedApps="pnProcInfo",
    )
    def RmGetList(
        self,
        dwSessionHandle: object,
        pnProcInfoNeeded: object,
        pnProcInfo: object,
        rgAffectedApps: object,
        lpdwRebootReasons: object,
    ) -> int:
        """The apps using the registered resources, recomputed now (two-call pattern)."""
        raise NotImplementedError

    @export(Kind.DWORD, Kind.DWORD, Kind.CALLBACK, mutex=True)
    def RmShutdown(self, dwSessionHandle: object, lActionFlags: object, fnStatus: object) -> int:
        """Shut the affected apps down: GUI, console, services, Explorer."""
        raise NotImplementedError

    @export(Kind.DWORD, Kind.DWORD, Kind.CALLBACK, mutex=True)
    def RmRestart(self, dwSessionHandle: object, dwRestartFlags: object, fnStatus: object) -> int:
        """Restart what RmShutdown stopped, in reverse order."""
        raise NotImplementedError

    @export(Kind.DWORD)
    def RmCancelCurrentTask(self, dwSessionHandle: object) -> int:
        """Ask the session's running RmGetList/RmShutdown/RmRestart to stop."""
        raise NotImplementedError

    @export(Kind.DWORD, Kind.WSTR, Kind.PROCESS, Kind.WSTR, Kind.ENUM)
    def RmAddFilter(
        self,
        dwSessionHandle: object,
        strModuleName: object,
        pProcess: object,
        strServiceShortName: object,
        FilterAction: object,
    ) -> int:
        """Keep RM from shutting down or restarting one executable, process or service."""
        raise NotImplementedError

    @export(Kind.DWORD, Kind.WSTR, Kind.PROCESS, Kind.WSTR)
    def RmRemoveFilter(
        self,
        dwSessionHandle: object,
        strModuleName: object,
        pProcess: object,
        strServiceShortName: object,
    ) -> int:
        """Remove the filter on one target."""
        raise NotImplementedError

    @export(Kind.DWORD, Kind.BYTES_OUT, Kind.DWORD, Kind.DWORD_OUT, pbFilterBuf="cbFilterBuf")
    def RmGetFilterList(
        self,
        dwSessionHandle: object,
        pbFilterBuf: object,
        cbFilterBuf: object,
        cbFilterBufNeeded: object,
    ) -> int:
        """The session's filters as RM_FILTER_INFO records chained by ``cbNextOffset``."""
        raise NotImplementedError


def _read_table() -> tuple[Export, ...]:
    found = []
    for name, function in vars(RestartManagerAPI).items():
        marks = getattr(function, "__rm_export__", None)
        if marks is None:
            continue
        kinds, mutex, counts = marks
        names = list(inspect.signature(function).parameters)[1:]
        assert len(names) == len(kinds) and set(counts) <= set(names), name
        params = tuple(Param(n, k, counts.get(n)) for n, k in zip(names, kinds, strict=True))
        summary = (function.__doc__ or "").strip().splitlines()[0]
        found.append(Export(name, params, mutex, summary))
    return tuple(found)


EXPORTS: tuple[Export, ...] = _read_table()
BY_NAME: dict[str, Export] = {export.name: export for export in EXPORTS}
