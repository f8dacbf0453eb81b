"""State the simulated kernel32 keeps beside objects it does not own (a World, a Simulator):
made on first use, dropped with its owner."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Beside"]

_Owner = TypeVar("_Owner")
_State = TypeVar("_State")


class Beside(Generic[_Owner, _State]):
    """``beside.of(owner)``: *owner*'s state, made by ``factory(owner)`` on first use."""

    def __init__(self, factory: Callable[[_Owner], _State]) -> None:
        self._factory = factory
        self._states: weakref.WeakKeyDictionary[_Owner, _State] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def of(self, owner: _Owner) -> _State:
        with self._lock:
            state = self._states.get(owner)
            if state is None:
                state = self._states[owner] = self._factory(owner)
            return state
