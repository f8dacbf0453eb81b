"""Fault injection: make chosen Rm* calls fail with a chosen code, changing nothing.

A rule says "let *after* calls of *function* through, then fail the next *times* with
*code*". Rules live either in one Simulator (one simulated process) or in the store, where
every process that uses the store sees and consumes them under the registry write mutex.
Checking costs nothing while no rule is armed (``armed``); rules that never fired can be
listed (``unfired``) so a test can fail on faults its code never met.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from typing import Protocol

from .. import winerror
from ..registry_store import MutexTimeout, RegValue, Store, StoreError, open_store
from ..session._fidelity import DEFAULT_MUTEX_TIMEOUT
from ..world._world import Clock
from ._exports import BY_NAME

__all__ = [
    "EXPORTS",
    "MUTEX_FUNCTIONS",
    "FaultRule",
    "Faults",
    "ProcessFaults",
    "SimulatedCrash",
    "StoreFaults",
]

EXPORTS = tuple(BY_NAME)

_FAULTS_KEY = "HKCU\\Software\\rmcore\\Faults"
_ARMED_KEY = _FAULTS_KEY + "\\Armed"


@dataclass(frozen=True)
class FaultRule:
    """Pass *after* calls, then fail *times* calls with *code*."""

    code: int
    times: int
    after: int = 0

    def consume(self) -> tuple[int | None, FaultRule | None]:
        """The code this call returns (``None``: it runs normally) and the rule left after it."""
        if self.after > 0:
            return None, replace(self, after=self.after - 1)
        left = replace(self, times=self.times - 1)
        return self.code, left if left.times > 0 else None


class _RuleStorage(Protocol):
    def load(self, function: str) -> FaultRule | None: ...
    def save(self, function: str, rule: FaultRule | None) -> None: ...
    def consume(self, function: str) -> int | None: ...
    def any(self) -> bool: ...


class Faults:
    """The fault rules of one scope; see :class:`ProcessFaults` and :class:`StoreFaults`."""

    _storage: _RuleStorage

    def fail_next(self, function: str, code: int, times: int = 1, *, after: int = 0) -> None:
        """Make the next *times* calls of *function* (after *after* good ones) return *code*."""
        if function not in BY_NAME:
            raise ValueError(f"{function!r} is not a Restart Manager export: {', '.join(EXPORTS)}")
        if not 0 < code <= 0xFFFFFFFF or times < 1 or after < 0:
            raise ValueError("need a non-zero DWORD code, times >= 1 and after >= 0")
        self._storage.save(function, FaultRule(code, times, after))

    def pending(self, function: str) -> FaultRule | None:
        """The rule waiting for *function*, if any."""
        return self._storage.load(function)

    def unfired(self) -> dict[str, FaultRule]:
        """Every rule that has calls left to fail (what a test armed but never met)."""
        found = {}
        for function in EXPORTS:
            rule = self._storage.load(function)
            if rule is not None:
                found[function] = rule
        return found

    def clear(self) -> None:
        """Remove every rule of this scope."""
        for function in EXPORTS:
            self._storage.save(function, None)

    @property
    def armed(self) -> bool:
        """Whether any rule is waiting (checked before every call: cheap when none is)."""
        return self._storage.any()

    def take(self, function: str) -> int | None:
        """Called by every Rm* entry point: the injected code for this call, or ``None``."""
        return self._storage.consume(function)


class _MemoryStorage:
    def __init__(self) -> None:
        self._rules: dict[str, FaultRule] = {}
        self._lock = threading.Lock()

    def any(self) -> bool:
        return bool(self._rules)

    def load(self, function: str) -> FaultRule | None:
        return self._rules.get(function)

    def save(self, function: str, rule: FaultRule | None) -> None:
        with self._lock:
            if rule is None:
                self._rules.pop(function, None)
            else:
                self._rules[function] = rule

    def consume(self, function: str) -> int | None:
        with self._lock:
            rule = self._rules.pop(function, None)
            if rule is None:
                return None
            code, left = rule.consume()
            if left is not None:
                self._rules[function] = left
            return code


class _StoreStorage:
    """Rules as keys of the store, so every process sees them; ``any`` is one existence
    check of their parent key, kept non-empty only while a rule is armed."""

    def __init__(self, store: Store, mutex_timeout: float) -> None:
        self._store = store
        self._mutex_timeout = mutex_timeout

    def any(self) -> bool:
        return self._store.key_exists(_ARMED_KEY)

    def load(self, function: str) -> FaultRule | None:
        values = self._store.read_key(f"{_FAULTS_KEY}\\{function}")
        if not values:
            return None
        try:
            code, times, after = (values[n].as_int() for n in ("Code", "Times", "After"))
        except (KeyError, TypeError, ValueError):
            return None  # a foreign or damaged rule is no rule
        return FaultRule(code, times, after)

    def save(self, function: str, rule: FaultRule | None) -> None:
        path = f"{_FAULTS_KEY}\\{function}"
        if rule is None:
            self._store.delete_key(path)
        else:
            fields = {"Code": rule.code, "Times": rule.times, "After": rule.after}
            self._store.write_key(path, {n: RegValue.dword(v) for n, v in fields.items()})
        if any(self._store.key_exists(f"{_FAULTS_KEY}\\{name}") for name in EXPORTS):
            self._store.write_key(_ARMED_KEY, {})
        else:
            self._store.delete_key(_ARMED_KEY)

    def consume(self, function: str) -> int | None:
        if not self._store.key_exists(f"{_FAULTS_KEY}\\{function}"):
            return None
        try:
            with self._store.mutex.hold(self._mutex_timeout):
                rule = self.load(function)
                if rule is None:
                    return None
                code, left = rule.consume()
                self.save(function, left)
                return code
        except MutexTimeout:
            return winerror.ERROR_SEM_TIMEOUT
        except StoreError:
            return winerror.ERROR_WRITE_FAULT


# The functions whose pages document ERROR_SEM_TIMEOUT: the ones that take the mutex.
MUTEX_FUNCTIONS = tuple(name for name, export in BY_NAME.items() if export.takes_mutex)


class SimulatedCrash(BaseException):
    """Raised at a crash point: the simulated process dies there, mid-call."""


class ProcessFaults(Faults):
    """Rules that only one Simulator (one simulated process) sees, plus the faults that
    need its clock or its view of the store: mutex holds, write failures, crashes."""

    def __init__(self, clock: Clock, store: Store) -> None:
        self._storage = _MemoryStorage()
        self._clock = clock
        self._store = store
        self._mutex_held_until = float("-inf")
        self._crash_points: set[str] = set()

    @property
    def armed(self) -> bool:
        return (
            self._storage.any()
            or self._mutex_held_until > float("-inf")
            or bool(self._crash_points)
        )

    def hold_registry_mutex(self, seconds: float) -> None:
        """Another process holds the registry write mutex for *seconds* of simulated time:
        until the clock has moved that far, every call that needs it returns 121."""
        self._mutex_held_until = self._clock.now + seconds

    def fail_writes(self, times: int = 1) -> None:
        """The next *times* writes to the store fail (disk full): the calls return 29."""
        self._store.inject_write_failures(times)

    def out_of_memory(self, function: str, times: int = 1) -> None:
        """The next *times* calls of *function* return ERROR_OUTOFMEMORY (14)."""
        self.fail_next(function, winerror.ERROR_OUTOFMEMORY, times)

    def crash_after_write(self, function: str) -> None:
        """The simulated process dies right after *function* wrote the store (before it
        returns): the change is there, the caller never sees the result, and the
        Simulator is terminated (``SimulatorExited`` is raised)."""
        if function not in MUTEX_FUNCTIONS:
            raise ValueError(f"{function!r} does not write the store")
        self._crash_points.add(function)

    def crash_point(self, function: str) -> None:
        """Called by the session table after each store write of *function*."""
        if function in self._crash_points:
            self._crash_points.discard(function)
            raise SimulatedCrash(function)

    def unfired(self) -> dict[str, FaultRule]:
        found = super().unfired()
        for function in self._crash_points:
            found.setdefault(function, FaultRule(0, 1))
        return found

    def clear(self) -> None:
        super().clear()
        self._mutex_held_until = float("-inf")
        self._crash_points.clear()
        self._store.inject_write_failures(0)

    def take(self, function: str) -> int | None:
        if function in MUTEX_FUNCTIONS and self._clock.now < self._mutex_held_until:
            return winerror.ERROR_SEM_TIMEOUT
        return super().take(function)


class StoreFaults(Faults):
    """Rules kept in the store: every process that uses the store sees and consumes them.

    *store* is a store (or anything :func:`~rmcore.registry_store.open_store` takes).
    """

    def __init__(
        self,
        store: Store | str | os.PathLike[str] | None = None,
        mutex_timeout: float = DEFAULT_MUTEX_TIMEOUT,
    ) -> None:
        self._storage = _StoreStorage(open_store(store), mutex_timeout)
