"""The shipped conformance state machine, run against the simulator, and a user-style
subclass that adds a rule of its own."""

from __future__ import annotations

import ctypes

from hypothesis import settings
from hypothesis.stateful import rule

from rmcore.testing import SessionStateMachine

TestSessions = SessionStateMachine.TestCase
TestSessions.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)


class InstallerMachine(SessionStateMachine):
    """What a user writes: the same model, plus a rule for their own code path."""

    @rule()
    def start_then_end_immediately(self) -> None:
        number = self._expected_start_number()  # the model says which slot it takes
        handle = ctypes.c_uint32()
        code = self.apis[0].RmStartSession(
            ctypes.byref(handle), 0, ctypes.create_unicode_buffer(33)
        )
        if number is None:
            assert code == 353
            return
        assert code == 0
        self.records.pop(number, None)  # an abandoned session there was reclaimed
        self.procs[0].next_handle += 1
        assert self.apis[0].RmEndSession(handle) == 0


TestInstallerMachine = InstallerMachine.TestCase
TestInstallerMachine.settings = settings(max_examples=15, stateful_step_count=20, deadline=None)
