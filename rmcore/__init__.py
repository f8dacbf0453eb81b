"""rmcore: Windows Restart Manager session semantics, on any OS, in pure Python.

Layers, from the bottom: :mod:`rmcore.registry_store` (the emulated per-user registry
hive), :mod:`rmcore.session` (the session table on it), :mod:`rmcore.world` (who holds
what), :mod:`rmcore.win32` (the Win32 surface: restartmanager.h's names, the simulated
rstrtmgr.dll and its neighbourhood, the ctypes patch, the real-DLL backend), then the
Pythonic :class:`Session`, :mod:`rmcore.testing` and the CLI. :mod:`rmcore.winerror` holds
every error code.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below are imported on first use (a light `import rmcore`)
    from . import win32, winerror
    from ._api import AffectedApps, Filter, ProcessInfo, Session, check, hold_registry_mutex
    from ._backends import ENV_BACKEND, ENV_DLL_PATH, default_backend, get_backend
    from ._errors import (
        AccessDeniedError,
        BadArgumentsError,
        CancelledError,
        FailNoActionRebootError,
        FailRestartError,
        FailShutdownError,
        FileNotFoundRmError,
        InvalidHandleError,
        MaxSessionsReachedError,
        MoreDataError,
        OutOfMemoryRmError,
        RequestOutOfSequenceError,
        RmError,
        RmUsageWarning,
        SemTimeoutError,
        SessionCredentialConflictError,
        WriteFaultError,
    )
    from .session import SessionInfo
    from .win32._dll import BackendUnavailable, RstrtmgrDLL
    from .win32._faults import FaultRule, Faults, ProcessFaults, StoreFaults
    from .win32._libraries import NotSimulatedError
    from .win32._patch import Patcher, StaleDLLError, active_simulator, patch
    from .win32._rstrtmgr import Simulator, SimulatorExited
    from .world import App, World

# name -> the module that defines it: imported on first access, so that importing rmcore (as
# its pytest plugin does in every run) costs next to nothing until rmcore is used.
_LAZY = {
    "AccessDeniedError": "rmcore._errors",
    "AffectedApps": "rmcore._api",
    "App": "rmcore.world",
    "BackendUnavailable": "rmcore.win32._dll",
    "BadArgumentsError": "rmcore._errors",
    "CancelledError": "rmcore._errors",
    "ENV_BACKEND": "rmcore._backends",
    "ENV_DLL_PATH": "rmcore._backends",
    "FailNoActionRebootError": "rmcore._errors",
    "FailRestartError": "rmcore._errors",
    "FailShutdownError": "rmcore._errors",
    "FaultRule": "rmcore.win32._faults",
    "Faults": "rmcore.win32._faults",
    "FileNotFoundRmError": "rmcore._errors",
    "Filter": "rmcore._api",
    "InvalidHandleError": "rmcore._errors",
    "MaxSessionsReachedError": "rmcore._errors",
    "MoreDataError": "rmcore._errors",
    "NotSimulatedError": "rmcore.win32._libraries",
    "OutOfMemoryRmError": "rmcore._errors",
    "Patcher": "rmcore.win32._patch",
    "ProcessFaults": "rmcore.win32._faults",
    "ProcessInfo": "rmcore._api",
    "RequestOutOfSequenceError": "rmcore._errors",
    "RmError": "rmcore._errors",
    "RmUsageWarning": "rmcore._errors",
    "RstrtmgrDLL": "rmcore.win32._dll",
    "SemTimeoutError": "rmcore._errors",
    "Session": "rmcore._api",
    "SessionCredentialConflictError": "rmcore._errors",
    "SessionInfo": "rmcore.session",
    "Simulator": "rmcore.win32._rstrtmgr",
    "SimulatorExited": "rmcore.win32._rstrtmgr",
    "StaleDLLError": "rmcore.win32._patch",
    "StoreFaults": "rmcore.win32._faults",
    "World": "rmcore.world",
    "WriteFaultError": "rmcore._errors",
    "active_simulator": "rmcore.win32._patch",
    "check": "rmcore._api",
    "default_backend": "rmcore._backends",
    "get_backend": "rmcore._backends",
    "hold_registry_mutex": "rmcore._api",
    "patch": "rmcore.win32._patch",
    "win32": "rmcore.win32",
    "winerror": "rmcore.winerror",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":  # one place: the package metadata (pyproject.toml)
        from importlib.metadata import version

        return version("rmcore")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rmcore' has no attribute {name!r}")
    value = importlib.import_module(module)
    if name not in ("win32", "winerror"):
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ENV_BACKEND",
    "ENV_DLL_PATH",
    "AccessDeniedError",
    "AffectedApps",
    "App",
    "BackendUnavailable",
    "BadArgumentsError",
    "CancelledError",
    "FailNoActionRebootError",
    "FailRestartError",
    "FailShutdownError",
    "FaultRule",
    "Faults",
    "FileNotFoundRmError",
    "Filter",
    "InvalidHandleError",
    "MaxSessionsReachedError",
    "MoreDataError",
    "NotSimulatedError",
    "OutOfMemoryRmError",
    "Patcher",
    "ProcessFaults",
    "ProcessInfo",
    "RequestOutOfSequenceError",
    "RmError",
    "RmUsageWarning",
    "RstrtmgrDLL",
    "SemTimeoutError",
    "Session",
    "SessionCredentialConflictError",
    "SessionInfo",
    "Simulator",
    "SimulatorExited",
    "StaleDLLError",
    "StoreFaults",
    "World",
    "WriteFaultError",
    "__version__",
    "active_simulator",
    "check",
    "default_backend",
    "get_backend",
    "hold_registry_mutex",
    "patch",
    "win32",
    "winerror",
]
