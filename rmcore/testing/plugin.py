"""The pytest plugin (registered through the ``pytest11`` entry point as ``rmcore``).

Fixtures: ``rm`` (a fresh, private Simulator in its own temporary store, per test),
``rm_module`` and ``rm_session`` (the same, shared by a module or the whole run),
``rm_world`` and ``rm_faults`` (the ``rm`` Simulator's world and faults), ``rm_store`` (the
store directory ``rm`` uses) and ``rm_patch`` (``rmcore.patch()`` active for the test, on
that same store). The marker ``@pytest.mark.rm(...)`` configures ``rm`` and ``rm_patch``
with ``rmcore.Simulator``'s keyword arguments plus ``faults={"RmStartSession": 121}`` (or
``(code, times)``) and ``store="private" | "shared" | <path>``.

Stores live under pytest's per-run (and, under xdist, per-worker) temporary directory, so
nothing is shared between tests, runs or workers unless a test asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ..win32._faults import Faults, ProcessFaults
from ..win32._rstrtmgr import Simulator
from ..world._world import WorldView

__all__ = ["apply_faults", "simulator_options"]

_MARKER = "rm"
_SIMULATOR_OPTIONS = ("max_sessions", "mutex_timeout", "world", "ts_session")
_PLUGIN_OPTIONS = ("faults", "store")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): configure the rm / rm_patch fixtures: rmcore.Simulator's "
        "keyword arguments, faults={function: code or (code, times)}, "
        "store='private'|'shared'|path",
    )
    config.addinivalue_line(
        "markers",
        "rm_decision(name): the test checks an rmcore fidelity decision (docs/fidelity.md), "
        "not a documented Windows fact",
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """After a conformance run against the real DLL: which decisions held on Windows."""
    from .conformance import DECISION_RESULTS

    if any(DECISION_RESULTS.values()):
        terminalreporter.section("rmcore fidelity decisions on the real rstrtmgr.dll")
        for verdict, names in DECISION_RESULTS.items():
            terminalreporter.write_line(f"{verdict}: {', '.join(sorted(set(names))) or '-'}")


def apply_faults(faults: Faults, spec: Mapping[str, int | tuple[int, int]]) -> None:
    """Install ``{function: code}`` or ``{function: (code, times)}`` rules."""
    for function, rule in spec.items():
        code, times = rule if isinstance(rule, tuple) else (rule, 1)
        faults.fail_next(function, code, times)


def simulator_options(item: pytest.Item | None) -> dict[str, Any]:
    """The ``rm`` marker's keyword arguments for *item* (closest marker wins)."""
    marker = None if item is None else item.get_closest_marker(_MARKER)
    options = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        raise pytest.UsageError("@pytest.mark.rm takes keyword arguments only")
    unknown = set(options) - set(_SIMULATOR_OPTIONS) - set(_PLUGIN_OPTIONS)
    if unknown:
        raise pytest.UsageError(f"@pytest.mark.rm: unknown option(s) {sorted(unknown)}")
    return options


def _store_for(request: pytest.FixtureRequest, choice: object, scope_name: str) -> str:
    factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    if choice in (None, "private"):
        return str(factory.mktemp(f"rm-{scope_name}", numbered=True))
    if choice == "shared":
        return str(factory.getbasetemp() / "rm-shared-store")
    return str(Path(str(choice)))


def _make(request: pytest.FixtureRequest, store: str) -> Simulator:
    item = request.node if isinstance(request.node, pytest.Item) else None
    options = simulator_options(item)
    faults = options.pop("faults", None)
    options.pop("store", None)
    sim = Simulator(store, **options)
    if faults:
        apply_faults(sim.faults, faults)
    return sim


@pytest.fixture
def rm_store(request: pytest.FixtureRequest) -> str:
    """The store directory of this test's ``rm`` / ``rm_patch`` (fresh unless marked)."""
    item = request.node if isinstance(request.node, pytest.Item) else None
    return _store_for(request, simulator_options(item).get("store"), "function")


@pytest.fixture
def rm(request: pytest.FixtureRequest, rm_store: str) -> Iterator[Simulator]:
    """A fresh Simulator (one simulated process) on a private store, for one test."""
    sim = _make(request, rm_store)
    yield sim
    item = request.node if isinstance(request.node, pytest.Item) else None
    if simulator_options(item).get("store", "private") != "private":
        sim.terminate()  # a shared store outlives the test: its sessions become abandoned
    # (a private store is never opened again, so the exit need not be recorded in it)


@pytest.fixture(scope="module")
def rm_module(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """A Simulator and store shared by every test of a module."""
    sim = _make(request, _store_for(request, None, "module"))
    yield sim
    sim.terminate()


@pytest.fixture(scope="session")
def rm_session(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """A Simulator and store shared by the whole test run (per xdist worker)."""
    sim = _make(request, _store_for(request, None, "session"))
    yield sim
    sim.terminate()


@pytest.fixture
def rm_world(rm: Simulator) -> WorldView:
    """The world ``rm`` answers RmGetList from (a fresh simulated World unless marked)."""
    return rm.world


@pytest.fixture
def rm_faults(rm: Simulator) -> ProcessFaults:
    """``rm``'s fault injection."""
    return rm.faults


@pytest.fixture
def rm_patch(request: pytest.FixtureRequest, rm_store: str) -> Iterator[Simulator]:
    """``rmcore.patch()`` active for the test, on the same fresh store as ``rm``: unchanged
    ctypes code that loads rstrtmgr.dll gets the Simulator this fixture yields."""
    from ..win32._patch import patch

    item = request.node if isinstance(request.node, pytest.Item) else None
    options = simulator_options(item)
    options["store"] = rm_store
    with patch(**options) as sim:
        yield sim
