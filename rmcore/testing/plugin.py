"""The pytest plugin (registered through the ``pytest11`` entry point as ``rmcore``).

One simulator per test: every test gets a context (:mod:`._context`) whose Simulator is made
on first use, by whichever of these reaches it first; all of them reach the same one:

- ``rm``: the test's Simulator (or, with ``--rm-backend=dll`` on Windows, the real DLL);
- ``rm_world``, ``rm_faults``, ``rm_store``, ``rm_calls``: its world, faults, store, call log;
- ``rm_patch``: ``rmcore.patch()`` active for the test, serving that Simulator;
- ``rmcore.patch()`` and ``rmcore.Session()`` called inside the test.

``rm_class``, ``rm_module`` and ``rm_session`` are Simulators shared at wider scopes (like
pyfakefs's ``fs_*``). ``@pytest.mark.rm(**options)`` configures the test's context; it is an
error on a test that uses a wider-scoped fixture it cannot configure. Command line:
``--rm-backend=simulator|dll``, ``--rm-strict``. The plugin imports nothing heavy (no
Hypothesis, no psutil, not even rmcore's own Simulator) until a test uses rmcore.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from ._context import CONTEXT_OPTIONS, Context

__all__ = ["marker_options"]

_MARKER = "rm"
_WIDER = ("rm_class", "rm_module", "rm_session")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rmcore", "rmcore: Windows Restart Manager simulator")
    group.addoption(
        "--rm-backend",
        choices=("simulator", "dll"),
        default=None,
        help="what rmcore's fixtures give tests: the simulator (default) or the real "
        "rstrtmgr.dll (Windows); the same tests run against both",
    )
    group.addoption(
        "--rm-strict",
        action="store_true",
        default=None,
        help="fail on calls Windows accepts but that are probably mistakes (RmUsageWarning)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): configure this test's rmcore simulator: rmcore.Simulator's "
        "keyword arguments, faults={function: code or (code, times)}, "
        "store='memory'|'disk'|'shared'|path, backend='simulator'|'dll', strict=True, "
        "assert_all_faults_fired=False",
    )
    config.addinivalue_line(
        "markers",
        "rm_decision(name): the test checks an rmcore fidelity decision (docs/fidelity.md), "
        "not a documented Windows fact",
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """After a conformance run against the real DLL: which decisions held on Windows."""
    conformance = sys.modules.get("rmcore.testing.conformance")
    results = getattr(conformance, "DECISION_RESULTS", None)
    if results and any(results.values()):
        terminalreporter.section("rmcore fidelity decisions on the real rstrtmgr.dll")
        for verdict, names in results.items():
            terminalreporter.write_line(f"{verdict}: {', '.join(sorted(set(names))) or '-'}")


def marker_options(item: pytest.Item | None, config: pytest.Config) -> dict[str, Any]:
    """The context options of *item*: its ``rm`` marker, then the command line."""
    marker = None if item is None else item.get_closest_marker(_MARKER)
    options = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        raise pytest.UsageError("@pytest.mark.rm takes keyword arguments only")
    unknown = set(options) - set(CONTEXT_OPTIONS)
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.rm: unknown option(s) {sorted(unknown)}; known: {list(CONTEXT_OPTIONS)}"
        )
    if marker is not None and item is not None:
        wider = [name for name in _WIDER if name in getattr(item, "fixturenames", ())]
        if wider:
            raise pytest.UsageError(
                f"@pytest.mark.rm configures the test's own simulator, not {wider[0]}, which "
                "is shared by other tests: configure it in a fixture, or use rm instead"
            )
    backend = config.getoption("--rm-backend")
    if backend is not None:
        options.setdefault("backend", backend)
    if config.getoption("--rm-strict"):
        options.setdefault("strict", True)
    return options


def _finish(context: Context) -> None:
    unfired = context.close()
    if unfired:
        pytest.fail(
            "faults armed but never fired (assert_all_faults_fired): " + "; ".join(unfired),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _rm_context(request: pytest.FixtureRequest) -> Iterator[Context]:
    """The test's rmcore context (lazy: free for tests that never use rmcore)."""
    item = request.node if isinstance(request.node, pytest.Item) else None
    options = marker_options(item, request.config)
    wider = [name for name in _WIDER if name in request.fixturenames]
    # The test's simulator is the shared one, when it asked for one.
    context = Context.lending(request.getfixturevalue(wider[0])) if wider else Context(options)
    context.activate()
    yield context
    _finish(context)


def _simulator(context: Context) -> Any:
    api = context.get()
    if not hasattr(api, "faults"):
        pytest.skip("this test needs the simulator (it uses its world, faults or store)")
    return api


@pytest.fixture
def rm(_rm_context: Context) -> Any:
    """The test's Simulator (one simulated process on a fresh private store), or the real
    rstrtmgr.dll under ``--rm-backend=dll``."""
    return _rm_context.get()


@pytest.fixture
def rm_world(_rm_context: Context) -> Any:
    """The world the test's Simulator answers RmGetList from."""
    return _simulator(_rm_context).world


@pytest.fixture
def rm_faults(_rm_context: Context) -> Any:
    """The test's Simulator's fault injection."""
    return _simulator(_rm_context).faults


@pytest.fixture
def rm_store(_rm_context: Context) -> Any:
    """The store of the test's Simulator (give it to another Simulator to share sessions;
    ``@pytest.mark.rm(store="disk")`` for one that other processes can open)."""
    return _simulator(_rm_context).store


@pytest.fixture
def rm_calls(_rm_context: Context) -> Any:
    """The call log of the test's Simulator (every call, its arguments, result and reason)."""
    return _simulator(_rm_context).calls


@pytest.fixture
def rm_patch(_rm_context: Context) -> Iterator[Any]:
    """``rmcore.patch()`` active for the test, serving the test's Simulator: unchanged
    ctypes code that loads rstrtmgr.dll gets it. Under ``--rm-backend=dll`` nothing is
    patched (the code reaches the real DLL) and this is ``None``."""
    if _rm_context.backend == "dll":
        yield None
        return
    from ..win32._patch import patch

    with patch() as simulator:
        yield simulator


def _wider(request: pytest.FixtureRequest) -> Iterator[Any]:
    context = Context({}, shared_dir=None)
    context.activate()
    yield context.get()
    _finish(context)


@pytest.fixture(scope="class")
def rm_class(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Simulator shared by the tests of a class."""
    yield from _wider(request)


@pytest.fixture(scope="module")
def rm_module(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Simulator shared by the tests of a module."""
    yield from _wider(request)


@pytest.fixture(scope="session")
def rm_session(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Simulator shared by the whole run (per xdist worker)."""
    yield from _wider(request)
