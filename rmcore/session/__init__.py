"""The Restart Manager session table on a store, process identity, and fidelity decisions."""

from ._hive import RESTART_MANAGER_KEY
from ._keys import key_to_bytes
from ._table import SessionTable
from ._types import ReapResult, Resources, SessionInfo, SessionRef

__all__ = [
    "RESTART_MANAGER_KEY",
    "ReapResult",
    "Resources",
    "SessionInfo",
    "SessionRef",
    "SessionTable",
    "key_to_bytes",
]
