"""The shipped Hypothesis strategies produce what they promise, and drive the API."""

from __future__ import annotations

import ctypes
import tempfile

from hypothesis import given, settings
from hypothesis import strategies as st

import rmcore
from rmcore.testing import (
    handles,
    malformed_keys,
    resource_lists,
    session_keys,
    unique_processes,
    worlds,
)

STORE = tempfile.mkdtemp(prefix="rmcore-strategies-")


@given(session_keys())
def test_keys_are_well_formed(key: str) -> None:
    assert len(key) == 32 and int(key, 16) >= 0


@settings(max_examples=50, deadline=None)
@given(malformed_keys())
def test_malformed_keys_never_join(key: str) -> None:
    sim = rmcore.Simulator(STORE)
    handle = ctypes.c_uint32(0xFFFFFFFF)
    assert sim.RmJoinSession(ctypes.byref(handle), key) == 1219
    assert handle.value == 0xFFFFFFFF


@given(handles())
def test_handles_are_dwords(handle: int) -> None:
    assert 0 <= handle <= 0xFFFFFFFF


@given(unique_processes())
def test_unique_processes_round_trip(process: rmcore.win32.RM_UNIQUE_PROCESS) -> None:
    pid, start = process.pair()
    assert ctypes.sizeof(process) == 12 and 0 <= pid <= 0xFFFFFFFF and start >= 0


@settings(max_examples=40, deadline=None)
@given(worlds(), resource_lists(st.sampled_from(["C:\\a.dll", "C:\\b.dll", "C:\\c.dat"])))
def test_every_world_answers_getlist(
    world: rmcore.World, resources: tuple[list[str], list[tuple[int, int]], list[str]]
) -> None:
    files, processes, services = resources
    assert 1 <= len(world.apps) <= 6
    with rmcore.Session.start(rmcore.Simulator(STORE, world=world)) as session:
        session.register(files=files, processes=processes, services=services)
        listed = {app.pid for app in session.affected_apps().apps}
    holders = {app.pid for app in world.apps if app.files & set(files)}
    assert holders <= listed
