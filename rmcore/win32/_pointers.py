"""ctypes arguments as memory: what address a pointer argument passes, and how much of the
caller's object lies behind it.

ctypes' own conversions, followed exactly: ``None`` and ``0`` are NULL; an ``int`` is an
address; ``byref``, ``pointer``, arrays, structures, ``c_void_p``, ``c_wchar_p`` and buffers
are the memory they designate, with the extent ctypes keeps alive behind them (so nothing is
read or written past the caller's object); a ctypes integer is passed by value; ``str`` and
``bytes`` are temporary copies. What ctypes cannot convert is ``ctypes.ArgumentError``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from dataclasses import dataclass

from ._memory import Region, extent_of

__all__ = [
    "MASK32",
    "FunctionPointer",
    "Pointer",
    "as_parameter",
    "convert_error",
    "is_integer_instance",
    "pointer",
    "pointer_region",
    "to_integer",
    "walk",
]

MASK32 = 0xFFFFFFFF
_INTEGERS = frozenset("bBhHiIlLqQ?v")  # ctypes codes whose .value is an int, read safely
_MASK64 = (1 << 64) - 1
_CArgObject = type(ctypes.byref(ctypes.c_int()))
_CData: type = ctypes.c_int.__mro__[-2]  # ctypes does not export it
FunctionPointer: type = ctypes.CFUNCTYPE(None).__mro__[1]
_CAPSULE_NAME = ctypes.pythonapi.PyCapsule_GetName
_CAPSULE_NAME.restype, _CAPSULE_NAME.argtypes = ctypes.c_char_p, (ctypes.py_object,)
_CAPSULE_POINTER = ctypes.pythonapi.PyCapsule_GetPointer
_CAPSULE_POINTER.restype = ctypes.c_void_p
_CAPSULE_POINTER.argtypes = (ctypes.py_object, ctypes.c_char_p)


def convert_error(position: int, exc_type: str, message: str) -> ctypes.ArgumentError:
    return ctypes.ArgumentError(f"argument {position}: {exc_type}: {message}")


def as_parameter(arg: object) -> object:
    for _ in range(8):  # ctypes follows as_parameter_ the same way
        if not hasattr(arg, "as_parameter_"):
            break
        arg = arg.as_parameter_
    return arg


def to_integer(value: int, position: int) -> int:
    if not -(1 << 63) <= value <= _MASK64:
        raise convert_error(position, "OverflowError", "int too long to convert")
    return value & _MASK64


def is_integer_instance(arg: object) -> bool:
    """A ctypes integer (not a pointer, not a string pointer whose ``.value`` would read
    memory): ctypes passes its value, not its address."""
    return isinstance(arg, ctypes._SimpleCData) and getattr(type(arg), "_type_", "") in _INTEGERS


# --- pointers ----------------------------------------------------------------------------------
@dataclass
class Pointer:
    """A non-NULL pointer argument: the memory it designates and what ctypes keeps alive
    behind it (for finding the extent of pointers stored inside that memory)."""

    region: Region
    keep: tuple[object, ...]
    by_value: bool = False  # a ctypes integer passed where a pointer goes (no byref)
    temporary: bool = False  # a str/bytes: ctypes passes a copy it discards after the call

    def known(self) -> Iterator[tuple[int, int, type | None]]:
        """(start, end, type) of memory reachable from the argument (ctypes' keep-alives)."""
        yield from _reachable(self.keep)

    def strings(self) -> frozenset[int]:
        """Addresses of strings ctypes made from ``str``/``bytes`` (owned, NUL-terminated)."""
        return frozenset(_capsules(self.keep))


def pointer(arg: object, position: int) -> Pointer | None:
    """The memory a pointer argument designates, or ``None`` for NULL."""
    found = pointer_region(as_parameter(arg), position)
    if found is None:
        return None
    region, keep, by_value = found
    return Pointer(region, keep, by_value, temporary=isinstance(arg, (str, bytes)))


def pointer_region(arg: object, position: int) -> tuple[Region, tuple[object, ...], bool] | None:
    if arg is None:
        return None
    if isinstance(arg, int):  # bool included: ctypes passes True as 1
        address = to_integer(arg, position)
        return None if address == 0 else (Region(address, None, None), (), False)
    if isinstance(arg, _CArgObject):
        target = arg._obj  # type: ignore[attr-defined]
        address = ctypes.cast(arg, ctypes.c_void_p).value or 0
        return _owned(target, address, _element_type(target))
    if isinstance(arg, ctypes.Array):
        return _owned(arg, ctypes.addressof(arg), arg._type_)
    if isinstance(arg, (ctypes.Structure, ctypes.Union)):
        return _owned(arg, ctypes.addressof(arg), type(arg))
    if isinstance(arg, (ctypes._Pointer, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_wchar_p)):
        address = ctypes.cast(arg, ctypes.c_void_p).value or 0
        if address == 0:
            return None
        element = _pointee(arg)
        keep = (arg,)
        return Region(address, _extent_in(keep, address), element), keep, False
    if is_integer_instance(arg):
        address = arg.value & _MASK64  # type: ignore[attr-defined]  # passed by value
        return None if address == 0 else (Region(address, None, None), (arg,), True)
    if isinstance(arg, FunctionPointer):
        address = ctypes.cast(arg, ctypes.c_void_p).value or 0  # type: ignore[arg-type]
        return None if address == 0 else (Region(address, None, None), (arg,), False)
    if isinstance(arg, (str, bytes)):
        return _temporary(arg)
    raise convert_error(position, "TypeError", f"Don't know how to convert parameter {position}")


def _owned(
    target: object, address: int, element: type | None
) -> tuple[Region, tuple[object, ...], bool]:
    assert isinstance(target, _CData)
    extent = extent_of(target)
    size = None if extent is None else max(0, extent[1] - address)
    if extent is not None and not extent[0] <= address <= extent[1]:
        size = None
    return Region(address, size, element), (target,), False


def _element_type(target: object) -> type:
    return target._type_ if isinstance(target, ctypes.Array) else type(target)


def _pointee(arg: object) -> type | None:
    if isinstance(arg, ctypes._Pointer):
        return arg._type_
    if isinstance(arg, ctypes.c_wchar_p):
        return ctypes.c_wchar
    if isinstance(arg, ctypes.c_char_p):
        return ctypes.c_char
    return None


def _temporary(arg: str | bytes) -> tuple[Region, tuple[object, ...], bool]:
    """``str``/``bytes`` where a pointer goes: ctypes passes a temporary NUL-terminated copy."""
    buffer: ctypes.Array[ctypes.c_wchar] | ctypes.Array[ctypes.c_char]
    if isinstance(arg, str):
        buffer = ctypes.create_unicode_buffer(arg)
    else:
        buffer = ctypes.create_string_buffer(arg)
    region, keep, _ = _owned(buffer, ctypes.addressof(buffer), buffer._type_)
    return region, keep, False


def walk(objects: object, depth: int = 0) -> Iterator[object]:
    """Every object ctypes keeps alive behind *objects* (bounded)."""
    if depth > 4 or objects is None:
        return
    if isinstance(objects, (dict, tuple)):
        values = objects.values() if isinstance(objects, dict) else objects
        for value in list(values)[:64]:
            yield from walk(value, depth + 1)
        return
    yield objects
    if isinstance(objects, _CData):
        yield from walk(objects._objects, depth + 1)  # type: ignore[attr-defined]


def _reachable(keep: tuple[object, ...]) -> Iterator[tuple[int, int, type | None]]:
    for item in walk(keep):
        if isinstance(item, _CData):
            extent = extent_of(item)
            if extent is not None:
                yield extent[0], extent[1], _element_type(item)


def _capsules(keep: tuple[object, ...]) -> Iterator[int]:
    for item in walk(keep):
        if type(item).__name__ == "PyCapsule":
            name = _CAPSULE_NAME(item)
            address = _CAPSULE_POINTER(item, name)
            if address:
                yield address


def _extent_in(keep: tuple[object, ...], address: int) -> int | None:
    """Bytes from *address* to the end of the kept object that contains it, if any."""
    for start, end, _element in _reachable(keep):
        if start <= address < end:
            return end - address
    return None
