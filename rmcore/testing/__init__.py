"""Testing tools shipped for users as well as for rmcore's own suite.

:mod:`rmcore.testing.strategies` has Hypothesis strategies (keys, handles, resource lists,
RM_UNIQUE_PROCESS values, whole worlds); :class:`SessionStateMachine` is the conformance
state machine, importable and subclassable. Importing this package needs Hypothesis.
"""

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
