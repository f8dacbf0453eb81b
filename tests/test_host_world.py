"""The host world: RmGetList, RmShutdown and RmRestart over real processes of this machine."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

if sys.platform == "win32":
    pytest.skip("the host world covers Linux and macOS", allow_module_level=True)
psutil = pytest.importorskip("psutil", reason="the host world needs psutil (rmcore[host])")

import rmcore  # noqa: E402
from rmcore.cli import main  # noqa: E402
from rmcore.session._identity import process_start_time  # noqa: E402
from rmcore.win32._types import (  # noqa: E402
    RM_APP_STATUS,
    RM_APP_TYPE,
    RM_PROCESS_INFO,
    RM_REBOOT_REASON,
    RM_SHUTDOWN_TYPE,
    RM_UNIQUE_PROCESS,
)
from rmcore.world._host import HostWorld  # noqa: E402

DEADLINE = 30.0  # generous: only ever waited out when something is broken

# Opens argv[1], writes its PID to argv[2] (atomically), then waits for a line on stdin.
# Relaunched by RmRestart its stdin is /dev/null: then it waits for argv[3] to appear.
# With argv[4] == "stubborn" it ignores SIGTERM.
CHILD = """
import os, signal, sys, time
path, pid_file, stop_file, mode = sys.argv[1:5]
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
held = open(path, "a")
with open(pid_file + ".tmp", "w") as out:
    out.write(str(os.getpid()))
os.replace(pid_file + ".tmp", pid_file)
if not sys.stdin.readline():
    deadline = time.monotonic() + 120
    while not os.path.exists(stop_file) and time.monotonic() < deadline:
        time.sleep(0.05)
"""


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text())
    except (OSError, ValueError):
        return None


def kill_if_running(pid: int, start_time: int | None) -> None:
    """SIGKILL the process *pid* if it still is the one that started at *start_time*."""
    if start_time is not None and process_start_time(pid) == start_time:
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: process_start_time(pid) != start_time, f"{pid} to die")


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    path: Path  # the file it holds
    pid_file: Path
    stop_file: Path
    command: list[str]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Child]]:
    """Start children that hold a file; every one (and every relaunch) is ended at teardown."""
    children: list[Child] = []

    def start(mode: str = "polite") -> Child:
        index = len(children)
        path = tmp_path / f"held{index}.txt"
        pid_file, stop_file = tmp_path / f"pid{index}", tmp_path / f"stop{index}"
        command = [sys.executable, "-c", CHILD, str(path), str(pid_file), str(stop_file), mode]
        proc = subprocess.Popen(command, stdin=subprocess.PIPE)
        child = Child(proc, path, pid_file, stop_file, command)
        children.append(child)
        wait_for(lambda: read_pid(pid_file) == proc.pid, "the child to open its file")
        return child

    yield start
    for child in children:
        child.stop_file.touch()
        relaunched = read_pid(child.pid_file)
        if relaunched is not None and relaunched != child.pid:
            kill_if_running(relaunched, process_start_time(relaunched))
        if child.alive():
            child.proc.kill()
        child.proc.wait(timeout=DEADLINE)
        assert child.proc.stdin is not None
        child.proc.stdin.close()


def start_session(sim: rmcore.Simulator) -> int:
    handle = ctypes.c_uint32(0xFFFFFFFF)
    key = ctypes.create_unicode_buffer(33)
    assert sim.RmStartSession(ctypes.byref(handle), 0, key) == 0
    return handle.value


def register(sim: rmcore.Simulator, handle: int, *paths: str | Path) -> None:
    names = (ctypes.c_wchar_p * len(paths))(*map(str, paths))
    assert sim.RmRegisterResources(handle, len(paths), names, 0, None, 0, None) == 0


def get_list(sim: rmcore.Simulator, handle: int) -> tuple[int, list[RM_PROCESS_INFO], int]:
    """(code, rows, reboot reasons) by the two-call pattern."""
    needed, count, reasons = ctypes.c_uint32(), ctypes.c_uint32(0), ctypes.c_uint32()
    code = sim.RmGetList(
        handle, ctypes.byref(needed), ctypes.byref(count), None, ctypes.byref(reasons)
    )
    for _ in range(5):
        if code != 234:
            break
        rows = (RM_PROCESS_INFO * needed.value)()
        count.value = needed.value
        code = sim.RmGetList(
            handle, ctypes.byref(needed), ctypes.byref(count), rows, ctypes.byref(reasons)
        )
        if code == 0:
            return code, list(rows[: count.value]), reasons.value
    return code, [], reasons.value


def row_of(rows: list[RM_PROCESS_INFO], pid: int) -> RM_PROCESS_INFO:
    matches = [row for row in rows if row.Process.dwProcessId == pid]
    assert len(matches) == 1, [row.Process.dwProcessId for row in rows]
    return matches[0]


# -- RmGetList ---------------------------------------------------------------------------


def test_getlist_reports_the_child_with_its_real_identity(
    store: str, spawn: Callable[..., Child]
) -> None:
    child = spawn()
    sim = rmcore.Simulator(store, world="host")
    handle = start_session(sim)
    register(sim, handle, child.path)
    code, rows, reasons = get_list(sim, handle)
    assert code == 0
    assert reasons == RM_REBOOT_REASON.RmRebootReasonNone
    row = row_of(rows, child.pid)
    assert row.Process.ProcessStartTime.to_int() == process_start_time(child.pid)
    assert row.app_name == psutil.Process(child.pid).name()
    assert row.service_short_name == ""
    assert row.ApplicationType == RM_APP_TYPE.RmConsole
    assert row.AppStatus == RM_APP_STATUS.RmStatusRunning
    assert row.TSSessionId == sim.ts_session
    assert row.bRestartable == 1
    assert sim.RmEndSession(handle) == 0


def test_getlist_matches_through_a_symlink(
    store: str, tmp_path: Path, spawn: Callable[..., Child]
) -> None:
    child = spawn()
    link = tmp_path / "link.txt"
    link.symlink_to(child.path)
    sim = rmcore.Simulator(store, world="host")
    handle = start_session(sim)
    register(sim, handle, link)
    code, rows, _ = get_list(sim, handle)
    assert code == 0
    row_of(rows, child.pid)


def test_unheld_file_has_no_users(store: str, tmp_path: Path) -> None:
    free = tmp_path / "free.txt"
    free.write_text("x")
    sim = rmcore.Simulator(store, world="host")
    handle = start_session(sim)
    register(sim, handle, free, tmp_path / "missing.txt")
    needed, count, reasons = ctypes.c_uint32(7), ctypes.c_uint32(0), ctypes.c_uint32(7)
    code = sim.RmGetList(
        handle, ctypes.byref(needed), ctypes.byref(count), None, ctypes.byref(reasons)
    )
    assert (code, needed.value, reasons.value) == (0, 0, 0)


def test_the_calling_process_is_detected_self(store: str, tmp_path: Path) -> None:
    path = tmp_path / "mine.txt"
    with open(path, "w"):
        sim = rmcore.Simulator(store, world="host")
        handle = start_session(sim)
        register(sim, handle, path)
        code, rows, reasons = get_list(sim, handle)
    assert code == 0
    assert reasons & RM_REBOOT_REASON.RmRebootReasonDetectedSelf
    row = row_of(rows, os.getpid())
    assert row.Process.ProcessStartTime.to_int() == process_start_time(os.getpid())
    assert row.ApplicationType == RM_APP_TYPE.RmCritical


def test_a_running_executable_is_in_use(store: str, spawn: Callable[..., Child]) -> None:
    child = spawn()
    sim = rmcore.Simulator(store, world="host")
    handle = start_session(sim)
    register(sim, handle, psutil.Process(child.pid).exe())
    code, rows, _ = get_list(sim, handle)
    assert code == 0
    row_of(rows, child.pid)


def test_a_registered_directory_is_access_denied(store: str, tmp_path: Path) -> None:
    sim = rmcore.Simulator(store, world="host")
    handle = start_session(sim)
    register(sim, handle, tmp_path)
    needed, count, reasons = ctypes.c_uint32(), ctypes.c_uint32(0), ctypes.c_uint32()
    code = sim.RmGetList(
        handle, ctypes.byref(needed), ctypes.byref(count), None, ctypes.byref(reasons)
    )
    assert code == 5


def test_registered_process_is_found_by_pid_and_start_time(
    store: str, spawn: Callable[..., Child]
) -> None:
    child = spawn()
    start_time = process_start_time(child.pid)
    assert start_time is not None
    sim = rmcore.Simulator(store, world="host")
    handle = start_session(sim)
    right = RM_UNIQUE_PROCESS.of(child.pid, start_time)
    wrong = RM_UNIQUE_PROCESS.of(child.pid, start_time + 1)
    processes = (RM_UNIQUE_PROCESS * 2)(right, wrong)
    assert (
        sim.RmRegisterResources(
            handle, 0, None, 2, processes, 1, (ctypes.c_wchar_p * 1)("nosuchservice")
        )
        == 0
    )
    code, rows, _ = get_list(sim, handle)
    assert code == 0
    assert [row.Process.dwProcessId for row in rows] == [child.pid]


def test_the_same_process_is_the_same_app_across_calls(spawn: Callable[..., Child]) -> None:
    child = spawn()
    world = HostWorld()
    first = world.holders([str(child.path)])
    second = world.holders([str(child.path)])
    assert [app.pid for app in first] == [child.pid]
    assert first[0] is second[0]
    assert first[0].files == {str(child.path)}
    start_time = process_start_time(child.pid)
    assert start_time is not None
    assert world.process(child.pid, start_time) is first[0]
    assert world.process(child.pid, start_time + 1) is None
    assert world.service("anything") is None


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to start another user"
)
def test_another_users_process_is_permission_denied_and_never_signalled(store: str) -> None:
    shared = Path(tempfile.mkdtemp(prefix="rmcore-host-"))
    shared.chmod(0o777)
    path, pid_file = shared / "held.txt", shared / "pid"
    script = 'exec 3>>"$1"; echo $$ > "$2.tmp"; mv "$2.tmp" "$2"; read line'
    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", script, "sh", str(path), str(pid_file)],
            stdin=subprocess.PIPE,
            cwd=shared,
            user=65534,
            group=65534,
        )
    except OSError as exc:
        shutil.rmtree(shared)
        pytest.skip(f"cannot start a process as UID 65534: {exc}")
    try:
        wait_for(lambda: read_pid(pid_file) == proc.pid, "the other user's child")
        world = HostWorld(allow_shutdown=True, shutdown_timeout=0.5)
        sim = rmcore.Simulator(store, world=world)
        handle = start_session(sim)
        register(sim, handle, path)
        code, rows, reasons = get_list(sim, handle)
        assert code == 0
        assert reasons & RM_REBOOT_REASON.RmRebootReasonPermissionDenied
        row = row_of(rows, proc.pid)
        assert row.ApplicationType == RM_APP_TYPE.RmCritical
        assert row.bRestartable == 0
        assert sim.RmShutdown(handle, RM_SHUTDOWN_TYPE.RmForceShutdown, None) == 350
        app = world.holders([str(path)])[0]
        assert app.other_user
        assert not world.stop(app, force=True, timeout=0.5)
        assert not world.start_again(app)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait(timeout=DEADLINE)
        assert proc.stdin is not None
        proc.stdin.close()
        shutil.rmtree(shared)


# -- RmShutdown / RmRestart ----------------------------------------------------------------


def test_shutdown_disabled_by_default_fails_and_leaves_the_child(
    store: str, spawn: Callable[..., Child]
) -> None:
    child = spawn()
    sim = rmcore.Simulator(store, world="host")
    handle = start_session(sim)
    register(sim, handle, child.path)
    assert sim.RmShutdown(handle, RM_SHUTDOWN_TYPE.RmForceShutdown, None) == 351
    assert child.alive()
    code, rows, _ = get_list(sim, handle)
    assert code == 0
    assert row_of(rows, child.pid).AppStatus & RM_APP_STATUS.RmStatusErrorOnStop


@pytest.mark.parametrize("mode", ["polite", "stubborn"])
def test_forced_shutdown_terminates_the_child(
    store: str, spawn: Callable[..., Child], mode: str
) -> None:
    child = spawn(mode)
    sim = rmcore.Simulator(store, world=HostWorld(allow_shutdown=True, shutdown_timeout=2))
    handle = start_session(sim)
    register(sim, handle, child.path)
    assert sim.RmShutdown(handle, RM_SHUTDOWN_TYPE.RmForceShutdown, None) == 0
    returncode = child.proc.wait(timeout=DEADLINE)
    assert returncode == (-signal.SIGTERM if mode == "polite" else -signal.SIGKILL)
    code, rows, _ = get_list(sim, handle)
    assert code == 0
    status = row_of(rows, child.pid).AppStatus
    assert status & RM_APP_STATUS.RmStatusStopped
    assert not status & RM_APP_STATUS.RmStatusRunning


def test_unforced_shutdown_of_a_child_ignoring_sigterm_fails(
    store: str, spawn: Callable[..., Child]
) -> None:
    child = spawn("stubborn")
    sim = rmcore.Simulator(store, world=HostWorld(allow_shutdown=True, shutdown_timeout=0.5))
    handle = start_session(sim)
    register(sim, handle, child.path)
    assert sim.RmShutdown(handle, 0, None) == 351
    assert child.alive()
    code, rows, _ = get_list(sim, handle)
    assert code == 0
    assert row_of(rows, child.pid).AppStatus & RM_APP_STATUS.RmStatusErrorOnStop


def test_restart_relaunches_the_same_command_line(store: str, spawn: Callable[..., Child]) -> None:
    child = spawn()
    sim = rmcore.Simulator(store, world=HostWorld(allow_shutdown=True, shutdown_timeout=5))
    handle = start_session(sim)
    register(sim, handle, child.path)
    assert sim.RmShutdown(handle, 0, None) == 0
    child.proc.wait(timeout=DEADLINE)
    assert sim.RmRestart(handle, 0, None) == 0
    wait_for(lambda: read_pid(child.pid_file) not in (None, child.pid), "the relaunch")
    new_pid = read_pid(child.pid_file)
    assert new_pid is not None
    relaunched = psutil.Process(new_pid)
    assert relaunched.cmdline() == child.command
    assert relaunched.uids() == psutil.Process().uids()
    code, rows, _ = get_list(sim, handle)
    assert code == 0
    row = row_of(rows, new_pid)
    assert row.Process.ProcessStartTime.to_int() == process_start_time(new_pid)
    assert row.AppStatus & RM_APP_STATUS.RmStatusRestarted
    assert row.AppStatus & RM_APP_STATUS.RmStatusRunning


# -- who and the CLI -------------------------------------------------------------------------


def test_cli_who_json_lists_the_child(
    spawn: Callable[..., Child], capsys: pytest.CaptureFixture[str]
) -> None:
    child = spawn()
    assert main(["who", str(child.path), "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    entry = next(item for item in listing if item["pid"] == child.pid)
    assert entry["start_time"] == process_start_time(child.pid)
    assert entry["exe"] == psutil.Process(child.pid).exe()
    assert entry["app_type"] == "RmConsole"
    assert main(["who", str(child.path)]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["PID", "START", "NAME", "EXE"]
    assert any(line.split()[0] == str(child.pid) for line in table.splitlines()[1:])


def test_cli_who_with_nobody_holding_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    free = tmp_path / "free.txt"
    free.write_text("x")
    assert main(["who", str(free), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["who", str(free)]) == 0
    assert "no process" in capsys.readouterr().out


def test_cli_who_on_a_directory_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["who", str(tmp_path)]) == 1
    assert "ERROR_ACCESS_DENIED" in capsys.readouterr().err


def test_cli_who_without_psutil_says_how_to_install_it(tmp_path: Path) -> None:
    blocked = "import sys; sys.modules['psutil'] = None; from rmcore.cli import main; "
    result = subprocess.run(
        [sys.executable, "-c", blocked + f"sys.exit(main(['who', {str(tmp_path)!r}]))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "pip install 'rmcore[host]'" in result.stderr
