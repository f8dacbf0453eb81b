"""A hypothesis state machine: Start/Join/End/terminate across simulated processes, every
return code checked against a small, independent model of the documented rules."""

from __future__ import annotations

import ctypes
import shutil
import tempfile
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import rmcore

MAX_SESSIONS = 4
PROCESSES = 3


@dataclass
class ModelSession:
    number: int
    key: str
    owner: int  # index of the owning process slot
    owner_generation: int


@dataclass
class ModelProcess:
    generation: int = 0
    next_handle: int = 0
    handles: dict[int, tuple[str, bool]] = field(default_factory=dict)  # handle -> (key, primary)


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = tempfile.mkdtemp(prefix="rmcore-stateful-")
        self.sims = [self._new_sim() for _ in range(PROCESSES)]
        self.procs = [ModelProcess() for _ in range(PROCESSES)]
        self.records: dict[int, ModelSession] = {}  # session number -> record in the store
        self.known_keys: list[str] = []

    def teardown(self) -> None:
        shutil.rmtree(self.store, ignore_errors=True)

    def _new_sim(self) -> rmcore.Simulator:
        return rmcore.Simulator(self.store, max_sessions=MAX_SESSIONS, mutex_timeout=5)

    # -- the model's rules ---------------------------------------------------------------

    def _owner_alive(self, record: ModelSession) -> bool:
        return self.procs[record.owner].generation == record.owner_generation

    def _record_of(self, key: str) -> ModelSession | None:
        return next((r for r in self.records.values() if r.key == key), None)

    def _expected_start_number(self) -> int | None:
        if len(self.records) < MAX_SESSIONS:
            return min(set(range(MAX_SESSIONS)) - set(self.records))
        abandoned = sorted(n for n, r in self.records.items() if not self._owner_alive(r))
        return abandoned[0] if abandoned else None

    # -- rules -----------------------------------------------------------------------------

    @rule(p=st.integers(0, PROCESSES - 1))
    def start(self, p: int) -> None:
        handle = ctypes.c_uint32(0xFFFFFFFF)
        key = ctypes.create_unicode_buffer(33)
        code = self.sims[p].RmStartSession(ctypes.byref(handle), 0, key)
        number = self._expected_start_number()
        if number is None:
            assert code == 353
            return
        assert code == 0
        proc = self.procs[p]
        assert handle.value == proc.next_handle
        proc.next_handle += 1
        proc.handles[handle.value] = (key.value, True)
        self.records[number] = ModelSession(number, key.value, p, proc.generation)
        self.known_keys.append(key.value)
        assert self.sims[p].handles()[handle.value].name == f"Session{number:04d}"

    @rule(p=st.integers(0, PROCESSES - 1), data=st.data())
    def join(self, p: int, data: st.DataObject) -> None:
        candidates = [*self.known_keys, "0" * 32, "zz", "f" * 32]
        key = data.draw(st.sampled_from(candidates))
        handle = ctypes.c_uint32(0xFFFFFFFF)
        code = self.sims[p].RmJoinSession(ctypes.byref(handle), key)
        record = self._record_of(key)
        if record is None or not self._owner_alive(record):
            assert code == 1219
            assert handle.value == 0xFFFFFFFF
            return
        assert code == 0
        proc = self.procs[p]
        assert handle.value == proc.next_handle
        proc.next_handle += 1
        proc.handles[handle.value] = (key, False)

    @rule(p=st.integers(0, PROCESSES - 1), data=st.data())
    def end(self, p: int, data: st.DataObject) -> None:
        proc = self.procs[p]
        handle = data.draw(st.sampled_from([*proc.handles, proc.next_handle, 0xFFFFFFFF]))
        code = self.sims[p].RmEndSession(handle)
        entry = proc.handles.pop(handle, None)
        if entry is None:
            assert code == 6
            return
        key, primary = entry
        record = self._record_of(key)
        if record is None:  # ended by the primary, or reclaimed
            assert code == 6
            return
        assert code == 0
        if primary:
            del self.records[record.number]

    @precondition(lambda self: True)
    @rule(p=st.integers(0, PROCESSES - 1))
    def terminate(self, p: int) -> None:
        self.sims[p].terminate()
        self.sims[p] = self._new_sim()
        self.procs[p] = ModelProcess(generation=self.procs[p].generation + 1)

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        infos = self.sims[0].sessions.sessions()
        assert [i.number for i in infos] == sorted(self.records)
        for info in infos:
            assert info.alive == self._owner_alive(self.records[info.number])


SessionMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestSessions = SessionMachine.TestCase
