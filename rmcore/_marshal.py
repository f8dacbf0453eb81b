"""Reading and writing Rm* arguments the way ctypes callers pass them.

Out-parameters arrive as ``byref(x)``, ``pointer(x)``, the ctypes instance itself, a raw
address, or ``None`` (NULL); key buffers as ctypes arrays of 16- or 32-bit characters;
input strings as ``str``, ``c_wchar_p`` or character arrays; DWORDs as ``int`` or ctypes
integers. Anything unreadable raises :class:`BadArgument` (the caller returns 160).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

__all__ = ["BadArgument", "dword_value", "out_dword", "read_wstr", "wstr_buffer"]

_MASK32 = 0xFFFFFFFF


class BadArgument(ValueError):
    """An argument that cannot be what the Win32 signature asks for."""


def _unwrap(param: object) -> object:
    """The object behind ``byref(x)`` (a CArgObject exposes it as ``_obj``)."""
    return getattr(param, "_obj", param) if type(param).__name__ == "CArgObject" else param


def _is_null(param: object) -> bool:
    return param is None or (isinstance(param, int) and param == 0)


def dword_value(param: object) -> int:
    """A DWORD input: ``int`` or ctypes integer, wrapped to 32 bits as ctypes does."""
    if param is None:
        return 0
    value = getattr(param, "value", param)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadArgument(f"expected a DWORD, got {type(param).__name__}")
    return value & _MASK32


def out_dword(param: object) -> Callable[[int], None] | None:
    """A setter for a ``DWORD *`` out-parameter, or ``None`` when it is NULL."""
    if _is_null(param):
        return None
    target = _unwrap(param)
    if isinstance(target, ctypes._Pointer):
        if not target:
            return None
        target = target.contents
    if isinstance(target, int):  # a raw address, as the DLL would take it
        target = ctypes.c_uint32.from_address(target)
    if isinstance(target, ctypes._SimpleCData) and isinstance(target.value, int):
        simple = target

        def write(value: int) -> None:
            simple.value = value

        return write
    raise BadArgument(f"expected a pointer to a DWORD, got {type(param).__name__}")


def _char_size(array_type: type) -> int | None:
    element = getattr(array_type, "_type_", None)
    if element is ctypes.c_wchar:
        return ctypes.sizeof(ctypes.c_wchar)
    if element in (ctypes.c_uint16, ctypes.c_int16):
        return 2
    return None


def wstr_buffer(param: object) -> tuple[int, Callable[[str], None]] | None:
    """(capacity in characters, writer) for a ``WCHAR[]`` out-buffer, or ``None`` if NULL."""
    if _is_null(param):
        return None
    target = _unwrap(param)
    if isinstance(target, ctypes.Array) and _char_size(type(target)) is not None:
        array: ctypes.Array[ctypes.c_wchar] | ctypes.Array[ctypes.c_uint16] = target
        as_units = getattr(type(array), "_type_", None) is not ctypes.c_wchar

        def write(text: str) -> None:
            for index, char in enumerate(text + "\0"):
                array[index] = ord(char) if as_units else char

        return len(array), write
    raise BadArgument(f"expected a WCHAR buffer, got {type(param).__name__}")


def read_wstr(param: object) -> str | None:
    """An input ``LPCWSTR`` as ``str`` (up to the first NUL), or ``None`` if NULL."""
    if _is_null(param):
        return None
    target = _unwrap(param)
    if isinstance(target, str):
        text = target
    elif isinstance(target, ctypes.c_wchar_p):
        if target.value is None:
            return None
        text = target.value
    elif isinstance(target, ctypes.Array) and _char_size(type(target)) is not None:
        text = "".join(c if isinstance(c, str) else chr(c) for c in target)
    else:
        raise BadArgument(f"expected a string, got {type(param).__name__}")
    return text.split("\0", 1)[0]
