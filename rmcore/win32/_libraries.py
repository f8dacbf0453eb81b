"""The simulated DLLs a patch serves, by name: rstrtmgr, its neighbourhood, and stand-ins.

``rstrtmgr`` (and its API-set name) is the :class:`~rmcore.Simulator`; ``kernel32`` and
``psapi`` answer from the Simulator's world (:mod:`._kernel32`, :mod:`._psapi`). Every
other Windows system DLL in :data:`SYSTEM_DLLS` loads as a stand-in whose functions raise
:class:`NotSimulatedError` when called, except the harmless initialisation calls packages
make at import (COM initialisation answers S_OK), so modules that bind many functions at
import still import. A name that is no Windows DLL still fails to load, as it does today.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import _active
from ._exports import BY_NAME

if TYPE_CHECKING:
    from ._rstrtmgr import Simulator

__all__ = [
    "SYSTEM_DLLS",
    "NativeLibrary",
    "Neighbourhood",
    "NotSimulatedError",
    "base_name",
    "library_for",
    "native",
    "simulated_name",
]

_RSTRTMGR = frozenset({"rstrtmgr", "ext-ms-win-base-rstrtmgr-l1-1-0"})

# Windows system DLLs that packages load at import; they load as stand-ins off Windows.
SYSTEM_DLLS = frozenset(
    {
        "advapi32", "bcrypt", "combase", "comctl32", "comdlg32", "crypt32", "dbghelp",
        "dwmapi", "gdi32", "gdiplus", "imm32", "iphlpapi", "kernelbase", "mpr", "msvcrt",
        "ncrypt", "netapi32", "ntdll", "ole32", "oleacc", "oleaut32", "powrprof", "propsys",
        "psapi", "rpcrt4", "secur32", "setupapi", "shcore", "shell32", "shlwapi", "ucrtbase",
        "user32", "userenv", "uxtheme", "version", "winhttp", "wininet", "winmm", "winspool",
        "wintrust", "ws2_32", "wtsapi32", "kernel32", "cfgmgr32", "dxgi", "d3d11", "wer",
    }
)  # fmt: skip
_API_SET = re.compile(r"^(api|ext)-ms-win-[a-z0-9-]+-l\d+-\d+-\d+$")

# Calls that packages make at import and that must succeed: (dll, function) -> result.
_HARMLESS: dict[tuple[str, str], int] = {
    ("ole32", "CoInitialize"): 0,
    ("ole32", "CoInitializeEx"): 0,
    ("ole32", "OleInitialize"): 0,
    ("ole32", "CoUninitialize"): 0,
    ("ole32", "CoIncrementMTAUsage"): 0,
    ("combase", "CoIncrementMTAUsage"): 0,
    ("combase", "RoInitialize"): 0,
    ("shell32", "IsUserAnAdmin"): 0,  # FALSE: a test double never runs elevated
}


class NotSimulatedError(NotImplementedError):
    """A Windows function rmcore does not simulate was called (loading it is fine)."""


def base_name(name: object) -> str | None:
    """The lower-case base name of a library name or path (``C:\\X\\Kernel32.DLL`` ->
    ``kernel32``), or ``None`` if it is not a name."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    if not isinstance(name, str) or not name.strip():
        return None
    base = re.split(r"[\\/]", name)[-1].strip().lower()
    return base[:-4] if base.endswith(".dll") else base


def is_rstrtmgr_name(name: object) -> bool:
    """Whether a library name or path names rstrtmgr.dll (any case, ``.dll`` optional)."""
    return base_name(name) in _RSTRTMGR


_F = Callable[..., Any]


def native(arity: int) -> Callable[[_F], _F]:
    """Mark a method of a :class:`NativeLibrary` as an export taking *arity* arguments."""

    def mark(function: _F) -> _F:
        function.__rm_native__ = arity  # type: ignore[attr-defined]
        return function

    return mark


class NativeLibrary:
    """Base of the simulated neighbourhood DLLs: methods marked with :func:`native` are the
    exports, named as on Windows; they take ctypes-style arguments (read and written with
    :mod:`._args`) and return the C result as an ``int``."""

    name = ""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    def implementation(self, function: str) -> tuple[Callable[..., Any], int] | None:
        """The export, or (for a name this DLL has on Windows but rmcore does not simulate)
        a function that raises :class:`NotSimulatedError` when called."""
        method = getattr(self, function, None)
        arity = getattr(method, "__rm_native__", None)
        if arity is not None:
            return method, arity  # type: ignore[return-value]
        return _not_simulated(self.name, function)

    def live(self) -> bool:
        return _active.is_active(self.simulator)


def _not_simulated(library: str, function: str) -> tuple[Callable[..., Any], int] | None:
    if function.startswith("_"):
        return None
    result = _HARMLESS.get((library, function))
    if result is not None:
        return (lambda *args: result), -1

    def not_simulated(*args: object) -> Any:
        raise NotSimulatedError(f"not simulated by rmcore: {library}.{function}")

    return not_simulated, -1


class _Rstrtmgr:
    name = "rstrtmgr"

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    def implementation(self, function: str) -> tuple[Callable[..., Any], int] | None:
        export = BY_NAME.get(function)
        return None if export is None else (getattr(self.simulator, function), export.arity)

    def live(self) -> bool:
        return _active.is_active(self.simulator)


class _StandIn:
    """A Windows DLL rmcore does not simulate: any function loads, calling it raises."""

    def __init__(self, name: str, simulator: Simulator) -> None:
        self.name = name
        self.simulator = simulator

    def implementation(self, function: str) -> tuple[Callable[..., Any], int] | None:
        return _not_simulated(self.name, function)

    def live(self) -> bool:
        return _active.is_active(self.simulator)


# The simulated neighbourhood DLLs by name (kernel32, psapi); ``None`` when a patch leaves
# every DLL but rstrtmgr to the real loader. The loader, which sits above them, owns it.
Neighbourhood = Mapping[str, Callable[["Simulator"], Any]] | None


def simulated_name(name: object, *, neighbourhood: Neighbourhood) -> bool:
    """Whether a patch serves this DLL name itself (instead of loading it)."""
    base = base_name(name)
    if base is None:
        return False
    if base in _RSTRTMGR:
        return True
    return neighbourhood is not None and (
        base in neighbourhood or base in SYSTEM_DLLS or bool(_API_SET.match(base))
    )


def library_for(name: object, simulator: Simulator, *, neighbourhood: Neighbourhood) -> Any | None:
    """The simulated library for a DLL name, or ``None`` to load it for real."""
    base = base_name(name)
    if base is None:
        return None
    if base in _RSTRTMGR:
        return _Rstrtmgr(simulator)
    if neighbourhood is None:
        return None
    if base in neighbourhood:
        return neighbourhood[base](simulator)
    if base in SYSTEM_DLLS or _API_SET.match(base):
        return _StandIn(base, simulator)
    return None
