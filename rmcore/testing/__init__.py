"""Testing tools shipped for users as well as for rmcore's own suite.

:mod:`rmcore.testing.strategies` has Hypothesis strategies (keys, handles, resource lists,
RM_UNIQUE_PROCESS values, whole worlds); :class:`SessionStateMachine` is the conformance
state machine, importable and subclassable; :mod:`rmcore.testing.conformance` the
conformance suite; :mod:`rmcore.testing.plugin` the pytest plugin. The Hypothesis-based
names need ``rmcore[testing]``; they are imported on first use, so that the plugin, which
pytest loads in every run, never imports Hypothesis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .stateful import ModelProcess, ModelSession, SessionStateMachine
    from .strategies import (
        file_paths,
        handles,
        malformed_keys,
        resource_lists,
        session_keys,
        unique_processes,
        worlds,
    )

_LAZY = {
    "ModelProcess": "stateful",
    "ModelSession": "stateful",
    "SessionStateMachine": "stateful",
    "file_paths": "strategies",
    "handles": "strategies",
    "malformed_keys": "strategies",
    "resource_lists": "strategies",
    "session_keys": "strategies",
    "unique_processes": "strategies",
    "worlds": "strategies",
}

__all__ = [
    "ModelProcess",
    "ModelSession",
    "SessionStateMachine",
    "file_paths",
    "handles",
    "malformed_keys",
    "resource_lists",
    "session_keys",
    "unique_processes",
    "worlds",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rmcore.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
