"""The values the session table hands out: references, listings, resources, reap results."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..registry_store import Problem
from ._identity import SimulatedProcess
from ._records import Call, strings

__all__ = ["ReapResult", "Resources", "SessionInfo", "SessionRef"]


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
        found: tuple[dict[str, str], dict[str, str], dict[str, str]] = ({}, {}, {})
        for call in calls:
            for index, payload in enumerate(call):
                seen = found[index]
                for item in strings(payload):
                    seen.setdefault(item if index == 1 else item.casefold(), item)
        processes = []
        for entry in found[1].values():
            parts = entry.split(":")
            if len(parts) == 3 and all(len(part) == 8 for part in parts):
                pid, high, low = (int(part, 16) for part in parts)
                processes.append((pid, (high << 32) | low))
        return cls(tuple(found[0].values()), tuple(processes), tuple(found[2].values()))


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
