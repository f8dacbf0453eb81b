"""Shared fixtures: every test gets its own store directory."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest
from hypothesis import settings

import rmcore

# CI runs must be reproducible: the same examples every run (locally they stay random).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "store")


@pytest.fixture
def sim(store: str) -> rmcore.Simulator:
    return rmcore.Simulator(store, mutex_timeout=0.2)


def start(sim: rmcore.Simulator) -> tuple[int, int, str]:
    """RmStartSession as C code calls it: (code, handle, key)."""
    handle = ctypes.c_uint32(0xFFFFFFFF)
    key = ctypes.create_unicode_buffer(33)
    code = sim.RmStartSession(ctypes.byref(handle), 0, key)
    return code, handle.value, key.value


def join(sim: rmcore.Simulator, key: object) -> tuple[int, int]:
    handle = ctypes.c_uint32(0xFFFFFFFF)
    code = sim.RmJoinSession(ctypes.byref(handle), key)
    return code, handle.value
