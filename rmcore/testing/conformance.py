"""Example-based conformance tests, for any backend: the simulator or the real DLL.

Import them into a test module that provides a ``rm_backend`` fixture (a callable that
returns a backend standing for one process), or use the one defined here: it runs every
test on the simulator and, on Windows with ``RMCORE_TEST_REAL_DLL=1``, on the real
rstrtmgr.dll too. Tests of a *decision* (a behaviour docs/fidelity.md decides because
Windows does not document it) name the decision; on the real DLL such a test never fails
the run: it records whether the decision held, and the plugin prints the tally.

With ``RMCORE_TRACE=<path>`` the real DLL's calls are recorded (:mod:`rmcore.testing.replay`)
and the trace is saved there when pytest ends: ``rmcore replay <path>`` then compares them
with the simulator.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .. import winerror
from ..session import _fidelity
from ..win32._rstrtmgr import Simulator
from ..win32._types import RM_PROCESS_INFO

if TYPE_CHECKING:
    from ..win32._dll import RstrtmgrDLL

__all__ = [
    "DECISION_RESULTS",
    "REAL_DLL_ENV_VAR",
    "TRACE_ENV_VAR",
    "decision",
    "real_dll",
    "rm_backend",
]  # + the tests

REAL_DLL_ENV_VAR = "RMCORE_TEST_REAL_DLL"
TRACE_ENV_VAR = "RMCORE_TRACE"
DECISION_RESULTS: dict[str, list[str]] = {"held": [], "did not hold": []}

Backend = Callable[[], Any]

_BACKENDS = ["simulator"]
if sys.platform == "win32" and os.environ.get(REAL_DLL_ENV_VAR) == "1":  # pragma: no cover
    _BACKENDS.append("dll")


@pytest.fixture(params=_BACKENDS)
def rm_backend(request: pytest.FixtureRequest, tmp_path: Any) -> Backend:
    """A factory of backends, one per simulated process (the real DLL is one process)."""
    if request.param == "dll":  # pragma: no cover - Windows only
        dll = real_dll(request.config)
        return lambda: dll
    store = str(tmp_path / "store")
    return lambda: Simulator(store, mutex_timeout=1.0)


_REAL_DLL = pytest.StashKey["RstrtmgrDLL"]()


def real_dll(config: pytest.Config) -> RstrtmgrDLL:
    """The real DLL for ``rm_backend`` (``$RMCORE_DLL_PATH`` or rstrtmgr.dll): a new backend
    object, or with ``$RMCORE_TRACE`` one for the whole run, recording into a trace saved
    there when pytest ends (one trace process: the DLL is one per OS process anyway)."""
    from .._backends import ENV_DLL_PATH
    from ..win32._dll import RstrtmgrDLL

    path = os.environ.get(ENV_DLL_PATH) or None
    target = os.environ.get(TRACE_ENV_VAR)
    if not target:
        return RstrtmgrDLL(path)
    if _REAL_DLL not in config.stash:
        from .replay import TraceRecorder

        recorder = TraceRecorder()
        target = os.path.abspath(target)
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:  # one trace per xdist worker, side by side
            stem, suffix = os.path.splitext(target)
            target = f"{stem}.{worker}{suffix}"
        config.stash[_REAL_DLL] = RstrtmgrDLL(path, recorder=recorder)
        config.add_cleanup(lambda: recorder.save(target))
    return config.stash[_REAL_DLL]


@contextlib.contextmanager
def decision(name: str, api: Any) -> Iterator[None]:
    """Check rmcore's decision *name*: assertions inside fail on the simulator as usual;
    on the real DLL they record whether Windows agrees and the test is xfailed if not."""
    if isinstance(api, Simulator):
        yield
        return
    try:  # pragma: no cover - real DLL only
        yield
    except AssertionError as exc:  # pragma: no cover
        DECISION_RESULTS["did not hold"].append(name)
        pytest.xfail(f"decision {name} does not hold on Windows: {exc}")
    else:  # pragma: no cover
        DECISION_RESULTS["held"].append(name)


def _start(api: Any) -> tuple[int, int, str]:
    handle = ctypes.c_uint32(0xFFFFFFFF)
    key = ctypes.create_unicode_buffer(33)
    code = api.RmStartSession(ctypes.byref(handle), 0, key)
    return code, handle.value, key.value


def _join(api: Any, key: str) -> tuple[int, int]:
    handle = ctypes.c_uint32(0xFFFFFFFF)
    return api.RmJoinSession(ctypes.byref(handle), key), handle.value


# -- documented behaviour ------------------------------------------------------------------


def test_start_writes_a_32_hex_key_and_a_handle(rm_backend: Backend) -> None:
    api = rm_backend()
    code, handle, key = _start(api)
    assert code == 0 and handle != 0xFFFFFFFF
    assert len(key) == 32 and all(c in "0123456789abcdef" for c in key)
    assert api.RmEndSession(handle) == 0


def test_start_null_handle_pointer_is_160(rm_backend: Backend) -> None:
    key = ctypes.create_unicode_buffer(33)
    assert rm_backend().RmStartSession(None, 0, key) == winerror.ERROR_BAD_ARGUMENTS


def test_end_twice_is_6(rm_backend: Backend) -> None:
    api = rm_backend()
    _code, handle, _key = _start(api)
    assert api.RmEndSession(handle) == 0
    assert api.RmEndSession(handle) == winerror.ERROR_INVALID_HANDLE


def test_join_unknown_key_is_1219(rm_backend: Backend) -> None:
    assert _join(rm_backend(), "0" * 32)[0] == winerror.ERROR_SESSION_CREDENTIAL_CONFLICT


def test_fresh_session_lists_nothing(rm_backend: Backend) -> None:
    api = rm_backend()
    _code, handle, _key = _start(api)
    needed, count, reasons = ctypes.c_uint32(99), ctypes.c_uint32(0), ctypes.c_uint32(99)
    code = api.RmGetList(
        handle, ctypes.byref(needed), ctypes.byref(count), None, ctypes.byref(reasons)
    )
    assert (code, needed.value, count.value, reasons.value) == (0, 0, 0, 0)
    assert api.RmEndSession(handle) == 0


def test_register_null_array_with_count_is_160(rm_backend: Backend) -> None:
    api = rm_backend()
    _code, handle, _key = _start(api)
    assert api.RmRegisterResources(handle, 1, None, 0, None, 0, None) == 160
    assert api.RmEndSession(handle) == 0


def test_getlist_two_call_pattern(rm_backend: Backend, tmp_path: Any) -> None:
    api = rm_backend()
    _code, handle, _key = _start(api)
    target = tmp_path / "held.txt" if isinstance(api, Simulator) else None
    files = (ctypes.c_wchar_p * 1)(str(target or sys.executable))
    assert api.RmRegisterResources(handle, 1, files, 0, None, 0, None) == 0
    needed, count, reasons = ctypes.c_uint32(), ctypes.c_uint32(0), ctypes.c_uint32()
    code = api.RmGetList(
        handle, ctypes.byref(needed), ctypes.byref(count), None, ctypes.byref(reasons)
    )
    if needed.value:
        assert code == winerror.ERROR_MORE_DATA
        rows = (RM_PROCESS_INFO * needed.value)()
        count.value = needed.value
        code = api.RmGetList(
            handle, ctypes.byref(needed), ctypes.byref(count), rows, ctypes.byref(reasons)
        )
    assert code == 0 and count.value == needed.value
    assert api.RmEndSession(handle) == 0


def test_restart_before_shutdown_is_776(rm_backend: Backend) -> None:
    api = rm_backend()
    _code, handle, _key = _start(api)
    assert api.RmRestart(handle, 0, None) == winerror.ERROR_REQUEST_OUT_OF_SEQUENCE
    assert api.RmEndSession(handle) == 0


def test_remove_missing_filter_is_2(rm_backend: Backend) -> None:
    api = rm_backend()
    _code, handle, _key = _start(api)
    code = api.RmRemoveFilter(handle, "C:\\nowhere\\app.exe", None, None)
    assert code == winerror.ERROR_FILE_NOT_FOUND == 2
    assert api.RmEndSession(handle) == 0


def test_filter_list_without_needed_pointer_is_234(rm_backend: Backend) -> None:
    api = rm_backend()
    _code, handle, _key = _start(api)
    assert api.RmGetFilterList(handle, None, 0, None) == winerror.ERROR_MORE_DATA
    assert api.RmEndSession(handle) == 0


def test_at_most_64_sessions(rm_backend: Backend) -> None:
    api = rm_backend()
    handles: list[int] = []
    code = 0
    while code == 0 and len(handles) <= 64:
        code, handle, _key = _start(api)
        if code == 0:
            handles.append(handle)
    assert code == winerror.ERROR_MAX_SESSIONS_REACHED and len(handles) <= 64
    assert all(api.RmEndSession(h) == 0 for h in handles)


# -- rmcore's decisions (docs/fidelity.md) ------------------------------------------------


@pytest.mark.rm_decision("REJECT_NONZERO_SESSION_FLAGS")
def test_nonzero_session_flags(rm_backend: Backend) -> None:
    api = rm_backend()
    handle = ctypes.c_uint32()
    code = api.RmStartSession(ctypes.byref(handle), 1, ctypes.create_unicode_buffer(33))
    if code == 0:
        api.RmEndSession(handle)
    with decision("REJECT_NONZERO_SESSION_FLAGS", api):
        assert (code == 160) == _fidelity.REJECT_NONZERO_SESSION_FLAGS


@pytest.mark.rm_decision("FIRST_HANDLE")
def test_first_handle_of_a_process(rm_backend: Backend) -> None:
    api = rm_backend()
    code, handle, _key = _start(api)
    api.RmEndSession(handle)
    with decision("FIRST_HANDLE", api):
        assert code == 0 and handle == _fidelity.FIRST_HANDLE


@pytest.mark.rm_decision("JOIN_KEY_CASE_SENSITIVE")
def test_upper_case_key_joins(rm_backend: Backend) -> None:
    primary, secondary = rm_backend(), rm_backend()
    _code, handle, key = _start(primary)
    code, joined = _join(secondary, key.upper())
    if code == 0:
        secondary.RmEndSession(joined)
    primary.RmEndSession(handle)
    with decision("JOIN_KEY_CASE_SENSITIVE", primary):
        assert (code == 0) != _fidelity.JOIN_KEY_CASE_SENSITIVE


@pytest.mark.rm_decision("SAME_PROCESS_MAY_JOIN")
def test_process_joins_its_own_session(rm_backend: Backend) -> None:
    api = rm_backend()
    _code, handle, key = _start(api)
    code, joined = _join(api, key)
    if code == 0:
        api.RmEndSession(joined)
    api.RmEndSession(handle)
    with decision("SAME_PROCESS_MAY_JOIN", api):
        assert (code == 0) == _fidelity.SAME_PROCESS_MAY_JOIN


@pytest.mark.rm_decision("STALE_SECONDARY_HANDLE_RESULT")
def test_secondary_handle_after_the_primary_ended(rm_backend: Backend) -> None:
    primary, secondary = rm_backend(), rm_backend()
    _code, handle, key = _start(primary)
    code, joined = _join(secondary, key)
    assert primary.RmEndSession(handle) == 0
    with decision("STALE_SECONDARY_HANDLE_RESULT", primary):
        assert code == 0
        assert secondary.RmEndSession(joined) == _fidelity.STALE_SECONDARY_HANDLE_RESULT


@pytest.mark.rm_decision("CANCEL_WITHOUT_TASK_RESULT")
def test_cancel_with_no_task_running(rm_backend: Backend) -> None:
    api = rm_backend()
    _code, handle, _key = _start(api)
    code = api.RmCancelCurrentTask(handle)
    assert api.RmEndSession(handle) == 0
    with decision("CANCEL_WITHOUT_TASK_RESULT", api):
        assert code == _fidelity.CANCEL_WITHOUT_TASK_RESULT


@pytest.mark.rm_decision("REJECT_NONZERO_SESSION_FLAGS")
def test_nonzero_restart_flags_are_160(rm_backend: Backend) -> None:
    api = rm_backend()
    _code, handle, _key = _start(api)
    code = api.RmRestart(handle, 1, None)
    assert api.RmEndSession(handle) == 0
    with decision("REJECT_NONZERO_SESSION_FLAGS", api):
        assert code == winerror.ERROR_BAD_ARGUMENTS


@pytest.mark.rm_decision("KEY_IS_GUID_BYTES")
def test_keys_are_version_4_guids(rm_backend: Backend) -> None:
    api = rm_backend()
    keys = []
    for _ in range(4):
        _code, handle, key = _start(api)
        keys.append(key)
        assert api.RmEndSession(handle) == 0
    with decision("KEY_IS_GUID_BYTES", api):  # GUID bytes in memory order: hex 14 and 16
        assert all(key[14] == "4" and key[16] in "89ab" for key in keys) == (
            _fidelity.KEY_IS_GUID_BYTES
        )


@pytest.mark.rm_decision("SECONDARY_CALLS_PRIMARY_ONLY_RESULT")
def test_a_secondary_may_not_list_shut_down_or_cancel(rm_backend: Backend) -> None:
    primary, secondary = rm_backend(), rm_backend()
    _code, handle, key = _start(primary)
    code, joined = _join(secondary, key)
    assert code == 0
    needed, count, reasons = ctypes.c_uint32(), ctypes.c_uint32(0), ctypes.c_uint32()
    listed = secondary.RmGetList(
        joined, ctypes.byref(needed), ctypes.byref(count), None, ctypes.byref(reasons)
    )
    cancelled = secondary.RmCancelCurrentTask(joined)
    assert secondary.RmEndSession(joined) == 0 and primary.RmEndSession(handle) == 0
    with decision("SECONDARY_CALLS_PRIMARY_ONLY_RESULT", primary):
        expected = _fidelity.SECONDARY_CALLS_PRIMARY_ONLY_RESULT
        assert (listed, cancelled) == (expected, expected)


@pytest.mark.rm_decision("undefined RmShutdown flags")
def test_undefined_shutdown_flags_are_160(rm_backend: Backend) -> None:
    api = rm_backend()
    _code, handle, _key = _start(api)  # an empty session: a shutdown stops nothing
    code = api.RmShutdown(handle, 0x4, None)
    assert api.RmEndSession(handle) == 0
    with decision("undefined RmShutdown flags", api):
        assert code == winerror.ERROR_BAD_ARGUMENTS


@pytest.mark.rm_decision("FILTER_ACTION_MUST_BE_VALID")
def test_an_undefined_filter_action_is_160(rm_backend: Backend) -> None:
    api = rm_backend()
    _code, handle, _key = _start(api)
    code = api.RmAddFilter(handle, "C:\\nowhere\\app.exe", None, None, 5)
    assert api.RmEndSession(handle) == 0
    with decision("FILTER_ACTION_MUST_BE_VALID", api):
        assert (code == winerror.ERROR_BAD_ARGUMENTS) == _fidelity.FILTER_ACTION_MUST_BE_VALID


__all__ += [name for name in dict(globals()) if name.startswith("test_")]
