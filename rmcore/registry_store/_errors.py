"""The store's exceptions: the session layer maps each to one Win32 code."""

from __future__ import annotations

__all__ = ["MutexTimeout", "StoreError", "StoreReadError", "StoreWriteError"]


class StoreError(OSError):
    """Base class of store failures (surfaces as ERROR_WRITE_FAULT, 29), and the refusal
    of a store location that is not safe to use (named, with the fix, in the message)."""


class StoreWriteError(StoreError):
    """A change could not be written; what was there before is intact."""


class StoreReadError(StoreError):
    """An entry could not be read: gone mid-read, corrupt, or not a regular file within
    its size cap (a FIFO, a link, a device, a sparse giant), which is never read."""


class MutexTimeout(TimeoutError):
    """The registry write mutex could not be acquired in time (ERROR_SEM_TIMEOUT, 121)."""
