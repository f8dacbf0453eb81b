"""The values the session table hands out: references, listings, resources, reap results."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..registry_store import Problem
from ._identity import SimulatedProcess
from ._records import Call, strings

__all__ = ["ReapResult", "Registered", "Resources", "SessionInfo", "SessionRef"]


@dataclass(frozen=True)
class Resources:
    """What a session has registered: full file paths, (PID, start FILETIME), service names."""

    files: tuple[str, ...] = ()
    processes: tuple[tuple[int, int], ...] = ()
    services: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.files or self.processes or self.services)

    @classmethod
    def from_calls(cls, calls: Iterable[Call]) -> Resources:
        """Everything the calls registered, first-seen order, each once: paths and services
        compared as Windows compares names (ignoring case), processes exactly."""
        found = Registered()
        found.add(calls)
        return found.resources()


class Registered:
    """What calls registered, gathered as :meth:`Resources.from_calls` gathers it, and
    open to more calls (a session's log only grows: its new records are added to it)."""

    __slots__ = ("_found", "_resources")

    def __init__(self) -> None:
        self._found: tuple[dict[str, str], dict[str, str], dict[str, str]] = ({}, {}, {})
        self._resources: Resources | None = None

    def add(self, calls: Iterable[Call]) -> None:
        for call in calls:
            self._resources = None
            for index, payload in enumerate(call):
                seen = self._found[index]
                for item in strings(payload):
                    seen.setdefault(item if index == 1 else item.casefold(), item)

    def resources(self) -> Resources:
        if self._resources is None:
            files, entries, services = self._found
            processes = []
            for entry in entries.values():
                parts = entry.split(":")
                if len(parts) == 3 and all(len(part) == 8 for part in parts):
                    pid, high, low = (int(part, 16) for part in parts)
                    processes.append((pid, (high << 32) | low))
            self._resources = Resources(
                tuple(files.values()), tuple(processes), tuple(services.values())
            )
        return self._resources


@dataclass(frozen=True)
class SessionRef:
    """What a handle names: one session (by key name and key hash) in one role."""

    name: str
    key_hash: bytes
    primary: bool


@dataclass(frozen=True)
class SessionInfo:
    """A session as ``rmcore sessions`` shows it (``sequence`` is the hive's Sequence)."""

    name: str
    owner: SimulatedProcess
    alive: bool
    secondaries: int  # live ones
    sequence: int
    files: int = 0  # distinct files registered

    @property
    def number(self) -> int:
        return int(self.name[len("Session") :])


class ReapResult(list[str]):
    """The sessions ``reap`` removed (the list itself: abandoned or unreadable), plus the
    files it removed and the problems it left (foreign or unreadable entries)."""

    def __init__(
        self, sessions: Iterable[str], files: Iterable[str], problems: Iterable[Problem]
    ) -> None:
        super().__init__(sessions)
        self.files = list(files)
        self.problems = list(problems)
