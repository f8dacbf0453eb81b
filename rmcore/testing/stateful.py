"""The conformance state machine: Start/Join/End/terminate across processes, every return
code checked against a small model of the documented rules (and of rmcore's decisions).

Subclass it to point it at another backend (override :meth:`new_process`) or to add rules
for your own installer code; run it with ``TestX = MyMachine.TestCase``.
"""

from __future__ import annotations

import ctypes
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from .. import winerror
from ..session import _fidelity
from ..win32._rstrtmgr import Simulator
from .strategies import malformed_keys, session_keys

__all__ = ["ModelProcess", "ModelSession", "SessionStateMachine"]


@dataclass
class ModelSession:
    number: int
    key: str
    owner: int  # index of the owning process slot
    owner_generation: int


@dataclass
class ModelProcess:
    generation: int = 0
    next_handle: int = _fidelity.FIRST_HANDLE
    handles: dict[int, tuple[str, bool]] = field(default_factory=dict)  # handle -> (key, primary)


class SessionStateMachine(RuleBasedStateMachine):
    """Drives the session exports of :meth:`new_process` backends against a model."""

    max_sessions = 4
    process_count = 3

    def __init__(self) -> None:
        super().__init__()
        self.store = tempfile.mkdtemp(prefix="rmcore-stateful-")
        self.apis = [self.new_process() for _ in range(self.process_count)]
        self.procs = [ModelProcess() for _ in range(self.process_count)]
        self.records: dict[int, ModelSession] = {}  # session number -> record in the store
        self.known_keys: list[str] = []

    def new_process(self) -> Any:
        """A backend standing for one new process (the simulator by default)."""
        return Simulator(self.store, max_sessions=self.max_sessions, mutex_timeout=5)

    def teardown(self) -> None:
        for api in self.apis:
            if isinstance(api, Simulator):
                api.terminate()
        shutil.rmtree(self.store, ignore_errors=True)

    # -- the model ---------------------------------------------------------------------

    def _owner_alive(self, record: ModelSession) -> bool:
        return self.procs[record.owner].generation == record.owner_generation

    def _record_of(self, key: str) -> ModelSession | None:
        wanted = key.lower()
        return next((r for r in self.records.values() if r.key == wanted), None)

    def _expected_start_number(self) -> int | None:
        """Observed (Hunt & Hackett): RmStartSession reuses the first abandoned session key
        it finds, else creates a new one: the lowest number free or abandoned."""
        abandoned = {n for n, r in self.records.items() if not self._owner_alive(r)}
        available = (set(range(self.max_sessions)) - set(self.records)) | abandoned
        return min(available) if available else None

    def _take_handle(self, p: int, key: str, primary: bool, handle: int) -> None:
        proc = self.procs[p]
        assert handle == proc.next_handle, (handle, proc.next_handle)
        proc.next_handle += 1
        proc.handles[handle] = (key, primary)

    # -- rules -------------------------------------------------------------------------

    @rule(data=st.data())
    def start(self, data: st.DataObject) -> None:
        p = data.draw(st.integers(0, self.process_count - 1), label="process")
        handle = ctypes.c_uint32(0xFFFFFFFF)
        key = ctypes.create_unicode_buffer(33)
        code = self.apis[p].RmStartSession(ctypes.byref(handle), 0, key)
        number = self._expected_start_number()
        if number is None:
            assert code == winerror.ERROR_MAX_SESSIONS_REACHED, code
            assert handle.value == 0xFFFFFFFF
            return
        assert code == winerror.ERROR_SUCCESS, code
        self._take_handle(p, key.value, True, handle.value)
        self.records[number] = ModelSession(number, key.value, p, self.procs[p].generation)
        self.known_keys.append(key.value)
        if isinstance(self.apis[p], Simulator):
            assert self.apis[p].handles()[handle.value].name == f"Session{number:04d}"

    @rule(data=st.data())
    def join(self, data: st.DataObject) -> None:
        p = data.draw(st.integers(0, self.process_count - 1), label="process")
        choices = [session_keys(), malformed_keys()]
        if self.known_keys:
            known = st.sampled_from(self.known_keys)
            choices += [known, known.map(str.upper)]
        key = data.draw(st.one_of(choices), label="key")
        handle = ctypes.c_uint32(0xFFFFFFFF)
        code = self.apis[p].RmJoinSession(ctypes.byref(handle), key)
        record = self._record_of(key) if len(key) == 32 else None
        if key != key.lower() and _fidelity.JOIN_KEY_CASE_SENSITIVE:
            record = None
        if record is None or not self._owner_alive(record):
            assert code == winerror.ERROR_SESSION_CREDENTIAL_CONFLICT, code
            assert handle.value == 0xFFFFFFFF
            return
        assert code == winerror.ERROR_SUCCESS, code
        self._take_handle(p, record.key, False, handle.value)

    @rule(data=st.data())
    def end(self, data: st.DataObject) -> None:
        p = data.draw(st.integers(0, self.process_count - 1), label="process")
        proc = self.procs[p]
        handle = data.draw(
            st.sampled_from([*proc.handles, proc.next_handle, 0xFFFFFFFF]), label="handle"
        )
        code = self.apis[p].RmEndSession(handle)
        entry = proc.handles.pop(handle, None)
        record = None if entry is None else self._record_of(entry[0])
        if record is None:  # never issued, already ended, or the session is gone
            assert code == winerror.ERROR_INVALID_HANDLE, code
            return
        assert code == winerror.ERROR_SUCCESS, code
        if entry is not None and entry[1]:
            del self.records[record.number]

    @precondition(lambda self: isinstance(self.apis[0], Simulator))
    @rule(data=st.data())
    def terminate(self, data: st.DataObject) -> None:
        """A process exits without RmEndSession; a new one takes its slot."""
        p = data.draw(st.integers(0, self.process_count - 1), label="process")
        self.apis[p].terminate()
        self.apis[p] = self.new_process()
        self.procs[p] = ModelProcess(generation=self.procs[p].generation + 1)

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def store_matches_model(self) -> None:
        if not isinstance(self.apis[0], Simulator):
            return  # the real DLL offers no view of the registry to compare with
        infos = self.apis[0].sessions.sessions()
        assert [i.number for i in infos] == sorted(self.records)
        for info in infos:
            assert info.alive == self._owner_alive(self.records[info.number])
