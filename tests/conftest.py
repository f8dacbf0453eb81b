"""Shared fixtures: every test gets its own store directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings
from rm_calls import join, start

import rmcore

__all__ = ["join", "start"]  # re-exported for the test modules

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
