"""Choosing a backend: the simulator (the default, everywhere) or the real rstrtmgr.dll.

Environment variables, read by :func:`get_backend` when it is given no name:

``RMCORE_BACKEND``
    ``simulator`` (default when unset or empty) or ``dll`` (alias ``real``). The real DLL is
    only ever used when asked for: a test double must not touch the machine by accident.
``RMCORE_DLL_PATH``
    The library the ``dll`` backend loads instead of ``rstrtmgr.dll``; on a host other than
    Windows it is required (the tests point it at a compiled stand-in).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .win32._dll import BackendUnavailable, RstrtmgrDLL
from .win32._rstrtmgr import Simulator

if TYPE_CHECKING:  # not at run time: _pythonic may itself come to use get_backend
    from ._api import RestartManagerAPI

__all__ = [
    "BACKEND_NAMES",
    "ENV_BACKEND",
    "ENV_DLL_PATH",
    "BackendUnavailable",
    "get_backend",
]

ENV_BACKEND = "RMCORE_BACKEND"
ENV_DLL_PATH = "RMCORE_DLL_PATH"

BACKEND_NAMES = {"simulator": "simulator", "sim": "simulator", "dll": "dll", "real": "dll"}


def get_backend(
    name: str | None = None, *, dll_path: str | None = None, **simulator_options: Any
) -> RestartManagerAPI:
    """A new backend: ``"simulator"`` (default) or ``"dll"``/``"real"``.

    *name* ``None`` means ``$RMCORE_BACKEND``, defaulting to the simulator. *simulator_options*
    go to :class:`~rmcore.Simulator`; they are an error with an explicit ``"dll"``, and
    ignored when the environment chose the DLL (so code written for either still runs).
    *dll_path* (else ``$RMCORE_DLL_PATH``) is the library the DLL backend loads. Raises
    :class:`BackendUnavailable` for the DLL off Windows without a path, ``ValueError`` for
    an unknown name.
    """
    from_env = name is None
    raw = os.environ.get(ENV_BACKEND, "") if name is None else name
    key = raw.strip().lower() or "simulator"
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
