"""The store's exceptions: the session layer maps each to one Win32 code."""

from __future__ import annotations

__all__ = ["MutexTimeout", "StoreError", "StoreReadError", "StoreWriteError"]


class StoreError(OSError):
    """Base class of store failures (surfaces as ERROR_WRITE_FAULT, 29)."""


class StoreWriteError(StoreError):
    """A change could not be written; what was there before is intact."""


class StoreReadError(StoreError):
    """A key could not be read back (unreadable or corrupt file)."""


class MutexTimeout(TimeoutError):
    """The registry write mutex could not be acquired in time (ERROR_SEM_TIMEOUT, 121)."""
