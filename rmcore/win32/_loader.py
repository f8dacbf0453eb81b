"""The ctypes hooks of a patch: how unchanged ctypes code ends up in a simulated DLL.

``ctypes.CDLL.__init__`` (which ``WinDLL``, ``OleDLL`` and the ``windll``/``cdll`` loaders all
go through) is swapped for one that gives the names of simulated DLLs a function factory
instead of a library handle; ``ctypes.util.find_library`` resolves them; prototype classes
(``WINFUNCTYPE(...)`` / ``CFUNCTYPE(...)``) accept ``((name, dll), paramflags)`` for a
simulated ``dll``; off Windows, ctypes' Windows-only names are provided. Because classes are
patched rather than replaced, references captured before the patch are intercepted too.
Everything is put back exactly when the last patch stops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import _active
from . import _winctypes
from ._functions import SimulatedFunction
from ._kernel32 import Kernel32
from ._libraries import Neighbourhood, base_name, library_for, simulated_name
from ._psapi import Psapi

__all__ = ["install", "is_simulated", "refresh", "uninstall"]

_MISSING: Any = object()
_ORIGINAL_CDLL_INIT: Callable[..., None] = ctypes.CDLL.__dict__["__init__"]
_ORIGINAL_FIND_LIBRARY: Callable[[str], str | None] = ctypes.util.find_library
_FUNCFLAG_USE_LASTERROR = getattr(ctypes, "_FUNCFLAG_USE_LASTERROR", 0x10)
# The DLLs besides rstrtmgr a patch simulates (when asked to), by base name.
_NEIGHBOURHOOD: Neighbourhood = {"kernel32": Kernel32, "psapi": Psapi}


class _Factory:
    """Stands in for a DLL object's ``_FuncPtr`` class: ``CDLL.__getattr__`` and
    ``__getitem__`` call it with ``(name, dll)``; it returns simulated functions."""

    def __init__(self, library: Any, use_last_error: bool, restype: Any) -> None:
        self.library = library
        self.use_last_error = use_last_error
        self.restype = restype

    def __call__(self, spec: tuple[object, object]) -> SimulatedFunction:
        return self.make(spec[0])

    def make(
        self,
        name: object,
        *,
        restype: Any = _MISSING,
        argtypes: Any = None,
        paramflags: Any = None,
        use_last_error: bool = False,
    ) -> SimulatedFunction:
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        if isinstance(name, int):
            raise AttributeError(f"function ordinal {name} not found")
        if not isinstance(name, str):
            raise TypeError("function name must be string, bytes object or integer")
        return SimulatedFunction(
            self.library,
            name,
            use_last_error=self.use_last_error or use_last_error,
            restype=self.restype if restype is _MISSING else restype,
            argtypes=argtypes,
            paramflags=paramflags,
        )


def is_simulated(dll: object) -> bool:
    return isinstance(getattr(dll, "_FuncPtr", None), _Factory)


@dataclass
class _Saved:
    """ctypes as it was before the first active patch."""

    ctypes_names: dict[str, object]
    cdll_init: Callable[..., None]
    find_library: Callable[[str], str | None]
    cfunctype: Callable[..., Any]
    winfunctype: Callable[..., Any] | None
    neighbourhood: Neighbourhood
    cached: list[tuple[object, str, object]] = field(default_factory=list)
    prototypes: list[type] = field(default_factory=list)


_lock = threading.RLock()
_saved: _Saved | None = None


def _cdll_init(self: ctypes.CDLL, *args: Any, **kwargs: Any) -> None:
    """``CDLL.__init__`` while patched: simulated DLL names get the current Simulator."""
    name = args[0] if args else kwargs.get("name")
    simulator = _active.current()
    saved = _saved
    library = None
    if simulator is not None and saved is not None:
        library = library_for(name, simulator, neighbourhood=saved.neighbourhood)
    if library is None:
        (saved.cdll_init if saved is not None else _ORIGINAL_CDLL_INIT)(self, *args, **kwargs)
        return
    use_last_error = bool(kwargs.get("use_last_error", args[4] if len(args) > 4 else False))
    self._name = name  # type: ignore[assignment]
    self._handle = 0
    restype = getattr(type(self), "_func_restype_", ctypes.c_int)
    self._FuncPtr = _Factory(library, use_last_error, restype)  # type: ignore[assignment]


def _find_library(name: str) -> str | None:
    """``ctypes.util.find_library`` while patched: simulated DLLs resolve to System32."""
    saved = _saved
    simulator = _active.current()
    if (
        simulator is not None
        and saved is not None
        and library_for(name, simulator, neighbourhood=saved.neighbourhood) is not None
    ):
        return f"C:\\Windows\\System32\\{base_name(name)}.dll"
    return (saved.find_library if saved is not None else _ORIGINAL_FIND_LIBRARY)(name)


def _prototype_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """A prototype called with ``((name, dll)[, paramflags])`` for a simulated DLL."""
    if args and isinstance(args[0], tuple) and len(args[0]) == 2 and is_simulated(args[0][1]):
        name, dll = args[0]
        factory: _Factory = dll._FuncPtr
        return factory.make(
            name,
            restype=getattr(cls, "_restype_", ctypes.c_int),
            argtypes=getattr(cls, "_argtypes_", None),
            paramflags=args[1] if len(args) > 1 else kwargs.get("paramflags"),
            use_last_error=bool(getattr(cls, "_flags_", 0) & _FUNCFLAG_USE_LASTERROR),
        )
    return ctypes._CFuncPtr.__new__(cls, *args, **kwargs)  # type: ignore[attr-defined]


def _hook_prototype(prototype: type, saved: _Saved) -> None:
    if "__new__" not in prototype.__dict__:
        prototype.__new__ = staticmethod(_prototype_new)  # type: ignore[assignment]
        saved.prototypes.append(prototype)


def _hooking(factory: Callable[..., type], saved: _Saved) -> Callable[..., type]:
    """A prototype factory (CFUNCTYPE, WINFUNCTYPE) whose prototypes are hooked."""

    def make(restype: Any, *argtypes: Any, **kwargs: Any) -> type:
        prototype = factory(restype, *argtypes, **kwargs)
        _hook_prototype(prototype, saved)
        return prototype

    return make


def _prototype_caches() -> list[dict[Any, type]]:
    names = ("_c_functype_cache", "_win_functype_cache")
    return [cache for n in names if isinstance(cache := getattr(ctypes, n, None), dict)]


def _loaders() -> list[object]:
    names = ("cdll", "windll", "oledll")
    return [loader for n in names if (loader := getattr(ctypes, n, None)) is not None]


def _drop_simulated_from_loaders() -> None:
    """Forget simulated DLLs the loaders cached (``ctypes.windll.rstrtmgr``), so the next
    lookup loads from the Simulator current then."""
    loaders = [
        *_loaders(),
        *(v for v in _winctypes.WINDOWS_ONLY.values() if isinstance(v, ctypes.LibraryLoader)),
    ]
    for loader in loaders:
        for name, value in list(vars(loader).items()):
            if is_simulated(value):
                delattr(loader, name)


def refresh() -> None:
    """Let the loaders load anew: the current Simulator may have changed."""
    with _lock:
        _drop_simulated_from_loaders()


def install(*, neighbourhood: bool) -> None:
    """Hook ctypes (the first patch); later patches only re-point the loaders."""
    global _saved
    with _lock:
        if _saved is not None:
            _drop_simulated_from_loaders()
            return
        saved = _Saved(
            ctypes_names={n: getattr(ctypes, n, _MISSING) for n in _winctypes.WINDOWS_ONLY},
            cdll_init=ctypes.CDLL.__dict__["__init__"],
            find_library=ctypes.util.find_library,
            cfunctype=ctypes.CFUNCTYPE,
            winfunctype=getattr(ctypes, "WINFUNCTYPE", None),
            neighbourhood=_NEIGHBOURHOOD if neighbourhood else None,
        )
        _saved = saved
        try:
            cfunctype = _hooking(saved.cfunctype, saved)
            ctypes.CFUNCTYPE = cfunctype
            if saved.winfunctype is not None:  # Windows: its own prototypes too
                ctypes.WINFUNCTYPE = _hooking(saved.winfunctype, saved)  # type: ignore[attr-defined]
            for name, value in _winctypes.WINDOWS_ONLY.items():
                if saved.ctypes_names[name] is _MISSING:
                    setattr(ctypes, name, cfunctype if name == "WINFUNCTYPE" else value)
            for cache in _prototype_caches():
                for prototype in list(cache.values()):
                    _hook_prototype(prototype, saved)
            ctypes.CDLL.__init__ = _cdll_init  # type: ignore[method-assign]
            ctypes.util.find_library = _find_library
            for loader in _loaders():  # real DLLs a loader cached before the patch
                for name, value in list(vars(loader).items()):
                    served = simulated_name(name, neighbourhood=saved.neighbourhood)
                    if served and not is_simulated(value):
                        saved.cached.append((loader, name, value))
                        delattr(loader, name)
        except BaseException:
            _restore(saved)
            raise


def uninstall() -> None:
    """Put back exactly what :func:`install` found (the last patch)."""
    with _lock:
        if _saved is not None:
            _restore(_saved)


def _restore(saved: _Saved) -> None:
    global _saved
    _drop_simulated_from_loaders()
    for loader, name, value in saved.cached:
        setattr(loader, name, value)
    ctypes.util.find_library = saved.find_library  # type: ignore[assignment]
    ctypes.CDLL.__init__ = saved.cdll_init  # type: ignore[method-assign]
    ctypes.CFUNCTYPE = saved.cfunctype
    if saved.winfunctype is not None:
        ctypes.WINFUNCTYPE = saved.winfunctype  # type: ignore[attr-defined]
    for prototype in saved.prototypes:
        if "__new__" in prototype.__dict__:
            del prototype.__new__
    for name, value in saved.ctypes_names.items():
        if value is _MISSING:
            if name in vars(ctypes):
                delattr(ctypes, name)
        else:
            setattr(ctypes, name, value)
    _saved = None
