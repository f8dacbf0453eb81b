"""The pytest plugin: fixtures, the marker, isolation, xdist, and the pyfakefs refusal."""

from __future__ import annotations

import importlib.util

import pytest

pytest_plugins = ["pytester"]

START = """
import ctypes

def start(sim):
    handle = ctypes.c_uint32(0xFFFFFFFF)
    return sim.RmStartSession(ctypes.byref(handle), 0, ctypes.create_unicode_buffer(33))
"""


def test_rm_is_fresh_and_private_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        START
        + """
stores = []

def test_one(rm):
    stores.append(rm.store)
    assert start(rm) == 0 and len(rm.sessions.sessions()) == 1

def test_two(rm):
    stores.append(rm.store)
    assert rm.sessions.sessions() == []  # nothing leaks from test_one
    assert stores[0] != stores[1]
"""
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


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

@pytest.mark.rm(world=WORLD)
def test_world(rm_world):
    assert rm_world is WORLD

@pytest.mark.rm(bogus=1)
def test_unknown_option(rm):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*unknown option(s)*bogus*"])


def test_shared_store_only_when_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        START
        + """
import pytest

@pytest.mark.rm(store="shared")
def test_a(rm):
    assert start(rm) == 0

@pytest.mark.rm(store="shared")
def test_b(rm):
    assert len(rm.sessions.sessions()) == 1  # test_a's session, in the shared store

def test_c(rm):
    assert rm.sessions.sessions() == []

def test_module_scope_1(rm_module):
    assert start(rm_module) == 0

def test_module_scope_2(rm_module):
    assert len(rm_module.sessions.sessions()) == 1
"""
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=5)


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
    pytester.runpytest("-p", "no:cacheprovider", "-n", "2").assert_outcomes(passed=8)


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
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
