"""The real rstrtmgr.dll through ctypes, with the :class:`~rmcore.Simulator`'s interface.

:class:`RstrtmgrDLL` implements the export table by calling the library with the exact
Windows argument types (:class:`~rmcore.win32._exports.Kind` gives each one). Callers' arguments
are taken by the same rules as the Simulator's (:mod:`._args`): whatever their Python types,
the DLL receives Windows-layout temporaries, and what it writes is copied back into the
callers' objects at Windows offsets, never past their ends. A bad address raises the access
violation before the DLL is called; NULL goes through as NULL and the DLL decides.

An optional *recorder* sees every call (function, argument values, results, out-values):
the trace the record/replay tool compares with the simulator.
"""

from __future__ import annotations

import ctypes
import inspect
import struct
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from . import _args as args
from ._exports import BY_NAME, EXPORTS, RestartManagerAPI
from ._types import (
    CCH_RM_SESSION_KEY,
    DWORD,
    RM_FILTER_INFO,
    RM_FILTER_TRIGGER,
    RM_PROCESS_INFO,
    RM_UNIQUE_PROCESS,
    RM_WRITE_STATUS_CALLBACK,
    WCHAR,
)

__all__ = ["DEFAULT_DLL_NAME", "BackendUnavailable", "Recorder", "RstrtmgrDLL"]

DEFAULT_DLL_NAME = "rstrtmgr.dll"
_LPWSTR = ctypes.POINTER(WCHAR)
_KEY_UNITS = CCH_RM_SESSION_KEY + 1
_PROCESS_INFO_SIZE = ctypes.sizeof(RM_PROCESS_INFO)
_POINTER = ctypes.sizeof(ctypes.c_void_p)


class BackendUnavailable(RuntimeError):
    """The requested backend cannot be used on this host (e.g. the real DLL off Windows)."""


class Recorder(Protocol):
    """Receives every call the DLL backend makes (see :mod:`rmcore.testing.replay`)."""

    def record(
        self,
        backend: object,
        function: str,
        arguments: dict[str, object],
        outs: dict[str, object],
        result: int,
        seconds: float,
    ) -> None: ...


def _units(text: str) -> ctypes.Array[ctypes.c_uint16]:
    encoded = text.encode("utf-16-le", "surrogatepass") + b"\0\0"
    array = (WCHAR * (len(encoded) // 2))()
    ctypes.memmove(array, encoded, len(encoded))
    return array


class _Call:
    """The Windows-typed arguments of one call, and what to copy back after it."""

    def __init__(self, function: str, arguments: tuple[object, ...]) -> None:
        self.export = BY_NAME[function]
        self.diagnostics = args.Diagnostics(function)
        self.values: dict[str, object] = {}  # argument values as the DLL reads them
        self.outs: dict[str, object] = {}  # what the DLL wrote (out-parameters, progress)
        self.after_values: list[Callable[[], None]] = []  # DWORDs first: counts, sizes
        self.after: list[Callable[[], None]] = []
        self.keep: list[object] = []
        self.native = [None] * len(arguments)
        params = list(enumerate(zip(self.export.params, arguments, strict=True)))
        # Values first, as the DLL reads them: counts and sizes size the buffers.
        for index, (param, argument) in sorted(params, key=lambda p: p[1][0].kind.is_pointer):
            converter = getattr(self, f"_{param.kind.name.lower()}")
            count = self.values.get(param.count) if param.count else None
            self.native[index] = converter(param.name, argument, index + 1, count)

    def _dword(self, name: str, argument: object, position: int, _count: object) -> int:
        value = args.dword(argument, position)
        self.values[name] = value
        return value

    def _dword_out(self, name: str, argument: object, position: int, _count: object) -> Any:
        slot = args.dword_slot(argument, position, self.diagnostics, name)
        if slot is None:
            self.values[name] = None
            return None
        temp = DWORD(slot.get())
        self.values[name] = temp.value

        def copy_back() -> None:
            slot.set(temp.value)
            self.outs[name] = temp.value

        self.after_values.append(copy_back)
        return ctypes.byref(temp)

    _dword_inout = _dword_out
    _enum = _dword

    def _out_pointer(self, name: str, argument: object, position: int) -> args.Pointer | None:
        """An out-buffer argument; its address (``None``: NULL) is recorded with the values,
        so a trace says which buffers were passed and where the caller's memory was."""
        found = args.pointer(argument, position)
        self.values[name] = None if found is None else found.region.address
        return found

    def _key_out(self, name: str, argument: object, position: int, _count: object) -> Any:
        found = self._out_pointer(name, argument, position)
        if found is None:
            return None
        size = 2 * _KEY_UNITS
        args.check_out(found, size, self.diagnostics, name)
        key = (WCHAR * _KEY_UNITS)()
        available = found.region.image_size()
        before = found.region.read(size if available is None else min(size, available))
        ctypes.memmove(key, before, len(before))  # a failed call leaves the caller's text

        def copy_back() -> None:
            found.region.write(bytes(key))
            self.outs[name] = bytes(key).decode("utf-16-le").split("\0", 1)[0]

        self.after.append(copy_back)
        return key

    def _wstr(self, name: str, argument: object, position: int, _count: object) -> Any:
        text = args.wstr(argument, position, self.diagnostics, name)
        self.values[name] = text
        if text is None:
            return None
        units = _units(text)
        self.keep.append(units)
        return ctypes.cast(units, _LPWSTR)

    def _wstr_array(self, name: str, argument: object, position: int, count: object) -> Any:
        assert isinstance(count, int)
        if args.pointer(argument, position) is None:
            self.values[name] = None
            return None
        texts = args.wstr_array(argument, count, position, self.diagnostics, name)
        self.values[name] = texts
        pointers = (_LPWSTR * max(count, 1))()
        for index, text in enumerate(texts):
            if text is not None:
                units = _units(text)
                self.keep.append(units)
                pointers[index] = ctypes.cast(units, _LPWSTR)
        self.keep.append(pointers)
        return pointers

    def _process_array(self, name: str, argument: object, position: int, count: object) -> Any:
        assert isinstance(count, int)
        if args.pointer(argument, position) is None:
            self.values[name] = None
            return None
        pairs = args.unique_processes(argument, count, position, self.diagnostics, name)
        self.values[name] = pairs
        array = (RM_UNIQUE_PROCESS * max(count, 1))(*(RM_UNIQUE_PROCESS.of(*p) for p in pairs))
        self.keep.append(array)
        return array

    def _process(self, name: str, argument: object, position: int, _count: object) -> Any:
        return self._process_array(name, argument, position, 1)

    def _process_info_array(
        self, name: str, argument: object, position: int, _count: object
    ) -> Any:
        found = self._out_pointer(name, argument, position)
        if found is None:
            return None
        capacity = int(_count or 0)  # type: ignore[call-overload]
        args.check_record_type(found, _PROCESS_INFO_SIZE, self.diagnostics, name, "records")
        if _direct(found, capacity * _PROCESS_INFO_SIZE):  # already Windows' layout: as is
            rows_at = ctypes.cast(found.region.address, ctypes.POINTER(RM_PROCESS_INFO))

            def record() -> None:
                filled = min(int(self.outs.get("pnProcInfo") or 0), capacity)  # type: ignore[call-overload]
                self.outs[name] = [
                    RM_PROCESS_INFO.from_buffer_copy(rows_at[i]) for i in range(filled)
                ]

            self.after.append(record)
            return rows_at
        rows = (RM_PROCESS_INFO * max(capacity, 1))()

        def copy_back() -> None:
            filled = self.outs.get("pnProcInfo") or 0
            assert isinstance(filled, int)
            data = bytes(rows)[: min(filled, capacity) * _PROCESS_INFO_SIZE]
            if data:
                args.check_out(found, len(data), self.diagnostics, name)
                found.region.write(data)
            self.outs[name] = [
                RM_PROCESS_INFO.from_buffer_copy(data, i * _PROCESS_INFO_SIZE)
                for i in range(len(data) // _PROCESS_INFO_SIZE)
            ]

        self.after.append(copy_back)
        return rows

    def _bytes_out(self, name: str, argument: object, position: int, size: object) -> Any:
        found = self._out_pointer(name, argument, position)
        if found is None:
            return None
        if _direct(found, int(size or 0)):  # type: ignore[call-overload]
            address = found.region.address

            def record() -> None:
                needed = self.outs.get("cbFilterBufNeeded")
                used = min(int(size or 0), needed if isinstance(needed, int) else 0)  # type: ignore[call-overload]
                self.outs[name] = ctypes.string_at(address, used).hex()

            self.after.append(record)
            return ctypes.cast(address, ctypes.POINTER(ctypes.c_ubyte))
        buffer = (ctypes.c_ubyte * max(int(size or 0), 1))()  # type: ignore[call-overload]

        def copy_back() -> None:
            data = _relocated(bytes(buffer), ctypes.addressof(buffer), found.region.address)
            needed = self.outs.get("cbFilterBufNeeded")
            if isinstance(needed, int) and needed <= len(data):
                data = data[:needed]
            args.check_out(found, len(data), self.diagnostics, name)
            found.region.write(data)
            self.outs[name] = data.hex()

        self.after.append(copy_back)
        return buffer

    def _callback(self, name: str, argument: object, position: int, _count: object) -> Any:
        function = args.status_callback(argument, position, self.diagnostics, name)
        reports: list[int] = []
        self.values[name] = "callback" if function is not None else None
        self.outs[name] = reports

        def thunk(percent: int) -> None:
            reports.append(percent)
            if function is not None:
                function(percent)

        native = RM_WRITE_STATUS_CALLBACK(thunk) if function is not None else None
        self.keep.append(native)
        return native or RM_WRITE_STATUS_CALLBACK()


def _direct(found: args.Pointer, size: int) -> bool:
    """Whether the caller's memory can go to the DLL as it is: a ctypes object in Windows'
    layout with room for everything the DLL may write there."""
    region = found.region
    layout = region.layout
    return (
        region.size is not None
        and region.size >= size
        and (layout is None or layout.identical)
        and not found.temporary
    )


def _relocated(data: bytes, temp_address: int, caller_address: int) -> bytes:
    """RmGetFilterList's records with their string pointers moved from the temporary buffer
    the DLL filled to the caller's buffer they are copied into."""
    out = bytearray(data)
    union_at = RM_FILTER_INFO._u.offset
    code = "<Q" if _POINTER == 8 else "<I"
    offset = 0
    while offset + ctypes.sizeof(RM_FILTER_INFO) <= len(out):
        _action, trigger, following = struct.unpack_from("<iiI", out, offset)
        if trigger != RM_FILTER_TRIGGER.RmFilterTriggerProcess:
            (pointer,) = struct.unpack_from(code, out, offset + union_at)
            if temp_address <= pointer < temp_address + len(out):
                struct.pack_into(
                    code, out, offset + union_at, pointer - temp_address + caller_address
                )
        if not following:
            break
        offset += following
    return bytes(out)


class RstrtmgrDLL(RestartManagerAPI):
    """rstrtmgr.dll through ctypes, called like a :class:`~rmcore.Simulator`.

    On Windows it loads *path* or ``rstrtmgr.dll`` with ``ctypes.WinDLL`` (WINAPI). Elsewhere
    the real DLL does not exist: without *path* it raises :class:`BackendUnavailable`; with
    one it loads that library with ``ctypes.CDLL`` (a stand-in; x64 has one convention).
    """

    def __init__(self, path: str | None = None, *, recorder: Recorder | None = None) -> None:
        name = path if path is not None else DEFAULT_DLL_NAME
        try:
            if sys.platform == "win32":
                self.lib: ctypes.CDLL = ctypes.WinDLL(name)  # type: ignore[attr-defined,unused-ignore]
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
        self.recorder = recorder
        for export in EXPORTS:
            try:
                foreign = getattr(self.lib, export.name)
            except AttributeError as exc:
                raise BackendUnavailable(f"{name} does not export {export.name}") from exc
            foreign.restype = DWORD
            foreign.argtypes = export.argtypes

    def __repr__(self) -> str:
        return f"<rmcore.RstrtmgrDLL {self.path!r}>"

    def _call(self, function: str, arguments: tuple[object, ...]) -> int:
        call = _Call(function, arguments)
        began = time.perf_counter()
        code = int(getattr(self.lib, function)(*call.native))
        seconds = time.perf_counter() - began
        for copy_back in (*call.after_values, *call.after):
            copy_back()
        if self.recorder is not None:
            self.recorder.record(self, function, call.values, call.outs, code, seconds)
        return code


def _method(name: str) -> Callable[..., int]:
    declared = getattr(RestartManagerAPI, name)

    def method(self: RstrtmgrDLL, *arguments: object) -> int:
        return self._call(name, arguments)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = declared.__doc__
    method.__signature__ = inspect.signature(declared)  # type: ignore[attr-defined]
    return method


for _export in EXPORTS:
    setattr(RstrtmgrDLL, _export.name, _method(_export.name))
