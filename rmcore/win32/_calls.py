"""The call log: every call a Simulator answered, with its arguments, result and reason."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from .. import winerror
from ._exports import BY_NAME

__all__ = ["Call", "CallLog"]


@dataclass
class Call:
    """One call: ``result`` is the DWORD returned (``None`` if the call raised)."""

    function: str
    args: tuple[object, ...]
    result: int | None = None
    reason: str = ""  # which rule, which argument, which cause ("" for success)
    thread: int = field(default_factory=threading.get_ident)

    @property
    def arguments(self) -> dict[str, object]:
        """The arguments by their restartmanager.h names."""
        names = (
            [param.name for param in BY_NAME[self.function].params]
            if (self.function in BY_NAME)
            else [f"arg{i}" for i in range(len(self.args))]
        )
        return dict(zip(names, self.args, strict=False))

    def explain(self) -> str:
        """One line: the call, its code and name, and why."""
        if self.result is None:
            return f"{self.function}: {self.reason}"
        why = f" ({self.reason})" if self.reason else ""
        return f"{self.function} -> {self.result} {winerror.name(self.result)}{why}"


class CallLog:
    """The last *size* calls, oldest first (``size=0``: keep none)."""

    def __init__(self, size: int) -> None:
        self._calls: deque[Call] = deque(maxlen=max(size, 0))
        self._keep = size > 0

    def begin(self, function: str, args: tuple[object, ...]) -> Call:
        call = Call(function, args)
        if self._keep:
            self._calls.append(call)
        return call

    @staticmethod
    def end(call: Call, result: int | None, reason: str) -> None:
        call.result, call.reason = result, reason

    def __iter__(self) -> Iterator[Call]:
        return iter(list(self._calls))

    def __len__(self) -> int:
        return len(self._calls)

    def __getitem__(self, index: int) -> Call:
        return list(self._calls)[index]

    def of(self, function: str) -> list[Call]:
        """The calls of one function."""
        return [call for call in self._calls if call.function == function]

    @property
    def last(self) -> Call | None:
        return self._calls[-1] if self._calls else None

    def clear(self) -> None:
        self._calls.clear()
