"""Record real rstrtmgr.dll calls, replay them against the simulator, and list the differences:
the data that settles what rmcore had to decide (``rmcore.session._decisions.DECISIONS``).

Recording: ``RstrtmgrDLL(path, recorder=TraceRecorder())`` then ``recorder.save(path)``
(:mod:`._trace` has the format). Replaying: :func:`replay` (``rmcore replay TRACE`` on the
command line, :func:`assert_replays` in a test). Each trace process becomes one
:class:`~rmcore.Simulator`, all on one in-memory store, over a :class:`~rmcore.World`
rebuilt from the trace's ``world``. Every call is made with the recorded argument values
(out-buffers of the recorded sizes) through the DLL backend's own marshalling, so its
out-values come back in the very form the recorder saw, and are compared:

* the result code, exactly;
* counts, needed sizes, reboot reasons, progress percentages, every RM_PROCESS_INFO field and
  the filter list (decoded), exactly;
* except what Windows picks freely: handles and keys are mapped recorded -> replayed when a
  call returns them (a key must be 32 lower-case hex digits; only the first handle of each
  process is compared by value: the FIRST_HANDLE decision), as are the new PID and start
  time of a restarted process.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from .._errors import RmUsageWarning
from ..registry_store import Store, open_store
from ..session._decisions import DECISIONS
from ..win32._dll import RstrtmgrDLL
from ..win32._exports import BY_NAME, Kind, Param
from ..win32._rstrtmgr import Simulator
from ..win32._types import (
    CCH_RM_SESSION_KEY,
    RM_APP_STATUS,
    RM_PROCESS_INFO,
    RM_UNIQUE_PROCESS,
    WCHAR,
)
from ..world._world import World
from ._trace import (
    ROW_FIELDS,
    Trace,
    TraceError,
    TraceRecorder,
    build_world,
    decode_filter_list,
    load_trace,
    plain_call,
    validate,
)

__all__ = [
    "Divergence",
    "Report",
    "Trace",
    "TraceError",
    "TraceRecorder",
    "assert_replays",
    "build_world",
    "decisions_of",
    "decode_filter_list",
    "load_trace",
    "replay",
]

_KEY = re.compile("[0-9a-f]{32}")
_NO_DECISION = "touches no recorded decision: a bug, or an undocumented behaviour"
TraceSource = Trace | str | os.PathLike[str]


def decisions_of(function: str) -> tuple[str, ...]:
    """The names of the decisions whose ``exports`` include *function*."""
    return tuple(decision.name for decision in DECISIONS if function in decision.exports)


@dataclass(frozen=True)
class Divergence:
    """One out-value (or the result) of one call where rmcore differs from the recording."""

    index: int  # the call's position in the trace
    process: int
    function: str
    what: str  # "result", an out-parameter's name, "rgAffectedApps[1].app_name", ...
    windows: Any  # what the recorded DLL said
    rmcore: Any  # what the simulator says
    decisions: tuple[str, ...]  # the decisions this function's results depend on

    def __str__(self) -> str:
        touches = (
            f"touches decision {', '.join(self.decisions)} (docs/fidelity.md)"
            if self.decisions
            else _NO_DECISION
        )
        return (
            f"call {self.index} (process {self.process}) {self.function}: {self.what}: "
            f"Windows {self.windows!r}, rmcore {self.rmcore!r}\n    {touches}"
        )

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "decisions": list(self.decisions)}


@dataclass(frozen=True)
class Report:
    """What a replay found: :attr:`ok` when rmcore agreed with every recorded call."""

    recorded: dict[str, Any]
    calls: int
    processes: int
    divergences: tuple[Divergence, ...]

    @property
    def ok(self) -> bool:
        return not self.divergences

    def __str__(self) -> str:
        where = ", ".join(
            str(self.recorded[name])
            for name in ("platform", "library", "time")
            if self.recorded.get(name)
        )
        head = f"replayed {self.calls} call(s) of {self.processes} process(es) recorded on "
        head += where or "an unknown host"
        if self.ok:
            return f"{head}: no divergence"
        calls = len({divergence.index for divergence in self.divergences})
        summary = f"{head}: {len(self.divergences)} divergence(s) in {calls} call(s)"
        return "\n".join([summary, *map(str, self.divergences)])

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "calls": self.calls,
            "processes": self.processes,
            "recorded": self.recorded,
            "divergences": [divergence.as_json() for divergence in self.divergences],
        }


def _same_case(template: str, text: str) -> str:
    """*text* with the upper-case letters where *template* has them."""
    return "".join(t.upper() if c.isupper() else t for c, t in zip(template, text, strict=False))


def _ignore_progress(percent: int) -> None:
    """The status callback of a replayed call (the marshalling records the percentages)."""


class _Last:
    """A recorder that keeps only the last call, in trace form."""

    call: dict[str, Any] | None = None

    def record(
        self,
        backend: object,
        function: str,
        arguments: dict[str, object],
        outs: dict[str, object],
        result: int,
        seconds: float,
    ) -> None:
        self.call = plain_call(function, arguments, outs, result, seconds)


class _SimulatedDLL(RstrtmgrDLL):
    """A Simulator behind the DLL backend's marshalling: its calls reach the recorder exactly
    as the real DLL's did."""

    def __init__(self, simulator: Simulator, recorder: _Last) -> None:  # no library to load
        self.lib = simulator  # type: ignore[assignment]
        self.path = repr(simulator)
        self.recorder = recorder


class _ReplayedProcess(Simulator):
    """A Simulator that calls itself the recording process (RmGetList's DetectedSelf)."""

    def __init__(self, store: Store, world: World, caller: dict[str, Any]) -> None:
        super().__init__(store, world=world, ts_session=caller.get("ts_session") or 1)
        self._recorded_pid = caller.get("pid")

    @property
    def pid(self) -> int:
        recorded = self._recorded_pid
        return recorded if isinstance(recorded, int) else super().pid


class _Replay:
    """One replay of one trace: the simulated processes and the recorded -> replayed maps."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.store = open_store(":memory:")
        self.world = build_world(trace["world"])
        self.last = _Last()
        self.processes: dict[int, _SimulatedDLL] = {}
        self.handles: dict[tuple[int, int], int] = {}
        self.keys: dict[str, str] = {}
        self.ids: dict[tuple[int, int], tuple[int, int]] = {}  # restarted processes
        self.pointer_size = int(
            trace.get("recorded", {}).get("pointer_size") or ctypes.sizeof(ctypes.c_void_p)
        )

    def run(self) -> Report:
        divergences = [d for i, call in enumerate(self.trace["calls"]) for d in self.call(i, call)]
        return Report(
            recorded=dict(self.trace.get("recorded") or {}),
            calls=len(self.trace["calls"]),
            processes=len({call["process"] for call in self.trace["calls"]}),
            divergences=tuple(divergences),
        )

    def _process(self, number: int) -> _SimulatedDLL:
        if number not in self.processes:
            simulator = _ReplayedProcess(self.store, self.world, self.trace["world"]["caller"])
            self.processes[number] = _SimulatedDLL(simulator, self.last)
        return self.processes[number]

    def call(self, index: int, call: dict[str, Any]) -> list[Divergence]:
        export = BY_NAME[call["function"]]
        try:
            arguments = [self._argument(call, param) for param in export.params]
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise TraceError(f"call {index} ({export.name}): bad arguments: {exc!r}") from exc
        diverge = functools.partial(
            Divergence, index, call["process"], export.name, decisions=decisions_of(export.name)
        )
        self.last.call = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RmUsageWarning)
            try:
                getattr(self._process(call["process"]), export.name)(*arguments)
            except Exception as exc:  # the simulator refused the call outright
                return [diverge("the call", call["result"], f"raised {type(exc).__name__}: {exc}")]
        assert self.last.call is not None
        return [diverge(*difference) for difference in self._compare(call, self.last.call)]

    # -- arguments -----------------------------------------------------------------------

    def _argument(self, call: dict[str, Any], param: Param) -> object:
        """One argument, as the recording passed it: values as recorded (handles, keys and
        restarted processes mapped), out-pointers NULL unless the DLL wrote through them."""
        recorded, outs, kind, name = call["arguments"], call["outs"], param.kind, param.name
        value = recorded.get(name)
        if kind in (Kind.DWORD, Kind.ENUM):
            number = int(value or 0)
            if name == "dwSessionHandle":
                return self.handles.get((call["process"], number), number)
            return number
        if kind in (Kind.DWORD_OUT, Kind.DWORD_INOUT):
            return None if value is None else ctypes.byref(ctypes.c_uint32(int(value)))
        if kind is Kind.WSTR:
            return self._key(value) if name == "strSessionKey" and value else value
        if kind is Kind.WSTR_ARRAY:
            return None if value is None else (ctypes.c_wchar_p * max(len(value), 1))(*value)
        if kind in (Kind.PROCESS, Kind.PROCESS_ARRAY):
            if value is None:
                return None
            pairs = [self.ids.get((int(p), int(s)), (int(p), int(s))) for p, s in value]
            return (RM_UNIQUE_PROCESS * max(len(pairs), 1))(
                *(RM_UNIQUE_PROCESS.of(*p) for p in pairs)
            )
        if kind is Kind.CALLBACK:
            return _ignore_progress if value == "callback" else None
        # An out-buffer: its recorded address says whether it was passed (older traces: only
        # what the DLL wrote through it).
        if (recorded[name] is None) if name in recorded else (name not in outs):
            return None
        if kind is Kind.KEY_OUT:
            return (WCHAR * (CCH_RM_SESSION_KEY + 1))()
        size = max(int(recorded.get(param.count or "") or 0), 1)
        if kind is Kind.PROCESS_INFO_ARRAY:
            return (RM_PROCESS_INFO * size)()
        return (ctypes.c_ubyte * size)()

    def _key(self, text: str) -> str:
        """A recorded key (or a truncated one) replaced by the replayed session's key."""
        lower = text.lower()
        for recorded, replayed in self.keys.items():
            at = lower.find(recorded)
            if at >= 0:
                swapped = _same_case(text[at : at + len(recorded)], replayed)
                return text[:at] + swapped + text[at + len(recorded) :]
            if len(text) >= 8 and recorded.startswith(lower):
                return _same_case(text, replayed[: len(text)])
        return text

    # -- comparison ----------------------------------------------------------------------

    def _compare(self, call: dict[str, Any], got: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
        """(what, recorded, replayed) for everything that differs; learns the maps."""
        if call["result"] != got["result"]:
            yield "result", call["result"], got["result"]
        succeeded = call["result"] == got["result"] == 0
        kinds = {param.name: param.kind for param in BY_NAME[call["function"]].params}
        recorded, replayed = call["outs"], got["outs"]
        for name in [*recorded, *(name for name in replayed if name not in recorded)]:
            was, now, kind = recorded.get(name), replayed.get(name), kinds.get(name)
            if name not in recorded or name not in replayed:
                yield name, was, now
            elif succeeded and name == "pSessionHandle":
                yield from self._handle(call["process"], was, now)
            elif succeeded and kind is Kind.KEY_OUT:
                if not (_KEY.fullmatch(str(was)) and _KEY.fullmatch(str(now))):
                    yield f"{name} (32 lower-case hex digits)", was, now
                self.keys[str(was).lower()] = str(now)
            elif kind is Kind.PROCESS_INFO_ARRAY:
                yield from self._rows(name, was, now)
            elif kind is Kind.BYTES_OUT:
                was = decode_filter_list(
                    str(was), self.pointer_size, base=call["arguments"].get(name)
                )
                now = decode_filter_list(str(now), base=got["arguments"].get(name))  # fmt: skip
                if was != now:
                    yield f"{name} (decoded)", was, now
            elif was != now:
                yield name, was, now

    def _handle(self, process: int, was: int, now: int) -> Iterator[tuple[str, Any, Any]]:
        first = not any(number == process for number, _ in self.handles)
        self.handles[(process, was)] = now
        if first and was != now:
            yield "pSessionHandle (the first handle of the process)", was, now

    def _rows(self, name: str, was: list[Any], now: list[Any]) -> Iterator[tuple[str, Any, Any]]:
        if len(was) != len(now):
            yield f"{name} (rows)", len(was), len(now)
        for index, (row, got) in enumerate(zip(was, now, strict=False)):
            recorded_id, replayed_id = (
                (row["pid"], row["start_time"]),
                (got["pid"], got["start_time"]),
            )
            restarted = row["status"] & got["status"] & RM_APP_STATUS.RmStatusRestarted
            same_id = recorded_id == replayed_id or (
                bool(restarted) and self.ids.setdefault(recorded_id, replayed_id) == replayed_id
            )
            for field in ROW_FIELDS:
                if (
                    not (same_id and field in ("pid", "start_time"))
                    and row.get(field) != got[field]
                ):
                    yield f"{name}[{index}].{field}", row.get(field), got[field]


def replay(trace: TraceSource) -> Report:
    """Replay a trace (or a trace file) against the simulator; see the module's docstring."""
    document = load_trace(trace) if isinstance(trace, (str, os.PathLike)) else validate(trace)
    return _Replay(document).run()


def assert_replays(path_or_trace: TraceSource) -> Report:
    """Replay; raise AssertionError with the report if rmcore diverged anywhere."""
    report = replay(path_or_trace)
    if not report.ok:
        raise AssertionError(str(report))
    return report
