"""rmcore: Windows Restart Manager session semantics, on any OS, in pure Python.

Layers, from the bottom: :mod:`rmcore.registry_store` (the emulated per-user registry
hive), the session table on it, :class:`Simulator` (the DLL's exports, Win32-shaped), and
:class:`Session` (the Pythonic layer). :mod:`rmcore.winerror` holds every error code.
"""

from . import winerror
from ._api import (
    AffectedApps,
    Filter,
    ProcessInfo,
    RestartManagerAPI,
    Session,
    check,
    default_backend,
    hold_registry_mutex,
)
from ._backends import ENV_BACKEND, ENV_DLL_PATH, get_backend
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
    SemTimeoutError,
    SessionCredentialConflictError,
    WriteFaultError,
)
from .session._table import SessionInfo
from .win32._dll import BackendUnavailable, RstrtmgrDLL
from .win32._faults import FaultRule, Faults, ProcessFaults, StoreFaults
from .win32._patch import Patcher, StaleDLLError, active_simulator, patch
from .win32._rstrtmgr import Simulator, SimulatorExited
from .win32._types import *  # noqa: F403 - the restartmanager.h names, listed in _types.__all__
from .win32._types import __all__ as _types_all
from .world._world import App, World, WorldView

__version__ = "0.1.0"

__all__ = [  # rmcore's own names, then restartmanager.h's (from _types)
    *_types_all,
    "ENV_BACKEND",
    "ENV_DLL_PATH",
    "AffectedApps",
    "App",
    "BackendUnavailable",
    "Patcher",
    "StaleDLLError",
    "active_simulator",
    "patch",
    "RstrtmgrDLL",
    "get_backend",
    "Filter",
    "ProcessInfo",
    "World",
    "WorldView",
    "AccessDeniedError",
    "BadArgumentsError",
    "CancelledError",
    "FailNoActionRebootError",
    "FailRestartError",
    "FailShutdownError",
    "FaultRule",
    "Faults",
    "FileNotFoundRmError",
    "InvalidHandleError",
    "MaxSessionsReachedError",
    "MoreDataError",
    "OutOfMemoryRmError",
    "ProcessFaults",
    "RequestOutOfSequenceError",
    "RestartManagerAPI",
    "RmError",
    "SemTimeoutError",
    "Session",
    "SessionCredentialConflictError",
    "SessionInfo",
    "Simulator",
    "SimulatorExited",
    "StoreFaults",
    "WriteFaultError",
    "__version__",
    "check",
    "default_backend",
    "hold_registry_mutex",
    "winerror",
]
