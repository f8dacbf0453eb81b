"""The Pythonic layer: Session objects and one exception class per documented code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    documented = we.RESTART_MANAGER_CODES - {we.ERROR_SUCCESS}
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


def test_session_inside_a_test_reaches_the_tests_simulator(rm: rmcore.Simulator) -> None:
    with rmcore.Session.start() as session:
        assert rmcore.default_backend() is rm
        assert [info.name for info in rm.sessions.sessions()] == ["Session0000"]
        assert session.handle == 0
    assert rm.sessions.sessions() == []


def _outside_tests(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """*code* in a fresh interpreter: no test context, as in production."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RMCORE_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**environment, **env},
        timeout=60,
        check=False,
    )


_SHOW_DEFAULT = (
    "import rmcore\n"
    "with rmcore.Session.start() as session:\n"
    "    api = rmcore.default_backend()\n"
    "    print(type(api).__name__, api.store.describe(), session.handle)\n"
)


@pytest.mark.skipif(sys.platform == "win32", reason="on Windows the default is the real DLL")
def test_outside_tests_the_default_is_the_simulator_on_rmcore_store(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    run = _outside_tests(_SHOW_DEFAULT, RMCORE_STORE=store)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["Simulator", store, "0"]


@pytest.mark.skipif(sys.platform == "win32", reason="there the real DLL loads")
def test_outside_tests_the_dll_backend_off_windows_is_a_clear_error() -> None:
    run = _outside_tests(_SHOW_DEFAULT, RMCORE_BACKEND="dll")
    assert run.returncode == 1
    assert "BackendUnavailable: the real rstrtmgr.dll exists only on Windows" in run.stderr


def test_platform_default_never_simulates_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    from rmcore import _backends

    monkeypatch.setattr(_backends.sys, "platform", "win32")
    assert _backends.platform_backend() == "dll"
    monkeypatch.setattr(_backends.sys, "platform", "linux")
    assert _backends.platform_backend() == "simulator"


def test_a_bare_str_is_not_a_list_of_paths(rm: rmcore.Simulator) -> None:
    with rmcore.Session.start(rm) as session:
        with pytest.raises(TypeError, match="files must be a list of strings, not a single str"):
            session.register(files=r"C:\app\core.dll")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="services must be a list"):
            session.register(services="Spooler")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"files\[0\] must be a str, not int"):
            session.register(files=[1])  # type: ignore[list-item]
        session.register(files=[r"C:\app\core.dll"])
        assert rm.sessions.sessions()[0].files == 1  # one file registered, nothing else
    assert [call.function for call in rm.calls].count("RmRegisterResources") == 1
