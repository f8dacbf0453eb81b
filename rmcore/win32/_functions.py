"""The function objects of simulated DLLs: what ``dll.RmGetList`` is while a patch is active.

A :class:`SimulatedFunction` behaves as a ctypes foreign function does: it takes
``argtypes``, ``restype`` and ``errcheck``; a prototype's ``paramflags`` (in, out and in/out
parameters, keyword arguments, defaults); it converts and checks arguments as ctypes would on
Windows (``ctypes.ArgumentError`` where ctypes refuses; a Python int passed without argtypes
is a 32-bit C int, as ctypes passes it); it converts the C result through ``restype``; and it
copies the last error for ``use_last_error`` DLLs. The call itself goes to the simulated
library's implementation.
"""

from __future__ import annotations

import ctypes
import warnings
from collections.abc import Callable
from typing import Any, Protocol

from .._errors import RmUsageWarning
from . import _winctypes
from ._memory import check_address

__all__ = ["Library", "SimulatedFunction", "StaleDLLError"]

_CArgObject = type(ctypes.byref(ctypes.c_int()))
_CFuncPtr: type = ctypes.CFUNCTYPE(None).__mro__[1]
_PARAMFLAG_IN, _PARAMFLAG_OUT, _PARAMFLAG_LCID = 1, 2, 4

# ctypes type code -> (kind, size) on Windows (long 32-bit, wchar_t 16-bit), so two types
# compare equal here exactly when they are the same type there.
_WINDOWS_SIMPLE = {
    "b": ("int", 1), "B": ("uint", 1), "h": ("int", 2), "H": ("uint", 2),
    "i": ("int", 4), "I": ("uint", 4), "l": ("int", 4), "L": ("uint", 4),
    "q": ("int", 8), "Q": ("uint", 8), "u": ("wchar", 2), "c": ("char", 1),
}  # fmt: skip


class StaleDLLError(RuntimeError):
    """A simulated DLL object was called after the patch it was loaded under stopped."""


class Library(Protocol):
    """A simulated DLL: its functions by name, each with its parameter count (-1: any)."""

    name: str

    def implementation(self, function: str) -> tuple[Callable[..., Any], int] | None: ...
    def live(self) -> bool: ...


def _windows_shape(ctype: Any) -> object:
    """A key equal for two ctypes types exactly when they are the same type on Windows."""
    if isinstance(ctype, type):
        if issubclass(ctype, ctypes._SimpleCData):
            code = str(getattr(ctype, "_type_", ""))
            return ("simple", _WINDOWS_SIMPLE.get(code, code))
        if issubclass(ctype, ctypes._Pointer):
            return ("pointer", _windows_shape(ctype._type_))
        if issubclass(ctype, ctypes.Array):
            return ("array", ctype._length_, _windows_shape(ctype._type_))
    return ("type", ctype)  # structures, unions, callbacks: only the very same class


def _pointee(arg: object) -> Any:
    """The type an argument points at, if it is a pointer, ``byref()`` or array."""
    if isinstance(arg, _CArgObject):
        return type(getattr(arg, "_obj", None))
    if isinstance(arg, (ctypes._Pointer, ctypes.Array)):
        return type(arg)._type_
    return None


def _windows_accepts(argtype: Any, arg: object) -> bool:
    """Whether ``argtype.from_param(arg)``, refused here, would be accepted on Windows."""
    if isinstance(argtype, type) and issubclass(argtype, ctypes._Pointer):
        pointee = _pointee(arg)
        return pointee is not None and _windows_shape(pointee) == _windows_shape(argtype._type_)
    if isinstance(argtype, type) and issubclass(argtype, ctypes._SimpleCData):
        same = _windows_shape(type(arg)) == _windows_shape(argtype)
        return isinstance(arg, ctypes._SimpleCData) and same
    return False


_CONVERTIBLE: tuple[type, ...] = (int, str, bytes, ctypes._SimpleCData, ctypes._Pointer)
_CONVERTIBLE += (ctypes.Array, ctypes.Structure, ctypes.Union, _CFuncPtr, _CArgObject)


def _as_parameter(arg: object) -> object:
    for _ in range(8):
        if not hasattr(arg, "_as_parameter_"):
            break
        arg = arg._as_parameter_
    return arg


def _c_int(value: int) -> int:
    """A Python int as ctypes passes it without argtypes: a 32-bit C int."""
    low = value & 0xFFFFFFFF
    return low - (1 << 32) if low & 0x80000000 else low


def _result(restype: Any, value: Any) -> Any:
    """*value* converted as ctypes converts a C return value through ``restype``."""
    if restype is None:
        return None
    if not isinstance(value, int):
        return value  # an implementation returning a Python object (stand-in functions)
    if isinstance(restype, type) and issubclass(restype, ctypes._SimpleCData):
        code = getattr(restype, "_type_", None)
        if code == "O":
            raise TypeError(f"restype {restype.__name__} cannot hold a C result")
        if code in ("z", "Z"):  # ctypes reads a string at the result: an address
            if value == 0:
                return None
            check_address(value, writing=False)  # a Win32 code is no address: as on Windows
            if code == "Z":
                return ctypes.wstring_at(value)
            return ctypes.string_at(value)
        instance = restype(value)
        fundamental = ctypes._SimpleCData in restype.__bases__
        converted: Any = instance.value if fundamental else instance
        checker = getattr(restype, "_check_retval_", None)
        return converted if checker is None else checker(converted)
    if isinstance(restype, type) and issubclass(restype, ctypes._Pointer):
        return ctypes.cast(value, restype)
    return restype(value)  # a plain callable receives the C int


class SimulatedFunction:
    """One export of a simulated DLL, with ctypes' foreign-function interface."""

    def __init__(
        self,
        library: Library,
        name: str,
        *,
        use_last_error: bool = False,
        restype: Any = ctypes.c_int,
        argtypes: Any = None,
        paramflags: tuple[tuple[Any, ...], ...] | None = None,
    ) -> None:
        found = library.implementation(name)
        if found is None:
            raise AttributeError(f"function '{name}' not found")
        self.__name__ = name
        self._library = library
        self._implementation, self._arity = found
        self._use_last_error = use_last_error
        self._restype: Any = restype
        self._argtypes: Any = None
        self._errcheck: Callable[..., Any] | None = None
        if argtypes is not None:
            self.argtypes = argtypes
        self._paramflags = self._checked_paramflags(paramflags)

    def __repr__(self) -> str:
        return f"<rmcore simulated {self._library.name}.{self.__name__}>"

    # -- the attributes ctypes code sets ----------------------------------------------------

    @property
    def argtypes(self) -> Any:
        return self._argtypes

    @argtypes.setter
    def argtypes(self, value: Any) -> None:
        if value is not None:
            if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
                raise TypeError("_argtypes_ must be a sequence of types")
            for index, item in enumerate(value, 1):
                if not hasattr(item, "from_param"):
                    raise TypeError(f"item {index} in _argtypes_ has no from_param method")
            value = tuple(value)
        self._argtypes = value

    @argtypes.deleter
    def argtypes(self) -> None:
        self._argtypes = None

    @property
    def restype(self) -> Any:
        return self._restype

    @restype.setter
    def restype(self, value: Any) -> None:
        if value is not None and not callable(value):
            raise TypeError("restype must be a type, a callable, or None")
        self._restype = value

    @restype.deleter
    def restype(self) -> None:
        self._restype = ctypes.c_int

    @property
    def errcheck(self) -> Callable[..., Any] | None:
        return self._errcheck

    @errcheck.setter
    def errcheck(self, value: Callable[..., Any]) -> None:
        if not callable(value):
            raise TypeError("the errcheck attribute must be callable")
        self._errcheck = value

    @errcheck.deleter
    def errcheck(self) -> None:
        self._errcheck = None

    # -- calling -------------------------------------------------------------------------------

    def _checked_paramflags(
        self, paramflags: tuple[tuple[Any, ...], ...] | None
    ) -> tuple[tuple[Any, ...], ...] | None:
        if paramflags is None:
            return None
        if not isinstance(paramflags, tuple):
            raise TypeError("paramflags must be a tuple or None")
        if self._argtypes is not None and len(paramflags) != len(self._argtypes):
            raise ValueError("paramflags must have the same length as argtypes")
        for item in paramflags:
            if not isinstance(item, tuple) or not item or not isinstance(item[0], int):
                raise TypeError("paramflags must be a sequence of (int [,string [,value]]) tuples")
        return paramflags

    def _bind_params(
        self, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> tuple[list[object], list[object]]:
        """ctypes' argument building from ``paramflags``: (call arguments, out objects)."""
        assert self._paramflags is not None
        given, call_args, outs = list(args), [], []
        for index, item in enumerate(self._paramflags):
            flag, name = item[0], item[1] if len(item) > 1 else None
            direction = flag & (_PARAMFLAG_IN | _PARAMFLAG_OUT)
            if flag & _PARAMFLAG_LCID:
                call_args.append(item[2] if len(item) > 2 else 0)
            elif direction == _PARAMFLAG_OUT:
                argtype = self._argtypes[index] if self._argtypes else None
                pointee = getattr(argtype, "_type_", None)
                if not isinstance(pointee, type):
                    raise TypeError(f"output parameter {index + 1} needs a pointer argtype")
                out = pointee()
                outs.append(out)
                call_args.append(ctypes.byref(out))
            else:
                if given:
                    value = given.pop(0)
                elif name is not None and name in kwargs:
                    value = kwargs.pop(name)
                elif len(item) > 2:
                    value = item[2]
                else:
                    raise TypeError(f"required argument '{name or index + 1}' missing")
                call_args.append(value)
                if direction == _PARAMFLAG_IN | _PARAMFLAG_OUT:
                    outs.append(value)
        if kwargs:
            raise TypeError(
                f"{self.__name__}() got an unexpected keyword argument {next(iter(kwargs))!r}"
            )
        return call_args + given, outs

    def _converted(self, args: list[object]) -> list[object]:
        """Arguments checked and converted as ctypes converts them on Windows."""
        argtypes = self._argtypes
        if argtypes is not None and len(args) < len(argtypes):
            count = len(argtypes)
            raise TypeError(
                f"this function takes at least {count} argument{'s' * (count != 1)} "
                f"({len(args)} given)"
            )
        converted = []
        for index, arg in enumerate(args, 1):
            arg = _as_parameter(arg)
            if argtypes is not None and index <= len(argtypes):
                argtype = argtypes[index - 1]
                try:
                    argtype.from_param(arg)
                except Exception as exc:
                    if not _windows_accepts(argtype, arg):
                        raise ctypes.ArgumentError(
                            f"argument {index}: {type(exc).__name__}: {exc}"
                        ) from None
                pointee = getattr(argtype, "_type_", None) if isinstance(argtype, type) else None
                if (
                    isinstance(argtype, type)
                    and issubclass(argtype, ctypes._Pointer)
                    and isinstance(pointee, type)
                    and isinstance(arg, pointee)
                ):
                    arg = ctypes.byref(arg)  # type: ignore[arg-type]  # ctypes passes T by reference
            elif arg is not None and not isinstance(arg, _CONVERTIBLE):
                raise ctypes.ArgumentError(
                    f"argument {index}: TypeError: Don't know how to convert parameter {index}"
                )
            elif isinstance(arg, int) and not isinstance(arg, bool):
                if not -(1 << 63) <= arg < 1 << 64:
                    raise ctypes.ArgumentError(
                        f"argument {index}: OverflowError: int too long to convert"
                    )
                if _c_int(arg) != arg and not -(1 << 31) <= arg < 1 << 32:
                    warnings.warn(
                        f"{self.__name__}: argument {index}: without argtypes ctypes passes "
                        f"the int {arg:#x} as a 32-bit C int; the DLL sees "
                        f"{_c_int(arg) & 0xFFFFFFFF:#x}",
                        RmUsageWarning,
                        stacklevel=3,
                    )
                arg = _c_int(arg)
            converted.append(arg)
        return converted

    def __call__(self, *args: object, **kwargs: object) -> Any:
        if not self._library.live():
            raise StaleDLLError(
                f"{self.__name__}: this {self._library.name} DLL object was loaded under an "
                "rmcore.patch() that has stopped; load the DLL again (code that caches it in a "
                "module global must reset that global, e.g. "
                "monkeypatch.setattr(module, '_dll', None))"
            )
        outs: list[object] = []
        if self._paramflags is not None:
            call_args, outs = self._bind_params(args, dict(kwargs))
        elif kwargs:  # ctypes silently drops them; that hides a bug, so refuse
            raise TypeError(f"{self.__name__} takes no keyword arguments")
        else:
            call_args = list(args)
        converted = self._converted(call_args)
        if len(converted) < self._arity:  # undefined behaviour on Windows; refused here
            raise TypeError(
                f"{self.__name__} takes {self._arity} arguments ({len(converted)} given)"
            )
        raw = self._implementation(*(converted if self._arity < 0 else converted[: self._arity]))
        if self._use_last_error:
            _winctypes.set_last_error(_winctypes.system_error())
        result = _result(self._restype, raw)
        call_tuple = tuple(call_args)
        if self._errcheck is not None:
            checked = self._errcheck(result, self, call_tuple)
            if checked is not call_tuple:
                return checked
        if not outs:
            return result
        values = [getattr(out, "__ctypes_from_outparam__", lambda o=out: o)() for out in outs]
        return values[0] if len(values) == 1 else tuple(values)
