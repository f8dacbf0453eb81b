"""``rmcore.patch()``: unchanged ctypes code that loads rstrtmgr.dll gets a Simulator, on any OS.

While a patch is active, every way ctypes code loads the DLL (``ctypes.WinDLL("rstrtmgr")``,
``ctypes.windll.rstrtmgr``, ``LoadLibrary``, a full path, ``CDLL``/``cdll``, any case, and
``ctypes.util.find_library("rstrtmgr")``) yields a DLL object whose exports call the
:class:`~rmcore.Simulator`. Other libraries load as before. Off Windows the patch also
provides ``WinDLL``, ``windll``, ``WINFUNCTYPE``, ``WinError``, ``FormatError``,
``GetLastError`` and ``get_last_error``/``set_last_error`` for its duration, and removes them
after.

How: ``ctypes.CDLL.__init__`` (which ``WinDLL``, ``PyDLL`` and the loaders all go through) is
swapped for one that, for the rstrtmgr names only, sets the instance up with a function
factory instead of a real library handle. Because the class itself is not replaced,
references captured before the patch (``from ctypes import WinDLL``) are intercepted too, and
a loaded DLL is an instance of exactly the class asked for.

A DLL object is bound to the Simulator of the patch it was loaded under (one process, one
DLL). Once that patch stops, calling it raises :class:`StaleDLLError`: code that caches the
loaded DLL in a module global must reset that cache between patches.

Caveat: while patched off Windows, code that detects Windows by ``hasattr(ctypes, "windll")``
believes it is on Windows; ``WinDLL`` of any other name is a plain ``CDLL`` load (so
``windll.kernel32`` raises OSError). Prototype-style binding
(``WINFUNCTYPE(...)(("RmStartSession", dll))``) needs a real symbol and is not supported.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import inspect
import os
import re
import shutil
import sys
import tempfile
import threading
import unittest
import warnings
from _ctypes import CFuncPtr as _CFuncPtr
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar, overload

from .. import winerror
from ..world._world import WorldView
from ._faults import EXPORTS
from ._rstrtmgr import Simulator

__all__ = ["Patcher", "StaleDLLError", "active_simulator", "is_rstrtmgr_name", "patch"]

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])

_DLL_NAMES = frozenset({"rstrtmgr", "ext-ms-win-base-rstrtmgr-l1-1-0"})
_FIND_LIBRARY_RESULT = "C:\\Windows\\System32\\rstrtmgr.dll"  # what Windows' find_library gives
_SIMULATOR_OPTIONS = ("store", "max_sessions", "mutex_timeout", "world", "ts_session")
_OPTIONS = (*_SIMULATOR_OPTIONS, "faults")
_MISSING: Any = object()
# What an unpatched ctypes has, for calls through references captured while patched.
_ORIGINAL_CDLL_INIT: Callable[..., None] = ctypes.CDLL.__dict__["__init__"]
_ORIGINAL_FIND_LIBRARY: Callable[[str], str | None] = ctypes.util.find_library

# Parameter count of each export (without self), for calls made without argtypes.
_ARITY = {name: len(inspect.signature(getattr(Simulator, name)).parameters) - 1 for name in EXPORTS}


class StaleDLLError(RuntimeError):
    """A simulated rstrtmgr.dll object was called after the patch it was loaded under stopped."""


def is_rstrtmgr_name(name: object) -> bool:
    """Whether a library name or path names rstrtmgr.dll: any case, ``.dll`` optional, any
    directory, and the API-set name ``ext-ms-win-base-rstrtmgr-l1-1-0``."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    if not isinstance(name, str):
        return False
    base = re.split(r"[\\/]", name)[-1].strip().lower()
    if base.endswith(".dll"):
        base = base[:-4]
    return base in _DLL_NAMES


# --- Windows-only ctypes names, provided off Windows for the duration -------------------------
class WinDLL(ctypes.CDLL):
    """``ctypes.WinDLL`` off Windows: a CDLL (x64 has a single calling convention)."""


_last_error = threading.local()


def _get_last_error() -> int:
    """``ctypes.get_last_error`` off Windows: this thread's value (0 until set)."""
    value: int = getattr(_last_error, "value", 0)
    return value


def _set_last_error(value: int) -> int:
    """``ctypes.set_last_error`` off Windows: set this thread's value, return the old one."""
    old = _get_last_error()
    _last_error.value = int(value)
    return old


def _format_error(code: int | None = None) -> str:
    """``ctypes.FormatError`` off Windows: the system message for *code*."""
    if code is None:
        code = _get_last_error()
    return winerror.MESSAGES.get(code, "<no description>")


class _WindowsOSError(OSError):
    """What ``ctypes.WinError`` returns off Windows: an OSError carrying ``winerror``."""

    winerror: int

    def __str__(self) -> str:
        return f"[WinError {self.winerror}] {self.strerror}"


def _win_error(code: int | None = None, descr: str | None = None) -> OSError:
    """``ctypes.WinError`` off Windows: an OSError for a Win32 code (default: the last error)."""
    if code is None:
        code = _get_last_error()
    if descr is None:
        descr = _format_error(code).strip()
    error = _WindowsOSError(None, descr)
    error.winerror = code
    return error


_windll: ctypes.LibraryLoader[WinDLL] = ctypes.LibraryLoader(WinDLL)

# Added to ctypes only where missing (never on Windows, where the real ones exist).
_WINDOWS_ONLY: dict[str, object] = {
    "WinDLL": WinDLL,
    "windll": _windll,
    "WINFUNCTYPE": ctypes.CFUNCTYPE,
    "WinError": _win_error,
    "FormatError": _format_error,
    "GetLastError": _get_last_error,
    "get_last_error": _get_last_error,
    "set_last_error": _set_last_error,
}


# --- Argument checks as ctypes makes them, judged with Windows type sizes ---------------------
# ctypes type code -> (kind, size) as on Windows, where long is 32-bit and wchar_t 16-bit: so
# wintypes.DWORD (c_ulong) and c_uint32 agree here as they do there, though not on LP64 hosts.
_WINDOWS_SIMPLE = {
    "b": ("int", 1), "B": ("uint", 1), "h": ("int", 2), "H": ("uint", 2),
    "i": ("int", 4), "I": ("uint", 4), "l": ("int", 4), "L": ("uint", 4),
    "q": ("int", 8), "Q": ("uint", 8), "u": ("wchar", 2), "c": ("char", 1),
}  # fmt: skip


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
    if type(arg).__name__ == "CArgObject":
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
_CONVERTIBLE += (ctypes.Array, ctypes.Structure, ctypes.Union, _CFuncPtr)


def _convertible(arg: object) -> bool:
    """What ctypes converts by itself when a function has no argtypes."""
    return (
        arg is None
        or isinstance(arg, _CONVERTIBLE)
        or type(arg).__name__ == "CArgObject"
        or hasattr(arg, "_as_parameter_")
    )


def _as_parameter(arg: object) -> object:
    while hasattr(arg, "_as_parameter_"):
        arg = arg._as_parameter_
    return arg


_POINTER_CODES = ("z", "Z", "O")  # c_char_p, c_wchar_p, py_object: would dereference the code


def _result(restype: Any, value: int) -> Any:
    """*value* converted as ctypes converts a C return value through ``restype``."""
    if restype is None:
        return None
    if isinstance(restype, type) and issubclass(restype, ctypes._SimpleCData):
        if getattr(restype, "_type_", None) in _POINTER_CODES:
            raise TypeError(f"restype {restype.__name__} cannot hold a Win32 error code")
        instance = restype(value)
        fundamental = ctypes._SimpleCData in restype.__bases__
        converted: Any = instance.value if fundamental else instance
        checker = getattr(restype, "_check_retval_", None)
        return converted if checker is None else checker(converted)
    if isinstance(restype, type) and issubclass(restype, ctypes._Pointer):
        return ctypes.cast(value, restype)
    return restype(value)  # a plain callable receives the C int


# --- The simulated DLL ------------------------------------------------------------------------
class _SimulatedFunction:
    """One export of a simulated DLL: takes ``argtypes``, ``restype`` and ``errcheck`` like a
    ctypes function pointer and calls the Simulator method of the same name."""

    def __init__(self, name: str, simulator: Simulator) -> None:
        self.__name__ = name
        self._export = name
        self._simulator = simulator
        self._argtypes: Any = None
        self._restype: Any = ctypes.c_int
        self._errcheck: Callable[..., Any] | None = None

    def __repr__(self) -> str:
        return f"<rmcore simulated {self._export} of {self._simulator!r}>"

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

    def _check_arguments(self, args: tuple[object, ...]) -> None:
        argtypes = self._argtypes
        if argtypes is not None and len(args) < len(argtypes):
            count = len(argtypes)
            raise TypeError(
                f"this function takes at least {count} argument{'s' * (count != 1)} "
                f"({len(args)} given)"
            )
        for index, arg in enumerate(args, 1):
            if argtypes is not None and index <= len(argtypes):
                try:
                    argtypes[index - 1].from_param(arg)
                except Exception as exc:
                    if not _windows_accepts(argtypes[index - 1], arg):
                        raise ctypes.ArgumentError(
                            f"argument {index}: {type(exc).__name__}: {exc}"
                        ) from None
            elif not _convertible(arg):
                raise ctypes.ArgumentError(
                    f"argument {index}: TypeError: Don't know how to convert parameter {index}"
                )
        if len(args) < _ARITY[self._export]:  # undefined behaviour on Windows; refused here
            raise TypeError(
                f"{self._export} takes {_ARITY[self._export]} arguments ({len(args)} given)"
            )

    def __call__(self, *args: object, **kwargs: object) -> Any:
        if kwargs:  # ctypes silently drops them; that hides a bug, so refuse
            raise TypeError(f"{self._export} takes no keyword arguments")
        if not _is_live(self._simulator):
            raise StaleDLLError(
                f"{self._export}: this rstrtmgr DLL object was loaded under an rmcore.patch() "
                "that has stopped; load the DLL again (code that caches it in a module global "
                "must reset that global, e.g. monkeypatch.setattr(module, '_dll', None))"
            )
        self._check_arguments(args)
        export = getattr(self._simulator, self._export)
        code = export(*(_as_parameter(a) for a in args[: _ARITY[self._export]]))
        result = _result(self._restype, code)
        if self._errcheck is not None:
            return self._errcheck(result, self, args)
        return result


class _FunctionFactory:
    """Stands in for a DLL object's ``_FuncPtr`` class: ``CDLL.__getattr__`` and
    ``__getitem__`` call it with ``(name, dll)``; it returns simulated exports."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    def __call__(self, spec: tuple[object, object]) -> _SimulatedFunction:
        name = spec[0]
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        if isinstance(name, int):
            raise AttributeError(f"function ordinal {name} not found")
        if not isinstance(name, str):
            raise TypeError("function name must be string, bytes object or integer")
        if name not in EXPORTS:
            raise AttributeError(f"function '{name}' not found")
        return _SimulatedFunction(name, self.simulator)


def _is_simulated(dll: object) -> bool:
    return isinstance(getattr(dll, "_FuncPtr", None), _FunctionFactory)


def _cdll_init(self: ctypes.CDLL, *args: Any, **kwargs: Any) -> None:
    """``CDLL.__init__`` while patched: rstrtmgr names get the active Simulator."""
    name = args[0] if args else kwargs.get("name")
    simulator = _top_simulator() if is_rstrtmgr_name(name) else None
    if simulator is None:
        (_saved.cdll_init if _saved is not None else _ORIGINAL_CDLL_INIT)(self, *args, **kwargs)
        return
    self._name = name  # type: ignore[assignment]
    self._handle = 0
    self._FuncPtr = _FunctionFactory(simulator)  # type: ignore[assignment]


def _find_library(name: str) -> str | None:
    """``ctypes.util.find_library`` while patched: rstrtmgr resolves to a loadable name."""
    if is_rstrtmgr_name(name):
        return _FIND_LIBRARY_RESULT
    original = _saved.find_library if _saved is not None else _ORIGINAL_FIND_LIBRARY
    return original(name)


# --- What the patch changes, and putting it back ----------------------------------------------
@dataclass
class _Saved:
    """ctypes as it was before the first active patch."""

    ctypes_names: dict[str, object]
    cdll_init: Callable[..., None]
    find_library: Callable[[str], str | None]
    cached: list[tuple[object, str, object]] = field(default_factory=list)


@dataclass
class _Activation:
    patcher: Patcher
    simulator: Simulator
    options: Mapping[str, Any]  # the options the Simulator was made with
    owned: bool  # created for this activation (not an outer patch's, reused)
    temp_dir: str | None


_lock = threading.RLock()
_stack: list[_Activation] = []
_saved: _Saved | None = None


def _top_simulator() -> Simulator | None:
    with _lock:
        return _stack[-1].simulator if _stack else None


def _is_live(simulator: Simulator) -> bool:
    with _lock:
        return any(activation.simulator is simulator for activation in _stack)


def _loaders() -> list[object]:
    loaders = (ctypes.cdll, getattr(ctypes, "windll", None))
    return [loader for loader in loaders if loader is not None]


def _drop_simulated_from_loaders() -> None:
    """Forget simulated DLLs the loaders cached (``ctypes.windll.rstrtmgr``), so the next
    lookup loads from the Simulator now active."""
    for loader in (*_loaders(), _windll):
        for name, value in list(vars(loader).items()):
            if _is_simulated(value):
                delattr(loader, name)


def _install() -> _Saved:
    saved = _Saved(
        ctypes_names={name: getattr(ctypes, name, _MISSING) for name in _WINDOWS_ONLY},
        cdll_init=ctypes.CDLL.__dict__["__init__"],
        find_library=ctypes.util.find_library,
    )
    global _saved
    _saved = saved
    try:
        for name, value in _WINDOWS_ONLY.items():
            if saved.ctypes_names[name] is _MISSING:
                setattr(ctypes, name, value)
        ctypes.CDLL.__init__ = _cdll_init  # type: ignore[method-assign]
        ctypes.util.find_library = _find_library
        for loader in _loaders():  # the real DLL, cached by a loader before the patch
            for name, value in list(vars(loader).items()):
                if is_rstrtmgr_name(name) and not _is_simulated(value):
                    saved.cached.append((loader, name, value))
                    delattr(loader, name)
    except BaseException:
        _uninstall(saved)
        raise
    return saved


def _uninstall(saved: _Saved) -> None:
    """Put back exactly what :func:`_install` found, whatever state it got to."""
    global _saved
    _drop_simulated_from_loaders()
    for loader, name, value in saved.cached:
        setattr(loader, name, value)
    ctypes.util.find_library = saved.find_library  # type: ignore[assignment]
    ctypes.CDLL.__init__ = saved.cdll_init  # type: ignore[method-assign]
    for name, value in saved.ctypes_names.items():
        if value is _MISSING:
            if name in vars(ctypes):
                delattr(ctypes, name)
        else:
            setattr(ctypes, name, value)
    _saved = None


def active_simulator() -> Simulator:
    """The Simulator that rstrtmgr loads get now: the innermost active patch's."""
    simulator = _top_simulator()
    if simulator is None:
        raise RuntimeError("no rmcore.patch() is active")
    return simulator


# --- The patcher ------------------------------------------------------------------------------
class Patcher:
    """One ``rmcore.patch(...)``: a context manager, a decorator, or ``start()``/``stop()``.

    Patches nest and are counted: ctypes is restored when the last one stops. A nested patch
    reuses the active Simulator unless it passes options that differ from that patch's (then
    it warns and uses its own Simulator until it stops). ``store=None`` means a fresh
    temporary store, removed at stop. At stop, a Simulator the patch created is terminated:
    the simulated process that loaded the DLL exits, its open sessions become abandoned.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise TypeError(f"patch() got an unexpected keyword argument {unknown[0]!r}")
        self._options = dict(options)
        self._faults = _fault_rules(options.get("faults"))
        self._activation: _Activation | None = None

    def __repr__(self) -> str:
        state = "active" if self._activation is not None else "inactive"
        return f"<rmcore.Patcher {state} {self._options!r}>"

    def copy(self) -> Patcher:
        """A new, inactive patcher with the same options."""
        return Patcher(self._options)

    @property
    def simulator(self) -> Simulator:
        """The Simulator this patch serves while it is active."""
        if self._activation is None:
            raise RuntimeError("this patch is not active")
        return self._activation.simulator

    def _reuses(self, outer: _Activation) -> bool:
        """True when every option this patch passes equals the one the outer's Simulator
        was made with."""
        outer_options = outer.options
        for name in _SIMULATOR_OPTIONS:
            if name not in self._options:
                continue
            mine = self._options[name]
            if name == "store" and mine is not None:
                if os.path.abspath(os.fspath(mine)) != outer.simulator.store:
                    return False
            elif name == "world":
                if mine is not outer_options.get("world"):
                    return False
            elif mine != outer_options.get(name, _default(name)):
                return False
        return True

    def start(self) -> Simulator:
        """Activate the patch; return the Simulator rstrtmgr loads now get."""
        with _lock:
            if self._activation is not None:
                raise RuntimeError("this patch is already active")
            outer = _stack[-1] if _stack else None
            if outer is not None and self._reuses(outer):
                activation = _Activation(
                    self, outer.simulator, outer.options, owned=False, temp_dir=None
                )
            else:
                if outer is not None:
                    warnings.warn(
                        "rmcore.patch(): another patch with different options is active; "
                        "this one uses its own Simulator until it stops",
                        RuntimeWarning,
                        stacklevel=_caller_level(),
                    )
                activation = self._new_activation()
            try:
                for function, (code, times) in self._faults.items():
                    activation.simulator.faults.fail_next(function, code, times)
                if not _stack:
                    _install()
            except BaseException:
                _release(activation)
                raise
            _stack.append(activation)
            _drop_simulated_from_loaders()
            self._activation = activation
            return activation.simulator

    def _new_activation(self) -> _Activation:
        options = {n: self._options[n] for n in _SIMULATOR_OPTIONS if n in self._options}
        temp_dir = None
        if options.get("store") is None:
            temp_dir = tempfile.mkdtemp(prefix="rmcore-patch-")
            options["store"] = os.path.join(temp_dir, "store")
        try:
            simulator = Simulator(**options)
        except BaseException:
            if temp_dir is not None:
                shutil.rmtree(temp_dir, ignore_errors=True)
            raise
        return _Activation(self, simulator, self._options, owned=True, temp_dir=temp_dir)

    def stop(self) -> None:
        """Deactivate; ctypes is restored when no other patch is active."""
        with _lock:
            activation = self._activation
            if activation is None:
                raise RuntimeError("this patch is not active")
            self._activation = None
            _stack.remove(activation)
            heir = next((a for a in _stack if a.simulator is activation.simulator), None)
            if heir is not None and activation.owned:  # stopped before a patch reusing it
                heir.owned, heir.temp_dir = True, activation.temp_dir
                activation.owned, activation.temp_dir = False, None
            try:
                if not _stack and _saved is not None:
                    _uninstall(_saved)
                else:
                    _drop_simulated_from_loaders()
            finally:
                _release(activation)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __call__(self, target: _T) -> _T:
        """Decorate a function (patched per call) or a class (per test: ``test*`` methods,
        or ``setUp`` through cleanup for a ``unittest.TestCase``)."""
        if isinstance(target, type):
            return self._decorate_class(target)  # type: ignore[return-value]
        if callable(target):
            decorated: _T = self._decorate_function(target)
            return decorated
        raise TypeError(f"rmcore.patch() cannot decorate {target!r}")

    def _decorate_function(self, function: _F) -> _F:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self.copy():
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self.copy():
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]

    def _decorate_class(self, klass: type) -> type:
        if issubclass(klass, unittest.TestCase):
            set_up = klass.setUp
            patcher = self

            @functools.wraps(set_up)
            def patched_set_up(test: unittest.TestCase) -> None:
                active = patcher.copy()
                active.start()
                test.addCleanup(active.stop)
                set_up(test)

            klass.setUp = patched_set_up  # type: ignore[method-assign, assignment]
            return klass
        for name in dir(klass):
            if not name.startswith("test"):
                continue
            attribute = inspect.getattr_static(klass, name)
            if isinstance(attribute, (staticmethod, classmethod)):
                wrapped = self._decorate_function(attribute.__func__)
                setattr(klass, name, type(attribute)(wrapped))
            elif inspect.isfunction(attribute):
                setattr(klass, name, self._decorate_function(attribute))
        return klass


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this module."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


def _default(name: str) -> object:
    return inspect.signature(Simulator).parameters[name].default


def _fault_rules(faults: object) -> dict[str, tuple[int, int]]:
    """The ``faults`` option as {export: (code, times)}, checked before any patch starts."""
    if faults is None:
        return {}
    if not isinstance(faults, Mapping):
        raise TypeError("faults must map export names to a code or (code, times)")
    rules = {}
    for function, spec in faults.items():
        if function not in EXPORTS:
            raise ValueError(f"{function!r} is not a Restart Manager export: {', '.join(EXPORTS)}")
        try:
            code, times = (spec, 1) if isinstance(spec, int) else tuple(spec)
        except (TypeError, ValueError):
            raise ValueError(f"faults[{function!r}]: need a code or (code, times)") from None
        if not (isinstance(code, int) and 0 < code <= 0xFFFFFFFF and isinstance(times, int)):
            raise ValueError(f"faults[{function!r}]: need a non-zero DWORD code, got {spec!r}")
        if times < 1:
            raise ValueError(f"faults[{function!r}]: times must be >= 1, got {times}")
        rules[function] = (code, times)
    return rules


def _release(activation: _Activation) -> None:
    """End what an activation owns: its Simulator's process, its temporary store."""
    if activation.owned:
        activation.simulator.terminate()
    if activation.temp_dir is not None:
        shutil.rmtree(activation.temp_dir, ignore_errors=True)


@overload
def patch(target: _T, /) -> _T: ...
@overload
def patch(
    *,
    store: str | os.PathLike[str] | None = ...,
    max_sessions: int = ...,
    mutex_timeout: float = ...,
    world: WorldView | str | None = ...,
    ts_session: int = ...,
    faults: Mapping[str, int | tuple[int, int]] | None = ...,
) -> Patcher: ...
def patch(target: Any = None, /, **options: Any) -> Any:
    """Route rstrtmgr.dll loads through ctypes to a :class:`~rmcore.Simulator`.

    Takes ``rmcore.Simulator``'s keyword arguments (``store=None``: a fresh temporary store)
    plus ``faults={"RmStartSession": 121}`` or ``{name: (code, times)}``, applied to the
    Simulator. ``with rmcore.patch() as sim:``, ``@rmcore.patch()`` / ``@rmcore.patch`` on a
    function or test class, or ``p = rmcore.patch(); sim = p.start(); ...; p.stop()``.

    Client code needs no change if it looks ``ctypes.WinDLL`` (or ``windll``) up when it
    loads, or captured it with ``from ctypes import WinDLL`` (off Windows only possible under
    a patch; the captured names stay valid for later patches). Code that caches the loaded
    DLL in a module global must have that cache reset per patch, e.g.
    ``monkeypatch.setattr(client, "_dll", None)``; a stale one raises StaleDLLError.
    """
    if target is not None:
        if options:
            raise TypeError("patch() takes keyword options only")
        return Patcher({})(target)
    return Patcher(options)
