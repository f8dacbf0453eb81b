"""Which implementation of rstrtmgr.dll a call reaches, decided explicitly.

The rule (docs/api.md, "Backends"): inside an rmcore test context (a fixture or an active
``rmcore.patch()``) the context's Simulator; otherwise ``$RMCORE_BACKEND`` (``simulator`` or
``dll``); otherwise the platform's own: the real rstrtmgr.dll on Windows, where an installer
must really shut applications down, and the simulator elsewhere, where there is no DLL.
The simulator is never picked silently on Windows, nor the real DLL in a test context.

``RMCORE_DLL_PATH`` names the library the ``dll`` backend loads instead of
``rstrtmgr.dll`` (off Windows it is required: the tests point it at a compiled stand-in).
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from . import _active
from .win32._dll import BackendUnavailable, RstrtmgrDLL
from .win32._exports import RestartManagerAPI
from .win32._rstrtmgr import Simulator

__all__ = [
    "BACKEND_NAMES",
    "ENV_BACKEND",
    "ENV_DLL_PATH",
    "BackendUnavailable",
    "default_backend",
    "get_backend",
    "platform_backend",
]

ENV_BACKEND = "RMCORE_BACKEND"
ENV_DLL_PATH = "RMCORE_DLL_PATH"

BACKEND_NAMES = {"simulator": "simulator", "sim": "simulator", "dll": "dll", "real": "dll"}


def platform_backend() -> str:
    """The backend a process gets when nothing chooses: the real DLL on Windows."""
    return "dll" if sys.platform == "win32" else "simulator"


def get_backend(
    name: str | None = None, *, dll_path: str | None = None, **simulator_options: Any
) -> RestartManagerAPI:
    """A new backend: ``"simulator"`` or ``"dll"`` (alias ``"real"``).

    *name* ``None`` means ``$RMCORE_BACKEND``, else :func:`platform_backend`.
    *simulator_options* go to :class:`~rmcore.Simulator`; they are an error with an explicit
    ``"dll"`` and ignored when the environment chose the DLL (code written for either runs).
    Raises :class:`BackendUnavailable` for the DLL where it cannot load, ``ValueError`` for
    an unknown name.
    """
    from_env = name is None
    raw = os.environ.get(ENV_BACKEND, "") if name is None else name
    key = raw.strip().lower() or platform_backend()
    if key not in BACKEND_NAMES:
        source = f"${ENV_BACKEND}" if from_env else "name"
        raise ValueError(
            f"unknown backend {raw!r} ({source}); expected one of {sorted(BACKEND_NAMES)}"
        )
    if BACKEND_NAMES[key] == "simulator":
        return Simulator(**simulator_options)
    if simulator_options and not from_env:
        raise TypeError(f"simulator options do not apply to the DLL: {sorted(simulator_options)}")
    return RstrtmgrDLL(dll_path or os.environ.get(ENV_DLL_PATH) or None)


_default: RestartManagerAPI | None = None
_default_lock = threading.Lock()


def default_backend() -> RestartManagerAPI:
    """The backend of calls that name none: the active test context's Simulator, else this
    process's backend (:func:`get_backend`), created on first use."""
    active: RestartManagerAPI | None = _active.current()
    if active is not None:
        return active
    global _default
    with _default_lock:
        if _default is None:
            _default = get_backend()
        return _default
