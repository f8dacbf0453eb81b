"""The rule for every argument of every export, in one place: how the DLL takes it.

Each function turns one ctypes-style argument into what the DLL would read, or gives a slot
the DLL writes through, following ctypes' own conversions: ``None``/``0``/NULL pointers are
NULL; an ``int`` is an address; ``byref``, ``pointer``, arrays, structures, ``c_void_p``,
``c_wchar_p`` and buffers are the memory they designate (:mod:`._pointers`), read and
written at Windows offsets (:mod:`._memory`, :mod:`._layout`) whatever the caller's own
types; a ctypes integer is passed by value, as ctypes passes it. What ctypes cannot
convert raises ``ctypes.ArgumentError``; memory no object owns raises the access violation
Windows' ctypes raises. Nothing here raises anything else. Probable mistakes Windows
accepts are reported through a :class:`Diagnostics` (a warning, or an error in strict
mode); they never change the result.
"""

from __future__ import annotations

import ctypes
import struct
import sys
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from .._errors import RmUsageWarning
from ._layout import POINTER_SIZE, layout_of
from ._memory import AccessViolation, check_address, read_unknown
from ._pointers import (
    MASK32,
    FunctionPointer,
    Pointer,
    as_parameter,
    convert_error,
    is_integer_instance,
    pointer,
    pointer_region,
    to_integer,
    walk,
)

__all__ = [
    "Diagnostics",
    "DwordSlot",
    "Pointer",
    "StatusCallback",
    "check_out",
    "check_record_type",
    "dword",
    "dword_slot",
    "pointer",
    "status_callback",
    "unique_processes",
    "wstr",
    "wstr_array",
]

_WCHAR_HOST = ctypes.sizeof(ctypes.c_wchar)
_MAX_STRING_UNITS = 32768  # Windows' longest path; a string that long has no end in sight
_UNIQUE_PROCESS = struct.Struct("<III")  # dwProcessId, dwLowDateTime, dwHighDateTime

StatusCallback = Callable[[int], object]


# --- diagnostics ------------------------------------------------------------------------------
@dataclass
class Diagnostics:
    """Where probable mistakes go: a warning each, or (``strict``) an exception."""

    function: str
    strict: bool = False
    messages: list[str] = field(default_factory=list)

    def report(self, argument: str, message: str) -> None:
        text = f"{self.function}: {argument}: {message}"
        self.messages.append(text)
        if self.strict:
            raise RmUsageWarning(text)
        warnings.warn(text, RmUsageWarning, stacklevel=_outside_rmcore())


def _outside_rmcore() -> int:
    """The ``stacklevel`` of the first frame outside the rmcore package (the caller's line)."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("rmcore"):
        frame, level = frame.f_back, level + 1
    return level


# --- values ------------------------------------------------------------------------------------
def dword(arg: object, position: int) -> int:
    """A DWORD/UINT/enum passed by value: the low 32 bits of what ctypes passes."""
    arg = as_parameter(arg)
    if arg is None:
        return 0
    if isinstance(arg, int):
        return to_integer(arg, position) & MASK32
    if is_integer_instance(arg):
        return int(arg.value) & MASK32  # type: ignore[attr-defined]
    if getattr(type(arg), "_type_", "") in ("f", "d", "g"):
        raise convert_error(  # ctypes passes it in a floating-point register, never read
            position, "TypeError", "a floating-point value where the DLL takes an integer"
        )
    found = pointer_region(arg, position)  # a pointer in a DWORD slot: its address
    return 0 if found is None else found[0].address & MASK32


# --- strings -----------------------------------------------------------------------------------
def _unit_of(element: type | None) -> int:
    """Bytes per character the caller's pointer type means: its own ``c_wchar`` (through
    pointers and arrays of them), else Windows' 16-bit WCHAR (``c_uint16``, ``c_void_p``,
    raw addresses)."""
    if element is not None and issubclass(element, (ctypes._Pointer, ctypes.Array)):
        inner: type | None = element._type_  # type: ignore[assignment]
        return _unit_of(inner)
    if element is not None and issubclass(element, (ctypes.c_wchar, ctypes.c_wchar_p)):
        return _WCHAR_HOST
    return 2


def _decode(data: bytes, unit: int) -> str:
    codec = "utf-16-le" if unit == 2 else "utf-32-le"
    try:
        return data.decode(codec, "surrogatepass")
    except UnicodeDecodeError:
        return data.decode(codec, "replace")


def _terminated(data: bytes, unit: int) -> int:
    """Index (in bytes) of the first NUL unit, or -1."""
    zero = b"\0" * unit
    at = data.find(zero)
    while at != -1 and at % unit:
        at = data.find(zero, at + 1)
    return at


def read_string(
    address: int,
    unit: int,
    *,
    strings: frozenset[int] = frozenset(),
    known: tuple[tuple[int, int, type | None], ...] = (),
) -> str:
    """The NUL-terminated string at *address* (units of *unit* bytes), never read past the
    object that holds it; memory nothing owns is read fault-safely."""
    if address in strings and unit == _WCHAR_HOST:
        return ctypes.wstring_at(address)
    for start, end, _element in known:
        if start <= address < end:
            data = ctypes.string_at(address, end - address)
            stop = _terminated(data, unit)
            if stop < 0:
                raise AccessViolation(end, writing=False)
            return _decode(data[:stop], unit)
    check_address(address, writing=False)
    data = b""
    while len(data) < _MAX_STRING_UNITS * unit:
        chunk = read_unknown(address + len(data), min(512, 4096 - (address + len(data)) % 4096))
        data += chunk
        stop = _terminated(data, unit)
        if stop >= 0:
            return _decode(data[:stop], unit)
    raise AccessViolation(address + len(data), writing=False)


def wstr(arg: object, position: int, diagnostics: Diagnostics, name: str) -> str | None:
    """An input LPCWSTR as ``str`` (``None`` for NULL)."""
    arg = as_parameter(arg)
    if isinstance(arg, str):
        return arg.split("\0", 1)[0]
    found = pointer(arg, position)
    if found is None:
        return None
    if isinstance(arg, bytes):
        diagnostics.report(name, "bytes given for a wide string: Windows reads them as UTF-16")
    unit = _unit_of(found.region.ctype)
    if found.by_value:
        diagnostics.report(name, "a ctypes integer passed by value: its value is the address")
    return read_string(
        found.region.address,
        unit,
        strings=found.strings(),
        known=_region_known(found),
    )


def _region_known(found: Pointer) -> tuple[tuple[int, int, type | None], ...]:
    region = found.region
    own = (
        ((region.address, region.address + region.size, region.ctype),)
        if region.size is not None
        else ()
    )
    return own + tuple(found.known())


def wstr_array(
    arg: object, count: int, position: int, diagnostics: Diagnostics, name: str
) -> list[str | None]:
    """``count`` LPCWSTRs from an array of pointers (entries may be NULL: ``None``)."""
    found = pointer(arg, position)
    if found is None:
        return []  # the caller decides whether NULL with a count is an error
    element = found.region.ctype
    if element is not None and layout_of(element).win_size != POINTER_SIZE:
        diagnostics.report(
            name,
            f"{element.__name__} elements are {layout_of(element).win_size} bytes on Windows; "
            f"the DLL reads {POINTER_SIZE}-byte pointers",
        )
    raw = found.region.read(count * POINTER_SIZE)
    code = "<" + str(count) + ("Q" if POINTER_SIZE == 8 else "I")
    addresses = struct.unpack(code, raw)
    unit = _unit_of(element)
    strings = found.strings()
    known: tuple[tuple[int, int, type | None], ...] | None = None  # found only if needed
    names: list[str | None] = []
    for address in addresses:
        if address and known is None and not (address in strings and unit == _WCHAR_HOST):
            known = _region_known(found)
        names.append(
            read_string(address, unit, strings=strings, known=known or ()) if address else None
        )
    return names


def unique_processes(
    arg: object, count: int, position: int, diagnostics: Diagnostics, name: str
) -> list[tuple[int, int]]:
    """``count`` RM_UNIQUE_PROCESS records (12 bytes each) as (PID, start FILETIME)."""
    found = pointer(arg, position)
    if found is None:
        return []
    element = found.region.ctype
    if (
        element is not None
        and issubclass(element, ctypes.Structure)
        and layout_of(element).win_size != _UNIQUE_PROCESS.size
    ):
        diagnostics.report(
            name,
            f"{element.__name__} is {layout_of(element).win_size} bytes on Windows, not 12: "
            "the DLL reads 12-byte RM_UNIQUE_PROCESS records from it",
        )
    raw = found.region.read(count * _UNIQUE_PROCESS.size)
    return [
        (pid, (high << 32) | low)
        for pid, low, high in _UNIQUE_PROCESS.iter_unpack(raw[: count * _UNIQUE_PROCESS.size])
    ]


# --- out-parameters ----------------------------------------------------------------------------
class DwordSlot:
    """A ``DWORD *``/``UINT *``: four bytes the DLL reads and writes."""

    def __init__(self, found: Pointer, diagnostics: Diagnostics, name: str) -> None:
        self.found = found  # keeps alive what ctypes would keep for the call (temporaries)
        self.region = found.region
        self.region.probe(4)
        available = self.region.image_size()
        if available is not None and available < 4:
            diagnostics.report(
                name,
                f"{available}-byte object: Windows writes 4 bytes here "
                f"(overrunning it by {4 - available})",
            )

    def get(self) -> int:
        return int.from_bytes(self.region.read(4), "little")

    def set(self, value: int) -> None:
        self.region.write((value & MASK32).to_bytes(4, "little"))


def dword_slot(arg: object, position: int, diagnostics: Diagnostics, name: str) -> DwordSlot | None:
    """A ``DWORD *`` the DLL reads or writes, or ``None`` for NULL."""
    if is_integer_instance(arg):
        diagnostics.report(name, "a ctypes integer passed by value (did you mean ctypes.byref()?)")
    found = pointer(arg, position)
    if found is not None and found.temporary:
        diagnostics.report(
            name, "a Python str/bytes: Windows writes into a temporary copy ctypes discards"
        )
    return None if found is None else DwordSlot(found, diagnostics, name)


def check_out(found: Pointer, size: int, diagnostics: Diagnostics, name: str) -> None:
    """Report, before anything changes, what is probably wrong with an out-pointer the DLL
    will write *size* bytes through: a temporary, a by-value integer, too little room. The
    write itself (``found.region.write``) never goes past the caller's object."""
    if found.temporary:
        diagnostics.report(
            name,
            "a Python str/bytes: Windows writes into a temporary copy that ctypes discards, "
            "so the caller never sees the result",
        )
    elif found.by_value:
        diagnostics.report(name, "a ctypes integer passed by value: its value is the address")
    available = found.region.image_size()
    if available is not None and available < size:
        diagnostics.report(
            name,
            f"room for {available} bytes: Windows writes {size} here, overrunning the caller's "
            f"object by {size - available} (rmcore writes only what fits)",
        )
    elif available is None:
        found.region.probe(size)  # unmapped: the access violation comes before any change


def check_record_type(
    found: Pointer, win_size: int, diagnostics: Diagnostics, name: str, record: str
) -> None:
    """Report a caller's struct whose Windows size differs from the records the DLL writes."""
    element = found.region.ctype
    if element is None or not issubclass(element, (ctypes.Structure, ctypes.Union)):
        return
    size = layout_of(element).win_size
    if size != win_size:
        diagnostics.report(
            name,
            f"{element.__name__} is {size} bytes on Windows, not {win_size}: the DLL writes "
            f"{win_size}-byte {record} records, which this type will misread",
        )


# --- the status callback -------------------------------------------------------------------------
def status_callback(
    arg: object, position: int, diagnostics: Diagnostics, name: str
) -> StatusCallback | None:
    """RM_WRITE_STATUS_CALLBACK: what the DLL will call with the percentage.

    A ctypes callback made from a Python function is called through ctypes, which reports an
    exception in it as "Exception ignored on calling ctypes callback function" and carries on,
    exactly as on Windows. A Python callable (direct calls only) is called the same way. A
    function pointer rmcore cannot run safely (made from an integer, or another library's
    function) is not called: a diagnostic says so.
    """
    arg = as_parameter(arg)
    if arg is None or (isinstance(arg, int) and not isinstance(arg, bool) and arg == 0):
        return None
    if isinstance(arg, FunctionPointer):
        if not ctypes.cast(arg, ctypes.c_void_p).value:  # type: ignore[arg-type]
            return None
        if any(type(item).__name__ == "CThunkObject" for item in walk((arg,))):
            native: StatusCallback = arg  # type: ignore[assignment]
            return native
    elif callable(arg):
        function = arg
        return lambda percent: _call_reporting(function, percent)
    else:
        pointer(arg, position)  # refuse what ctypes cannot convert, like ctypes
    diagnostics.report(
        name, "not a callback rmcore can run (a raw function address): no progress is reported"
    )
    return None


def _call_reporting(function: Callable[[int], object], percent: int) -> None:
    """Call a Python callback; an exception in it is reported as ctypes reports one from a
    callback (through ``sys.unraisablehook``) and the caller carries on."""
    try:
        function(percent)
    except Exception as exc:
        sys.unraisablehook(
            types.SimpleNamespace(  # the attributes of sys.UnraisableHookArgs
                exc_type=type(exc),
                exc_value=exc,
                exc_traceback=exc.__traceback__,
                err_msg="Exception ignored on calling ctypes callback function",
                object=function,
            )
        )
