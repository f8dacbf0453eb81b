"""Reading and writing Rm* arguments the way ctypes callers pass them.

Out-parameters arrive as ``byref(x)``, ``pointer(x)``, the ctypes instance itself, a raw
address, or ``None`` (NULL); key buffers as ctypes arrays of 16- or 32-bit characters;
input strings as ``str``, ``c_wchar_p`` or character arrays; DWORDs as ``int`` or ctypes
integers. Anything unreadable raises :class:`BadArgument` (the caller returns 160).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from ._types import read_unique_process

__all__ = [
    "BadArgument",
    "array_items",
    "byte_buffer",
    "dword_ref",
    "dword_value",
    "is_null",
    "read_processes",
    "read_wstr",
    "read_wstr_array",
    "status_callback",
    "struct_array",
    "unwrap",
    "wstr_buffer",
]

_MASK32 = 0xFFFFFFFF


class BadArgument(ValueError):
    """An argument that cannot be what the Win32 signature asks for."""


def unwrap(param: object) -> object:
    """The object behind ``byref(x)`` (a CArgObject exposes it as ``_obj``)."""
    return getattr(param, "_obj", param) if type(param).__name__ == "CArgObject" else param


def is_null(param: object) -> bool:
    """NULL in every spelling: ``None``, ``0``, a NULL typed pointer, ``c_void_p(None)``."""
    if param is None:
        return True
    if isinstance(param, int) and not isinstance(param, bool):
        return param == 0
    if isinstance(param, ctypes._Pointer):
        return not param
    if isinstance(param, (ctypes.c_void_p, ctypes.c_wchar_p, ctypes.c_char_p)):
        return param.value is None
    return False


def dword_value(param: object) -> int:
    """A DWORD input: ``int`` or ctypes integer, wrapped to 32 bits as ctypes does."""
    if param is None:
        return 0
    value = getattr(param, "value", param)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadArgument(f"expected a DWORD, got {type(param).__name__}")
    return value & _MASK32


def dword_ref(param: object) -> ctypes._SimpleCData[int] | None:
    """The integer a ``DWORD *`` / ``UINT *`` points at (read and write ``.value``), or
    ``None`` when the pointer is NULL."""
    if is_null(param):
        return None
    target = unwrap(param)
    if isinstance(target, ctypes._Pointer):
        if not target:
            return None
        target = target.contents
    if isinstance(target, int):  # a raw address, as the DLL would take it
        target = ctypes.c_uint32.from_address(target)
    if isinstance(target, ctypes._SimpleCData) and isinstance(target.value, int):
        return target
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
    if is_null(param):
        return None
    target = unwrap(param)
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
    if is_null(param):
        return None
    target = unwrap(param)
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


def array_items(param: object, count: int) -> list[object]:
    """The first *count* elements of an input array (NULL only when *count* is 0)."""
    if count == 0:
        return []
    if is_null(param):
        raise BadArgument("NULL array with a non-zero count")
    target = unwrap(param)
    if isinstance(target, (list, tuple, ctypes.Array)):
        if len(target) < count:
            raise BadArgument(f"array of {len(target)} for a count of {count}")
        return list(target[:count])
    if isinstance(target, ctypes._Pointer):
        return [target[index] for index in range(count)]
    if isinstance(target, ctypes.Structure) and count == 1:
        return [target]
    raise BadArgument(f"expected an array, got {type(param).__name__}")


def read_wstr_array(param: object, count: int) -> list[str]:
    """``LPCWSTR[]``: *count* non-empty strings."""
    texts = [read_wstr(item) for item in array_items(param, count)]
    if any(not text for text in texts):
        raise BadArgument("NULL or empty string in the array")
    return [text for text in texts if text]


def read_processes(param: object, count: int) -> list[tuple[int, int]]:
    """``RM_UNIQUE_PROCESS[]``: (PID, start FILETIME) pairs, read by field name."""
    pairs = []
    for item in array_items(param, count):
        if not isinstance(item, ctypes.Structure):
            raise BadArgument(f"expected RM_UNIQUE_PROCESS, got {type(item).__name__}")
        try:
            pairs.append(read_unique_process(item))
        except (AttributeError, TypeError) as exc:
            raise BadArgument(str(exc)) from exc
    return pairs


def struct_array(param: object) -> tuple[Callable[[int], ctypes.Structure], int | None] | None:
    """(element getter, length if known) of an output struct array; a bare pointer has no
    known length and the caller's count is trusted, as by the DLL. ``None`` when NULL."""
    if is_null(param):
        return None
    target = unwrap(param)
    if isinstance(target, ctypes.Array) and issubclass(target._type_, ctypes.Structure):
        array: ctypes.Array[ctypes.Structure] = target
        return array.__getitem__, len(array)
    if isinstance(target, ctypes._Pointer) and target:
        pointer: ctypes._Pointer[ctypes.Structure] = target
        return pointer.__getitem__, None
    if isinstance(target, ctypes.Structure):
        single = target
        return (lambda _index: single), 1
    raise BadArgument(f"expected an array of structures, got {type(param).__name__}")


def byte_buffer(param: object) -> tuple[int, int | None] | None:
    """(address, size if known) of a ``PBYTE`` buffer, or ``None`` when NULL."""
    if is_null(param):
        return None
    target = unwrap(param)
    if isinstance(target, ctypes.Array):
        return ctypes.addressof(target), ctypes.sizeof(target)
    if isinstance(target, ctypes._Pointer) and target:
        return ctypes.addressof(target.contents), None
    if isinstance(target, int):
        return target, None
    raise BadArgument(f"expected a byte buffer, got {type(param).__name__}")


def status_callback(param: object) -> Callable[[int], object] | None:
    """An RM_WRITE_STATUS_CALLBACK: a Python callable or a ctypes function pointer."""
    if is_null(param):
        return None
    if callable(param):
        return param if param else None  # a NULL CFUNCTYPE pointer is falsy
    raise BadArgument(f"expected a callback, got {type(param).__name__}")
