"""Shared fixtures: every test gets its own store directory."""

from __future__ import annotations

import importlib
import os
import pkgutil
from pathlib import Path

import pytest
from hypothesis import settings

import rmcore

# Third-party clients are test data (run by test_clients.py), the C stand-in is built by tests.
collect_ignore = ["clients", "native"]

# pytester runs test files in this process and, after each run, forgets the modules the run
# imported: rmcore's lazily imported modules would come back as new copies, with new classes.
# Importing them all now keeps one copy for the whole session.
for _module in pkgutil.walk_packages(rmcore.__path__, "rmcore."):
    if not _module.name.endswith("__main__"):
        importlib.import_module(_module.name)

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
