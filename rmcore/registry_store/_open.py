"""``open_store``: one argument names any store (default, directory, memory, instance)."""

from __future__ import annotations

import os

from ._base import Store
from ._disk import DiskStore
from ._location import MEMORY
from ._memory import MemoryStore

__all__ = ["StoreSpec", "open_store"]

StoreSpec = Store | str | os.PathLike[str] | None


def open_store(spec: StoreSpec = None, *, create: bool = True) -> Store:
    """The store *spec* names: ``None`` the default per-user directory, ``":memory:"`` a new
    MemoryStore, a Store itself, an absolute path a DiskStore there (a relative path is
    refused with ValueError). ``create=False`` opens a directory read-only."""
    if isinstance(spec, Store):
        return spec
    if isinstance(spec, str) and spec == MEMORY:
        return MemoryStore()
    return DiskStore(spec, create=create)
