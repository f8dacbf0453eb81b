"""The pytest plugin: one simulator per test, the marker, scopes, isolation, options."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

START = """
import ctypes

def start(api):
    handle = ctypes.c_uint32(0xFFFFFFFF)
    return api.RmStartSession(ctypes.byref(handle), 0, ctypes.create_unicode_buffer(33))
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def test_every_entry_of_a_test_reaches_one_simulator(pytester: pytest.Pytester) -> None:
    """rm, rm_world, rm_faults, rm_store, rm_calls, rm_patch, rmcore.patch() and
    rmcore.Session() inside one test all resolve to the same Simulator."""
    pytester.makepyfile(
        START
        + """
import ctypes
import rmcore

def test_one_simulator(rm, rm_world, rm_faults, rm_store, rm_calls, rm_patch):
    assert rm_patch is rm and rm_world is rm.world and rm_faults is rm.faults
    assert rm_store is rm.store and rm_calls is rm.calls
    editor = rm_world.add_process("C:\\\\editor.exe", files=["C:\\\\doc.txt"])
    rm_faults.fail_next("RmGetList", 121)
    with rmcore.patch() as patched:
        assert patched is rm
        dll = ctypes.WinDLL("rstrtmgr")
        handle, key = ctypes.c_uint32(), ctypes.create_unicode_buffer(33)
        assert dll.RmStartSession(ctypes.byref(handle), 0, key) == 0
    with rmcore.Session.join(key.value) as joined:  # Session() reaches the same one
        joined.register(files=["C:\\\\doc.txt"])
    with rmcore.Session.start() as session:
        session.register(files=["C:\\\\doc.txt"])
        try:
            session.affected_apps()
        except rmcore.SemTimeoutError as exc:
            assert "injected" in str(exc)  # the fault armed through rm_faults
        assert [app.pid for app in session.affected_apps().apps] == [editor.pid]
    assert [c.function for c in rm_calls][:2] == ["RmStartSession", "RmJoinSession"]
"""
    )
    _run(pytester).assert_outcomes(passed=1)


def test_consecutive_tests_never_share_state(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        START
        + """
import rmcore

def test_first(rm, rm_world):
    rm_world.add_process("C:\\\\a.exe")
    rm.faults.fail_next("RmEndSession", 6)
    assert start(rm) == 0
    rmcore.Session.start()  # left open: must not leak
    rm.faults.clear()

def test_second(rm, rm_world):
    assert rm_world.apps == [] and rm.sessions.sessions() == []
    assert rm.faults.pending("RmEndSession") is None and list(rm.calls) == []

def test_third_through_session_only():
    with rmcore.Session.start() as session:
        assert session.handle == 0  # a fresh simulated process: handles from 0 again
"""
    )
    _run(pytester).assert_outcomes(passed=3)


def test_marker_configures_the_simulator_and_faults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        START
        + """
import pytest
from rmcore import World

@pytest.mark.rm(max_sessions=1, mutex_timeout=0.05)
def test_limit(rm):
    assert [start(rm), start(rm)] == [0, 353]
    assert rm.sessions.mutex_timeout == 0.05

@pytest.mark.rm(faults={"RmStartSession": (121, 2)})
def test_faults(rm, rm_faults):
    assert [start(rm), start(rm), start(rm)] == [121, 121, 0]
    assert rm_faults is rm.faults

WORLD = World()
WORLD.add_process("C:\\\\shared.exe")

@pytest.mark.rm(world=WORLD)
def test_world_is_a_copy_per_test(rm_world):
    assert rm_world is not WORLD and [a.app_name for a in rm_world.apps] == ["shared.exe"]
    rm_world.add_process("C:\\\\mine.exe")

@pytest.mark.rm(world=WORLD)
def test_world_copy_does_not_leak(rm_world):
    assert [a.app_name for a in rm_world.apps] == ["shared.exe"]

@pytest.mark.rm(world=World)
def test_world_factory(rm_world):
    assert isinstance(rm_world, World) and rm_world.apps == []

@pytest.mark.rm(bogus=1)
def test_unknown_option(rm):
    pass

@pytest.mark.rm(max_sessions=2)
def test_marker_with_a_module_fixture(rm_module):
    pass
"""
    )
    result = _run(pytester)
    result.assert_outcomes(passed=5, errors=2)
    result.stdout.fnmatch_lines(["*unknown option(s)*bogus*"])
    result.stdout.fnmatch_lines(["*@pytest.mark.rm configures the test's own simulator*"])


def test_faults_that_never_fire_fail_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        START
        + """
import pytest

def test_unused_fault(rm):
    rm.faults.fail_next("RmJoinSession", 1219)
    assert start(rm) == 0

@pytest.mark.rm(assert_all_faults_fired=False)
def test_unused_fault_allowed(rm):
    rm.faults.fail_next("RmJoinSession", 1219)

def test_used_fault(rm):
    rm.faults.fail_next("RmStartSession", 121)
    assert start(rm) == 121
"""
    )
    result = _run(pytester)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*faults armed but never fired*RmJoinSession*"])


def test_scopes_and_stores(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        START
        + """
import pytest
import rmcore

@pytest.mark.rm(store="shared")
def test_a(rm):
    assert start(rm) == 0

@pytest.mark.rm(store="shared")
def test_b(rm):
    assert len(rm.sessions.sessions()) == 1  # test_a's session, in the shared store

@pytest.mark.rm(store="disk")
def test_disk(rm):
    import os
    assert os.path.isdir(rm.store.describe()) and rm.sessions.sessions() == []

def test_memory_by_default(rm):
    assert rm.store.describe() == ":memory:"

def test_module_scope_1(rm_module):
    assert start(rm_module) == 0

def test_module_scope_2(rm_module):
    assert len(rm_module.sessions.sessions()) == 1
    with rmcore.Session.start() as session:  # the test's simulator is the module's
        assert session.api is rm_module

class TestClassScope:
    def test_one(self, rm_class):
        assert start(rm_class) == 0

    def test_two(self, rm_class):
        assert len(rm_class.sessions.sessions()) == 1
"""
    )
    _run(pytester).assert_outcomes(passed=8)


def test_strict_option_fails_probable_mistakes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import ctypes
import pytest
import rmcore

def test_short_key(rm):
    rm.RmStartSession(ctypes.byref(ctypes.c_uint32()), 0, ctypes.create_unicode_buffer(32))
"""
    )
    _run(pytester, "-W", "error::rmcore.RmUsageWarning").assert_outcomes(failed=1)
    _run(pytester, "--rm-strict", "-p", "no:warnings").assert_outcomes(failed=1)
    _run(pytester, "-W", "ignore::rmcore.RmUsageWarning").assert_outcomes(passed=1)


@pytest.mark.skipif(sys.platform == "win32", reason="there the DLL backend is real")
def test_dll_backend_option_runs_the_same_tests_against_the_dll(
    pytester: pytest.Pytester,
) -> None:
    """--rm-backend=dll gives the tests the real DLL (here: RMCORE_DLL_PATH unset, so the
    clear error), and skips those that need the simulator's world or faults."""
    pytester.makepyfile(
        START
        + """
def test_api_only(rm):
    assert start(rm) == 0

def test_needs_the_world(rm_world):
    pass
"""
    )
    result = _run(pytester, "--rm-backend=dll")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*BackendUnavailable*only on Windows*"])


@pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="needs pytest-xdist")
def test_xdist_workers_are_isolated(pytester: pytest.Pytester) -> None:
    body = "".join(
        f"""
def test_{i}(rm):
    assert rm.sessions.sessions() == []
    assert start(rm) == 0
"""
        for i in range(8)
    )
    pytester.makepyfile(START + body)
    _run(pytester, "-n", "2").assert_outcomes(passed=8)


def test_the_plugin_imports_nothing_heavy() -> None:
    """pytest loads the plugin in every run: it must not import Hypothesis, psutil or the
    simulator (an unrelated suite must not pay for rmcore, nor need rmcore[testing])."""
    code = (
        "import sys, rmcore.testing.plugin\n"
        "heavy = [m for m in ('hypothesis', 'psutil', 'rmcore.win32._rstrtmgr',"
        " 'rmcore.testing.conformance', 'rmcore.testing.strategies') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


@pytest.mark.skipif(importlib.util.find_spec("pyfakefs") is None, reason="needs pyfakefs")
def test_refuses_to_run_under_pyfakefs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import rmcore
from rmcore.registry_store import PYFAKEFS_SKIP_NAMES

def test_refused(fs):
    try:
        rmcore.Simulator("/store")
    except rmcore.registry_store.FakeFilesystemActive as exc:
        assert "pyfakefs" in str(exc)
    else:
        raise AssertionError("the store opened on a fake file system")
"""
    )
    _run(pytester).assert_outcomes(passed=1)


def test_an_unrelated_suite_passes_without_hypothesis_or_psutil(tmp_path: Path) -> None:
    """`pip install rmcore` pulls neither Hypothesis nor psutil: with both unimportable, a
    project's own tests (which never use rmcore) still run green with the plugin loaded."""
    (tmp_path / "test_unrelated.py").write_text("def test_math():\n    assert 1 + 1 == 2\n")
    blocker = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('hypothesis', 'psutil'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import pytest\n"
        "code = pytest.main(['-q', '-p', 'no:cacheprovider', '-p', 'no:hypothesispytest', "
        "'-p', 'no:xdist', sys.argv[1]])\n"
        "assert 'rmcore.testing.plugin' in sys.modules, 'the plugin was not loaded'\n"
        "sys.exit(code)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", blocker, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
