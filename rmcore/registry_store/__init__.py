"""The emulated per-user registry hive that Restart Manager keeps its sessions in.

The bottom layer of rmcore: a tree of keys with typed values on disk, one cross-process
"registry write mutex", atomic replacement of a key's values. It knows nothing of sessions.
"""

from ._errors import MutexTimeout, StoreError, StoreReadError, StoreWriteError
from ._guard import PYFAKEFS_SKIP_NAMES, FakeFilesystemActive
from ._location import STORE_ENV_VAR, default_store_path, resolve_store_path
from ._mutex import RegistryMutex
from ._store import RegistryStore
from ._values import CorruptKeyError, RegType, RegValue

__all__ = [
    "PYFAKEFS_SKIP_NAMES",
    "STORE_ENV_VAR",
    "CorruptKeyError",
    "FakeFilesystemActive",
    "MutexTimeout",
    "RegType",
    "RegValue",
    "RegistryMutex",
    "RegistryStore",
    "StoreError",
    "StoreReadError",
    "StoreWriteError",
    "default_store_path",
    "resolve_store_path",
]
