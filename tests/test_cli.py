"""The command line: demo, sessions, reap; output and exit codes."""

from __future__ import annotations

import ctypes
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rm_calls import join, start

import rmcore
from rmcore.cli import main


def test_demo_runs_every_step_in_real_processes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rmcore", "demo"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for expected in (
        "RmStartSession(&hSession, 0, szKey)            ->    0 ERROR_SUCCESS",
        "->    0 ERROR_SUCCESS                      handle=0",
        "-> 1219 ERROR_SESSION_CREDENTIAL_CONFLICT",
        "->  353 ERROR_MAX_SESSIONS_REACHED",
        "->  121 ERROR_SEM_TIMEOUT",
        "->    6 ERROR_INVALID_HANDLE",
        "every code as documented",
    ):
        assert expected in out
    assert "UNEXPECTED" not in out
    pids = re.findall(r"^(?:Primary installer |\s+)\(pid (\d+)\)$", out, flags=re.M)
    assert len(pids) == 2 and pids[0] != pids[1]  # the secondary ran in a process of its own


def test_sessions_lists_alive_and_abandoned(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    alive, gone = rmcore.Simulator(store), rmcore.Simulator(store)
    key = start(alive)[2]
    start(gone)
    join(gone, key)
    gone.terminate()
    assert main(["sessions", "--store", store, "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["store"] == store
    rows = [(s["name"], s["alive"], s["secondaries"]) for s in listing["sessions"]]
    assert rows == [("Session0000", True, 0), ("Session0001", False, 0)]
    assert main(["sessions", "--store", store]) == 0
    table = capsys.readouterr().out
    assert "Session0000" in table and "abandoned" in table


def test_reap_removes_abandoned(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    gone = rmcore.Simulator(store)
    start(gone)
    gone.terminate()
    assert main(["reap", "--store", store, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reaped"] == ["Session0000"]
    assert main(["reap", "--store", store]) == 0
    assert "reaped 0 abandoned session(s)" in capsys.readouterr().out
    assert main(["sessions", "--store", store]) == 0
    assert "no sessions" in capsys.readouterr().out


def test_reap_while_mutex_held_fails_with_121(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with rmcore.hold_registry_mutex(store):
        assert main(["reap", "--store", store, "--mutex-timeout", "0.05"]) == 1
    assert "121 ERROR_SEM_TIMEOUT" in capsys.readouterr().err


def test_bad_usage_exits_2() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2


def test_store_that_is_a_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    assert main(["sessions", "--store", str(blocker)]) == 1
    assert "ERROR_WRITE_FAULT" in capsys.readouterr().err


def test_an_empty_store_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("sessions", "reap"):
        with pytest.raises(SystemExit) as exited:
            main([command, "--store", ""])
        assert exited.value.code == 2
        assert "need a store directory" in capsys.readouterr().err


def test_a_relative_store_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["sessions", "--store", "here", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["store"] == str(tmp_path / "here")
    assert not (tmp_path / "here").exists()  # a listing creates nothing


def test_sessions_hive_shows_the_key_windows_would_hold(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = rmcore.Simulator(store)
    handle = start(sim)[1]
    files = (ctypes.c_wchar_p * 2)("C:\\a.txt", "C:\\b.txt")
    assert sim.RmRegisterResources(handle, 2, files, 0, None, 0, None) == 0
    assert main(["sessions", "--store", store, "--hive"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "HKCU\\Software\\Microsoft\\RestartManager\\Session0000" in lines
    assert any(re.fullmatch(r"  Sequence +REG_DWORD +0x00000001 \(1\)", line) for line in lines)
    assert "  RegFiles0000   REG_MULTI_SZ  C:\\a.txt | C:\\b.txt" in lines
    assert main(["sessions", "--store", store, "--hive", "--json"]) == 0
    hive = json.loads(capsys.readouterr().out)["hive"]
    values = hive["HKCU\\Software\\Microsoft\\RestartManager\\Session0000"]
    assert values["Sequence"] == ["REG_DWORD", "0x00000001 (1)"]
    assert values["Owner"][0] == "REG_BINARY" and len(values["Owner"][1].split()) == 12


def test_problems_are_listed_and_reap_reports_what_it_removed(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = rmcore.Simulator(store)
    start(gone)
    gone.terminate()
    Path(store, "notes.txt").write_text("mine")
    Path(store, "HKCU", "Software", "rmcore", "Sessions.key.2147483600.7.tmp").write_text("x")
    assert main(["sessions", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "Session0000" in out and "abandoned" in out
    assert "problems (1, left alone):\n  notes.txt: foreign file (not a store file)" in out
    assert main(["reap", "--store", store, "--json"]) == 0
    reaped = json.loads(capsys.readouterr().out)
    assert reaped["reaped"] == ["Session0000"]
    assert reaped["files"] == ["HKCU/Software/rmcore/Sessions.key.2147483600.7.tmp"]
    assert reaped["problems"] == [
        {"path": "notes.txt", "reason": "foreign file (not a store file)"}
    ]
    assert Path(store, "notes.txt").read_text() == "mine"


def test_version_is_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"rmcore {importlib.metadata.version('rmcore')}"
