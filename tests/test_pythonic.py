"""The Pythonic layer: Session objects and one exception class per documented code."""

from __future__ import annotations

import pytest

import rmcore
from rmcore import winerror as we


def test_start_join_end_as_context_managers(store: str) -> None:
    primary_sim, secondary_sim = rmcore.Simulator(store), rmcore.Simulator(store)
    with rmcore.Session.start(primary_sim) as primary:
        assert primary.primary and len(primary.key) == 32 and primary.handle == 0
        with rmcore.Session.join(primary.key, secondary_sim) as secondary:
            assert not secondary.primary and secondary.handle == 0
            assert primary_sim.sessions.sessions()[0].secondaries == 1
        assert secondary.ended
        assert primary_sim.sessions.sessions()[0].secondaries == 0
    assert primary.ended and primary_sim.sessions.sessions() == []


def test_failures_raise_the_class_of_their_code(store: str) -> None:
    sim = rmcore.Simulator(store, max_sessions=1)
    session = rmcore.Session.start(sim)
    with pytest.raises(rmcore.MaxSessionsReachedError) as caught:
        rmcore.Session.start(sim)
    assert caught.value.winerror == 353 and caught.value.function == "RmStartSession"
    assert "353 ERROR_MAX_SESSIONS_REACHED" in str(caught.value)
    with pytest.raises(rmcore.SessionCredentialConflictError):
        rmcore.Session.join("0" * 32, sim)
    session.end()
    with pytest.raises(rmcore.InvalidHandleError) as ended:
        session.end()
    assert isinstance(ended.value, rmcore.RmError) and ended.value.winerror == 6


def test_every_documented_code_has_its_class() -> None:
    documented = [c for c in we.MESSAGES if c not in (we.ERROR_SUCCESS, we.ERROR_BAD_COMMAND)]
    for code in documented:
        error = rmcore.RmError.from_code(code, "RmX")
        assert type(error) is not rmcore.RmError and error.winerror == code
    unknown = rmcore.RmError.from_code(4242)
    assert type(unknown) is rmcore.RmError and unknown.winerror == 4242


def test_error_table_uses_winerror_values_not_misprints() -> None:
    assert we.ERROR_BAD_ARGUMENTS == 160 and we.ERROR_FILE_NOT_FOUND == 2
    assert we.name(160) == "ERROR_BAD_ARGUMENTS" and we.name(22) == "ERROR_BAD_COMMAND"
    assert we.describe(121) == "121 ERROR_SEM_TIMEOUT: The semaphore timeout period has expired."
    assert we.name(99999) == "ERROR_99999"
    assert len(set(we.NAMES.values())) == len(we.NAMES) == len(we.MESSAGES)


def test_mutex_timeout_raises_sem_timeout(store: str) -> None:
    sim = rmcore.Simulator(store, mutex_timeout=0.01)
    with rmcore.hold_registry_mutex(store), pytest.raises(rmcore.SemTimeoutError):
        rmcore.Session.start(sim)


def test_default_backend_uses_the_default_store(
    monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    monkeypatch.setenv("RMCORE_STORE", store)
    monkeypatch.setattr(rmcore._api, "_default", None)
    with rmcore.Session.start() as session:
        assert rmcore.default_backend().store == store
        assert session.handle == 0
