"""Planted files, links and directories: each is refused with a message, or skipped and
reported, and never followed, read unbounded, hung on, chmod'ed or deleted."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rmcore import winerror as we
from rmcore._errors import RmError
from rmcore.cli import main
from rmcore.registry_store import (
    STORE_ENV_VAR,
    DiskStore,
    RegValue,
    StoreError,
    open_store,
)
from rmcore.session import Resources, SessionTable
from rmcore.session._identity import new_simulated_process

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links, FIFOs, modes")

REPO = Path(__file__).resolve().parents[2]
NO_HANG = 60.0  # a command that hangs on a planted file fails here instead of forever
RMCORE = ("HKCU", "Software", "rmcore")


def tree(root: Path) -> dict[str, object]:
    """Every entry below *root*: links as their target, files as their size, dirs as None."""
    found: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_file():
            found[rel] = path.stat().st_size
        else:
            found[rel] = None
    return found


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m rmcore ARGS`` in a process of its own, killed if it outlives NO_HANG."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "rmcore", *args],
        capture_output=True,
        text=True,
        timeout=NO_HANG,
        env=env,
    )


@pytest.fixture
def default_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default store location, moved under tmp_path: $XDG_RUNTIME_DIR/rmcore."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.delenv(STORE_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    return runtime / "rmcore"


@pytest.fixture
def used_store(tmp_path: Path) -> tuple[Path, SessionTable]:
    """A store with one live session (files registered), to plant things in."""
    path = tmp_path / "store"
    table = SessionTable(open_store(str(path)), max_sessions=64, mutex_timeout=1.0)
    ref, _ = table.start(new_simulated_process())
    table.register(ref, Resources(files=("C:\\f",)))
    return path, table


# -- the default root ---------------------------------------------------------------------


@pytest.mark.parametrize("create", [True, False])
def test_a_link_at_the_default_root_is_refused_not_followed(
    default_root: Path, tmp_path: Path, create: bool
) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    default_root.symlink_to(target)
    with pytest.raises(StoreError) as refused:
        open_store(None, create=create)
    message = str(refused.value)
    assert str(default_root) in message and "remove it or set RMCORE_STORE" in message
    assert tree(target) == {"mine.txt": 4}  # nothing written through the link


def test_the_cli_refuses_the_link_too(default_root: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    default_root.symlink_to(tmp_path / "elsewhere")
    for command in ("sessions", "reap"):
        result = run_cli(command)
        assert result.returncode == 1 and "is a symbolic link" in result.stderr, result.stderr
    assert tree(tmp_path / "elsewhere") == {}


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs chown")
def test_a_default_root_of_another_user_is_refused(default_root: Path) -> None:
    default_root.mkdir(mode=0o700)
    os.chown(default_root, 4242, 4242)
    with pytest.raises(StoreError, match="belongs to uid 4242, refused: remove it or set"):
        open_store(None)
    assert tree(default_root) == {}


def test_our_default_root_with_a_loose_mode_is_made_private(default_root: Path) -> None:
    default_root.mkdir()
    os.chmod(default_root, 0o777)
    open_store(None, create=False)  # read-only: chmods nothing
    assert mode(default_root) == 0o777
    open_store(None)
    assert mode(default_root) == 0o700


def test_read_only_use_of_a_missing_default_root_creates_nothing(default_root: Path) -> None:
    store = open_store(None, create=False)
    table = SessionTable(store, max_sessions=64, mutex_timeout=1.0)
    assert table.sessions() == [] and table.hive() == {} and table.problems() == []
    assert (run_cli("sessions").returncode, run_cli("reap").returncode) == (0, 0)
    assert not default_root.exists()


# -- explicit paths -----------------------------------------------------------------------


def test_a_missing_path_is_made_private_and_marked(tmp_path: Path) -> None:
    DiskStore(tmp_path / "new")
    assert mode(tmp_path / "new") == 0o700
    assert (tmp_path / "new" / ".rmcore-store").read_bytes().startswith(b"rmcore store")
    with pytest.raises(StoreError, match="its parent does not exist"):
        DiskStore(tmp_path / "no" / "such" / "parent")
    assert not (tmp_path / "no").exists()


def test_an_existing_directory_is_adopted_if_empty_and_never_chmoded(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    table = SessionTable(open_store(str(shared)), max_sessions=64, mutex_timeout=1.0)
    ref, _ = table.start(new_simulated_process())
    table.reap()
    assert main(["sessions", "--store", str(shared)]) == 0
    assert main(["reap", "--store", str(shared)]) == 0
    assert mode(shared) == 0o755  # the caller's directory keeps the caller's mode
    assert (shared / ".rmcore-store").exists() and table.sessions()[0].name == ref.name


def test_a_directory_that_is_not_a_store_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    os.chmod(home, 0o755)
    for create in (True, False):
        with pytest.raises(StoreError, match=f"not an rmcore store: {home}"):
            open_store(str(home), create=create)
    for command in ("sessions", "reap"):
        assert main([command, "--store", str(home)]) == 1
        assert f"not an rmcore store: {home}" in capsys.readouterr().err
    assert tree(home) == {"thesis.tex": 8} and mode(home) == 0o755


def test_read_only_commands_create_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for path in (tmp_path / "missing", empty):
        for command in (["sessions", "--json"], ["sessions", "--hive"], ["reap"]):
            assert main([*command, "--store", str(path)]) == 0
    assert not (tmp_path / "missing").exists() and tree(empty) == {}


# -- entries planted inside a store ---------------------------------------------------------


def test_a_linked_table_key_is_never_followed(used_store: tuple[Path, SessionTable]) -> None:
    path, table = used_store
    outside = path.parent / "outside.key"
    table_key = path.joinpath(*RMCORE, "Sessions.key")
    outside.write_bytes(table_key.read_bytes())
    table_key.unlink()
    table_key.symlink_to(outside)
    with pytest.raises(RmError) as failed:
        table.start(new_simulated_process())
    assert failed.value.winerror == we.ERROR_WRITE_FAULT
    assert table.sessions() == []  # listed as a problem, not read
    assert [(p.path, p.reason) for p in table.problems()] == [
        ("HKCU/Software/rmcore/Sessions.key", "symbolic link (not followed)")
    ]
    result = table.reap()
    assert result == [] and result.files == [] and len(result.problems) == 1
    assert table_key.is_symlink() and outside.read_bytes()  # reported, never deleted


def test_a_linked_key_folder_is_never_followed(used_store: tuple[Path, SessionTable]) -> None:
    path, _table = used_store
    outside = path.parent / "outside"
    outside.mkdir()
    folder = path.joinpath(*RMCORE)
    folder.rename(path.parent / "moved")
    folder.symlink_to(outside)
    fresh = SessionTable(open_store(str(path)), max_sessions=64, mutex_timeout=1.0)
    with pytest.raises(RmError) as failed:
        fresh.start(new_simulated_process())
    assert failed.value.winerror == we.ERROR_WRITE_FAULT
    assert tree(outside) == {}


def test_a_fifo_for_a_log_hangs_nothing(used_store: tuple[Path, SessionTable]) -> None:
    path, table = used_store
    log = path.joinpath(*RMCORE, "Resources", "Session0000.log")
    log.unlink()
    os.mkfifo(log)
    ref = table.start(new_simulated_process())[0]  # another session: unaffected
    assert ref.name == "Session0001"
    listed = run_cli("sessions", "--json", "--store", str(path))  # reads every log it can
    assert listed.returncode == 0, listed.stderr
    rows = [(row["name"], row["files"]) for row in json.loads(listed.stdout)["sessions"]]
    assert rows == [("Session0000", 0), ("Session0001", 0)]  # the FIFO is not read
    result = run_cli("reap", "--json", "--store", str(path))
    assert result.returncode == 0, result.stderr
    reaped = json.loads(result.stdout)
    assert reaped["reaped"] == [] and reaped["problems"] == [
        {"path": "HKCU/Software/rmcore/Resources/Session0000.log", "reason": "FIFO (not read)"}
    ]
    assert stat.S_ISFIFO(os.lstat(log).st_mode)


def test_links_to_devices_and_sparse_giants_are_reported_unread(
    used_store: tuple[Path, SessionTable],
) -> None:
    path, table = used_store
    path.joinpath(*RMCORE, "Zero.key").symlink_to("/dev/zero")
    with open(path / "HKCU" / "big.key", "wb") as giant:
        giant.truncate(4 << 30)  # 4 GiB, sparse
    result = run_cli("sessions", "--json", "--store", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["problems"] == [
        {"path": "HKCU/Software/rmcore/Zero.key", "reason": "symbolic link (not followed)"},
        {
            "path": "HKCU/big.key",
            "reason": "4294967296 bytes, over the 1048576-byte cap (not read)",
        },
    ]
    assert [info.name for info in table.sessions()] == ["Session0000"]
    assert run_cli("reap", "--store", str(path)).returncode == 0
    assert (path / "HKCU" / "big.key").stat().st_size == 4 << 30


def test_foreign_files_are_reported_and_left(used_store: tuple[Path, SessionTable]) -> None:
    path, table = used_store
    (path / "x.tmp").write_text("not ours")
    (path / "backup.key").write_bytes(b"regedit export")
    path.joinpath(*RMCORE, "Resources", "Session0003.log").mkdir()  # where a log belongs
    store = open_store(str(path))
    values = dict(store.read_key("HKCU\\Software\\rmcore\\Sessions") or {})
    values["Note"] = RegValue.sz("planted")
    store.write_key("HKCU\\Software\\rmcore\\Sessions", values)
    expected = [
        ("HKCU/Software/rmcore/Resources/Session0003.log", "directory where a file belongs"),
        ("backup.key", "corrupt key file (key file checksum mismatch)"),
        ("x.tmp", "foreign file (malformed temp file name)"),
        ("HKCU\\Software\\rmcore\\Sessions\\Note", "foreign value (left alone)"),
    ]
    assert [(p.path, p.reason) for p in table.problems()] == expected
    before = tree(path)
    result = table.reap()
    assert result == [] and result.files == []
    assert [(p.path, p.reason) for p in result.problems] == expected
    assert tree(path) == before


def test_dead_writers_temp_files_are_reaped_live_ones_kept(
    used_store: tuple[Path, SessionTable],
) -> None:
    path, table = used_store
    folder = path.joinpath(*RMCORE)
    dead = folder / "Sessions.key.2147483600.1.tmp"  # no such PID
    live = folder / f"Sessions.key.{os.getpid()}.1.tmp"
    dead.write_bytes(b"half")
    live.write_bytes(b"in flight")
    assert table.problems() == []  # our own temp files are not foreign
    assert table.reap().files == ["HKCU/Software/rmcore/Sessions.key.2147483600.1.tmp"]
    assert not dead.exists() and live.exists()
