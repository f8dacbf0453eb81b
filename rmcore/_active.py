"""Which Simulator answers calls that do not name one: the innermost active context.

Contexts are ``rmcore.patch()`` activations and rmcore's pytest fixtures (one simulator per
test). While one is active, ctypes loads of rstrtmgr.dll and its neighbourhood, and
``rmcore.Session()`` with no backend, reach its Simulator. A context may be *lazy*: its
Simulator is made on first use (the plugin gives every test one, which costs nothing unless
the test uses rmcore). This module imports nothing: every layer may ask it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["current", "is_active", "made", "materialized", "pop", "push"]

_lock = threading.RLock()
_stack: list[list[Any]] = []  # [owner, simulator or None, factory or None]


def push(owner: object, simulator: Any = None, factory: Callable[[], Any] | None = None) -> None:
    """Make *simulator* (or, lazily, what *factory* makes) current until *owner* pops it."""
    with _lock:
        _stack.append([owner, simulator, factory])


def pop(owner: object) -> Any:
    """Remove *owner*'s entry (contexts may end out of order); return its Simulator if one
    was made."""
    with _lock:
        for index in range(len(_stack) - 1, -1, -1):
            if _stack[index][0] is owner:
                return _stack.pop(index)[1]
    return None


def current() -> Any:
    """The innermost context's Simulator (made now if lazy), or ``None``."""
    with _lock:
        if not _stack:
            return None
        entry = _stack[-1]
        if entry[1] is None and entry[2] is not None:
            entry[1] = entry[2]()
        return entry[1]


def made() -> Any:
    """The innermost context's Simulator if it exists (a lazy one is not made)."""
    with _lock:
        return _stack[-1][1] if _stack else None


def materialized(owner: object) -> Any:
    """*owner*'s Simulator if it exists (never makes a lazy one)."""
    with _lock:
        return next((entry[1] for entry in _stack if entry[0] is owner), None)


def is_active(simulator: object) -> bool:
    """Whether some active context still serves *simulator*."""
    with _lock:
        return any(entry[1] is simulator for entry in _stack)
