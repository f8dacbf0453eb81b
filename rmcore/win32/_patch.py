"""``rmcore.patch()``: unchanged ctypes code that loads rstrtmgr.dll gets a Simulator, on any OS.

While a patch is active, every way ctypes code loads the DLL (``ctypes.WinDLL("rstrtmgr")``,
``windll.rstrtmgr``, ``LoadLibrary``, a full path, any case, prototype binding) reaches the
current Simulator (:mod:`._loader` does the hooking). Off Windows the neighbourhood comes
along: kernel32 and psapi answer from the same world, other Windows system DLLs load as
stand-ins, and ctypes' Windows-only names exist for the duration.

Which Simulator: a patch given no Simulator options serves the current one (an outer
patch's, or the test's inside rmcore's pytest fixtures: one simulator per test); otherwise
it makes its own. Its store is ``store=`` if given, else ``$RMCORE_STORE``, else a fresh
temporary directory that the patch exports as ``RMCORE_STORE`` for its duration, so child
processes that patch too (or use rmcore) share it. At stop, a Simulator the patch made is
terminated (its open sessions become abandoned) and its temporary store removed.
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import sys
import tempfile
import threading
import unittest
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar, overload

from .. import _active
from ..registry_store import STORE_ENV_VAR
from ..world._world import WorldView
from . import _loader
from ._exports import BY_NAME
from ._functions import StaleDLLError
from ._rstrtmgr import Simulator

__all__ = ["Patcher", "StaleDLLError", "active_simulator", "patch"]

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])

_SIMULATOR_OPTIONS = ("store", "max_sessions", "mutex_timeout", "world", "ts_session", "strict")
_OPTIONS = (*_SIMULATOR_OPTIONS, "faults", "neighbourhood")
_lock = threading.RLock()
_active_count = 0
_running: list[Patcher] = []  # active patchers, in start order


@dataclass
class _Activation:
    simulator: Simulator
    owned: bool  # made for this patch (not the current one, reused)
    temp_dir: str | None
    exported: str | None  # the temporary store this patch exported as RMCORE_STORE
    previous_env: str | None  # RMCORE_STORE before that


def active_simulator() -> Simulator:
    """The Simulator that rstrtmgr loads get now (the innermost patch or test context)."""
    simulator: Simulator | None = _active.current()
    if simulator is None:
        raise RuntimeError("no rmcore.patch() or rmcore test fixture is active")
    return simulator


class Patcher:
    """One ``rmcore.patch(...)``: a context manager, a decorator, or ``start()``/``stop()``.

    Patches nest: ctypes is restored when the last one stops.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise TypeError(f"patch() got an unexpected keyword argument {unknown[0]!r}")
        self._options = dict(options)
        self._faults = _fault_rules(options.get("faults"))
        self._activation: _Activation | None = None

    def __repr__(self) -> str:
        state = "active" if self._activation is not None else "inactive"
        return f"<rmcore.Patcher {state} {self._options!r}>"

    def copy(self) -> Patcher:
        """A new, inactive patcher with the same options."""
        return Patcher(self._options)

    @property
    def simulator(self) -> Simulator:
        """The Simulator this patch serves while it is active."""
        if self._activation is None:
            raise RuntimeError("this patch is not active")
        return self._activation.simulator

    def start(self) -> Simulator:
        """Activate the patch; return the Simulator DLL loads now get."""
        global _active_count
        with _lock:
            if self._activation is not None:
                raise RuntimeError("this patch is already active")
            wants_own = any(name in self._options for name in _SIMULATOR_OPTIONS)
            # A test's context not used yet is no conflict: a patch with options serves its
            # own Simulator (the current one while it is active); without, it serves the test's.
            current = _active.made() if wants_own else _active.current()
            if current is not None and not wants_own:
                activation = _Activation(current, False, None, None, None)
            else:
                if current is not None:
                    warnings.warn(
                        "rmcore.patch() with Simulator options inside another patch or rmcore "
                        "fixture: it uses its own Simulator until it stops",
                        RuntimeWarning,
                        stacklevel=_caller_level(),
                    )
                activation = self._new_activation()
            try:
                for function, (code, times) in self._faults.items():
                    activation.simulator.faults.fail_next(function, code, times)
                neighbourhood = self._options.get("neighbourhood", sys.platform != "win32")
                _active.push(self, activation.simulator)
                _loader.install(neighbourhood=bool(neighbourhood))
            except BaseException:
                _active.pop(self)
                _release(activation)
                raise
            _active_count += 1
            _running.append(self)
            self._activation = activation
            return activation.simulator

    def _new_activation(self) -> _Activation:
        options = {n: self._options[n] for n in _SIMULATOR_OPTIONS if n in self._options}
        temp_dir = exported = previous_env = None
        if options.get("store") is None:
            configured = os.environ.get(STORE_ENV_VAR)
            if configured:
                options["store"] = configured
            else:
                temp_dir = tempfile.mkdtemp(prefix="rmcore-patch-")
                options["store"] = os.path.join(temp_dir, "store")
        try:
            simulator = Simulator(**options)
        except BaseException:
            if temp_dir is not None:
                shutil.rmtree(temp_dir, ignore_errors=True)
            raise
        if temp_dir is not None:  # children that patch or use rmcore share this store
            previous_env = os.environ.get(STORE_ENV_VAR)
            exported = os.environ[STORE_ENV_VAR] = str(options["store"])
        return _Activation(simulator, True, temp_dir, exported, previous_env)

    def stop(self) -> None:
        """Deactivate; ctypes is restored when no other patch is active."""
        global _active_count
        with _lock:
            activation = self._activation
            if activation is None:
                raise RuntimeError("this patch is not active")
            self._activation = None
            _active.pop(self)
            _active_count -= 1
            _running.remove(self)
            heir = next(
                (
                    p
                    for p in _running
                    if p._activation and p._activation.simulator is activation.simulator
                ),
                None,
            )
            if heir is not None and heir._activation is not None and activation.owned:
                heir._activation, activation = activation, heir._activation  # stopped early:
                activation.owned = False  # the patch still serving the Simulator now owns it
                heir._activation.owned = True
            try:
                if _active_count == 0:
                    _loader.uninstall()
                else:
                    _loader.refresh()
            finally:
                _release(activation)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __call__(self, target: _T) -> _T:
        """Decorate a function (patched per call) or a class (per test: ``test*`` methods,
        or ``setUp`` through cleanup for a ``unittest.TestCase``)."""
        if isinstance(target, type):
            return self._decorate_class(target)  # type: ignore[return-value]
        if callable(target):
            decorated: _T = self._decorate_function(target)
            return decorated
        raise TypeError(f"rmcore.patch() cannot decorate {target!r}")

    def _decorate_function(self, function: _F) -> _F:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self.copy():
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self.copy():
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]

    def _decorate_class(self, klass: type) -> type:
        if issubclass(klass, unittest.TestCase):
            set_up = klass.setUp
            patcher = self

            @functools.wraps(set_up)
            def patched_set_up(test: unittest.TestCase) -> None:
                active = patcher.copy()
                active.start()
                test.addCleanup(active.stop)
                set_up(test)

            klass.setUp = patched_set_up  # type: ignore[method-assign, assignment]
            return klass
        for name in dir(klass):
            if not name.startswith("test"):
                continue
            attribute = inspect.getattr_static(klass, name)
            if isinstance(attribute, (staticmethod, classmethod)):
                wrapped = self._decorate_function(attribute.__func__)
                setattr(klass, name, type(attribute)(wrapped))
            elif inspect.isfunction(attribute):
                setattr(klass, name, self._decorate_function(attribute))
        return klass


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this module."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


def _fault_rules(faults: object) -> dict[str, tuple[int, int]]:
    """The ``faults`` option as {export: (code, times)}, checked before any patch starts."""
    if faults is None:
        return {}
    if not isinstance(faults, Mapping):
        raise TypeError("faults must map export names to a code or (code, times)")
    rules = {}
    for function, spec in faults.items():
        if function not in BY_NAME:
            raise ValueError(f"{function!r} is not a Restart Manager export: {', '.join(BY_NAME)}")
        try:
            code, times = (spec, 1) if isinstance(spec, int) else tuple(spec)
        except (TypeError, ValueError):
            raise ValueError(f"faults[{function!r}]: need a code or (code, times)") from None
        if not (isinstance(code, int) and 0 < code <= 0xFFFFFFFF and isinstance(times, int)):
            raise ValueError(f"faults[{function!r}]: need a non-zero DWORD code, got {spec!r}")
        if times < 1:
            raise ValueError(f"faults[{function!r}]: times must be >= 1, got {times}")
        rules[function] = (code, times)
    return rules


def _release(activation: _Activation) -> None:
    """End what an activation owns: its Simulator's process, its temporary store."""
    if activation.owned:
        activation.simulator.terminate()
    if activation.exported is not None and os.environ.get(STORE_ENV_VAR) == activation.exported:
        if activation.previous_env is None:
            os.environ.pop(STORE_ENV_VAR, None)
        else:
            os.environ[STORE_ENV_VAR] = activation.previous_env
    if activation.temp_dir is not None:
        shutil.rmtree(activation.temp_dir, ignore_errors=True)


@overload
def patch(target: _T, /) -> _T: ...
@overload
def patch(
    *,
    store: object = ...,
    max_sessions: int = ...,
    mutex_timeout: float = ...,
    world: WorldView | str | None = ...,
    ts_session: int = ...,
    strict: bool = ...,
    faults: Mapping[str, int | tuple[int, int]] | None = ...,
    neighbourhood: bool = ...,
) -> Patcher: ...
def patch(target: Any = None, /, **options: Any) -> Any:
    """Route loads of rstrtmgr.dll (and, off Windows, its neighbourhood) through ctypes to
    a :class:`~rmcore.Simulator`.

    Takes ``Simulator``'s keyword arguments, ``faults={"RmStartSession": 121}`` or
    ``{name: (code, times)}``, and ``neighbourhood`` (default: off Windows). Use as
    ``with rmcore.patch() as sim:``, ``@rmcore.patch()`` / ``@rmcore.patch`` on a function or
    test class, or ``p = rmcore.patch(); sim = p.start(); ...; p.stop()``.

    Code that caches a loaded DLL in a module global must have that cache reset between
    patches (e.g. ``monkeypatch.setattr(client, "_dll", None)``); a stale one raises
    :class:`StaleDLLError`.
    """
    if target is not None:
        if options:
            raise TypeError("patch() takes keyword options only")
        return Patcher({})(target)
    return Patcher(options)
