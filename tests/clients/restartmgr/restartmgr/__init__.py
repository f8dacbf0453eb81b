"""
Copyright (c) Modding Forge
"""

from ._const import (
    RmAppStatus,
    RmAppType,
    RmRebootReason,
    RmShutdownType,
)
from ._errors import (
    DllLoadError,
    GetListError,
    ResourceRegistrationError,
    RestartError,
    RestartManagerError,
    SessionError,
    ShutdownError,
)
from ._session import RmSession
from .api import get_locking_processes, who_locks
from .types import GetListResult, ProcessInfo

__all__ = [
    "DllLoadError",
    "GetListError",
    "GetListResult",
    "ProcessInfo",
    "ResourceRegistrationError",
    "RestartError",
    "RestartManagerError",
    "RmAppStatus",
    "RmAppType",
    "RmRebootReason",
    "RmSession",
    "RmShutdownType",
    "SessionError",
    "ShutdownError",
    "get_locking_processes",
    "who_locks",
]
