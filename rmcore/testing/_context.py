"""One simulator per test: the context every rmcore fixture, marker, ``rmcore.patch()`` and
``rmcore.Session()`` of a test resolves to.

A context is configured once (the ``rm`` marker's options, the command line) and makes its
Simulator on first use: a test that never touches rmcore costs a push and a pop. Options:
Simulator's keyword arguments, ``faults={function: code or (code, times)}``,
``store="memory" | "disk" | "shared" | <absolute path>`` (memory by default: fast, private;
``disk`` for tests whose other processes must share the sessions), ``backend="simulator" |
"dll"`` and ``assert_all_faults_fired`` (default ``True``: a fault the test armed but its
code never met fails the test, like respx's ``assert_all_called``).
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

from .. import _active

__all__ = ["CONTEXT_OPTIONS", "Context"]

SIMULATOR_OPTIONS = ("max_sessions", "mutex_timeout", "world", "ts_session", "strict")
CONTEXT_OPTIONS = (*SIMULATOR_OPTIONS, "faults", "store", "backend", "assert_all_faults_fired")


class Context:
    """The rmcore state of one test (or of a module, class or session for wider fixtures)."""

    def __init__(self, options: Mapping[str, Any], *, shared_dir: str | None = None) -> None:
        unknown = sorted(set(options) - set(CONTEXT_OPTIONS))
        if unknown:
            raise ValueError(f"unknown rmcore option(s) {unknown}; known: {list(CONTEXT_OPTIONS)}")
        self.options = dict(options)
        self._shared_dir = shared_dir
        self._temp_dir: str | None = None
        self.api: Any = None
        self.owned = True  # False: the context lends a wider fixture's Simulator

    @classmethod
    def lending(cls, api: Any) -> Context:
        """A test's context that serves a wider fixture's Simulator (and never ends it)."""
        context = cls({})
        context.api, context.owned = api, False
        return context

    @property
    def backend(self) -> str:
        return str(self.options.get("backend") or "simulator")

    def activate(self) -> None:
        """Become the current context (lazily: the Simulator is made on first use)."""
        _active.push(self, simulator=self.api, factory=self._make)

    def get(self) -> Any:
        """The context's Simulator (or real DLL), made now if needed."""
        if self.api is None:
            self.api = _active.materialized(self) or self._make()
        return self.api

    def _make(self) -> Any:
        if self.api is not None:
            return self.api
        if self.backend == "dll":
            from .._backends import get_backend

            self.api = get_backend("dll")
            return self.api
        from ..win32._rstrtmgr import Simulator

        options = {n: self.options[n] for n in SIMULATOR_OPTIONS if n in self.options}
        if "world" in options:
            options["world"] = _fresh_world(options["world"])
        simulator = Simulator(self._store(), **options)
        for function, rule in dict(self.options.get("faults") or {}).items():
            code, times = rule if isinstance(rule, tuple) else (rule, 1)
            simulator.faults.fail_next(function, code, times)
        self.api = simulator
        return simulator

    def _store(self) -> Any:
        choice = self.options.get("store", "memory")
        if choice in (None, "memory"):
            return ":memory:"
        if choice == "disk":
            self._temp_dir = tempfile.mkdtemp(prefix="rmcore-test-")
            return os.path.join(self._temp_dir, "store")
        if choice == "shared":
            base = self._shared_dir or tempfile.gettempdir()
            return os.path.join(base, "rmcore-shared-store")
        return choice

    def close(self) -> list[str]:
        """End the context: its Simulator's process exits, its private store goes. Returns
        the faults armed but never fired (when the context checks them)."""
        made = _active.pop(self) or self.api
        unfired: list[str] = []
        try:
            if self.owned and made is not None and hasattr(made, "terminate"):
                if self.options.get("assert_all_faults_fired", True):
                    unfired = [
                        f"{function}: {rule}"
                        for faults in (made.faults, made.store_faults)
                        for function, rule in faults.unfired().items()
                    ]
                made.terminate()
        finally:
            if self._temp_dir is not None:
                shutil.rmtree(self._temp_dir, ignore_errors=True)
        return unfired


def _fresh_world(world: Any) -> Any:
    """A world for this context only: a factory is called, an instance copied (a World given
    in a marker is one object for every test it decorates)."""
    if isinstance(world, str) or world is None:
        return world
    if isinstance(world, type) or (callable(world) and not hasattr(world, "holders")):
        factory: Callable[[], Any] = world
        return factory()
    return copy.deepcopy(world)
