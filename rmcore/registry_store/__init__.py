"""The emulated per-user registry hive that Restart Manager keeps its sessions in.

The bottom layer of rmcore: keys of typed values, append-only logs and one "registry
write mutex", in this process's memory (:class:`MemoryStore`) or in a directory shared by
processes (:class:`DiskStore`); :func:`open_store` picks one. It knows nothing of sessions.
"""

from ._base import Problem, Store
from ._disk import DiskStore, RegistryStore
from ._errors import MutexTimeout, StoreError, StoreReadError, StoreWriteError
from ._guard import PYFAKEFS_SKIP_NAMES, FakeFilesystemActive
from ._location import STORE_ENV_VAR, default_store_path
from ._memory import MemoryStore
from ._mutex import RegistryMutex
from ._open import open_store
from ._values import CorruptKeyError, RegType, RegValue

__all__ = [
    "PYFAKEFS_SKIP_NAMES",
    "STORE_ENV_VAR",
    "CorruptKeyError",
    "DiskStore",
    "FakeFilesystemActive",
    "MemoryStore",
    "MutexTimeout",
    "Problem",
    "RegType",
    "RegValue",
    "RegistryMutex",
    "RegistryStore",
    "Store",
    "StoreError",
    "StoreReadError",
    "StoreWriteError",
    "default_store_path",
    "open_store",
]
