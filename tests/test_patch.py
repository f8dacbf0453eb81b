"""rmcore.patch(): unchanged ctypes code loading rstrtmgr.dll gets the Simulator, on any OS."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import importlib
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import patch_client
import pytest

import rmcore
from rmcore.win32 import _patch
from rmcore.win32._patch import Patcher, StaleDLLError, active_simulator, patch
from rmcore.world._world import World

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PRIMARY = REPO / "examples" / "ms_primary_installer.py"
SECONDARY = REPO / "examples" / "ms_secondary_installer.py"
RUNNER = HERE / "patch_run.py"
WINDOWS = sys.platform == "win32"
WINDOWS_ONLY_NAMES = (
    "WinDLL",
    "OleDLL",
    "windll",
    "oledll",
    "WINFUNCTYPE",
    "HRESULT",
    "WinError",
    "FormatError",
    "GetLastError",
    "get_last_error",
    "set_last_error",
)
CALC = "C:\\Windows\\System32\\calc.exe"
OLEAUT32 = "C:\\Windows\\System32\\oleaut32.dll"


def _ctypes_state() -> dict[str, object]:
    """Everything the patch may touch, by identity."""
    state: dict[str, object] = {n: vars(ctypes).get(n, "<absent>") for n in WINDOWS_ONLY_NAMES}
    state["CDLL.__init__"] = vars(ctypes.CDLL)["__init__"]
    state["find_library"] = ctypes.util.find_library
    state["CFUNCTYPE"] = ctypes.CFUNCTYPE
    state["hooked prototypes"] = [
        prototype for prototype in ctypes._c_functype_cache.values() if "__new__" in vars(prototype)
    ]
    state["cdll cache"] = dict(vars(ctypes.cdll))
    return state


def _start(dll: Any) -> tuple[int, int, str]:
    handle = ctypes.c_uint32(0xFFFFFFFF)
    key = ctypes.create_unicode_buffer(33)
    code = dll.RmStartSession(ctypes.byref(handle), 0, key)
    return code, handle.value, key.value


@pytest.fixture(autouse=True)
def _no_patch_leaks() -> Iterator[None]:
    """Every test leaves ctypes as it found it and no patch active."""
    before = _ctypes_state()
    yield
    assert _patch._active_count == 0, "a patch is still active"
    assert _ctypes_state() == before


# --- Loading forms ----------------------------------------------------------------------------
LOADERS: dict[str, Callable[[], Any]] = {
    'WinDLL("rstrtmgr")': lambda: ctypes.WinDLL("rstrtmgr"),  # type: ignore[attr-defined]
    'WinDLL("Rstrtmgr.dll", use_last_error=True)': lambda: ctypes.WinDLL(  # type: ignore[attr-defined]
        "Rstrtmgr.dll", use_last_error=True
    ),
    "WinDLL(full path)": lambda: ctypes.WinDLL(  # type: ignore[attr-defined]
        r"C:\Windows\System32\rstrtmgr.dll"
    ),
    "WinDLL(forward slashes, upper case)": lambda: ctypes.WinDLL(  # type: ignore[attr-defined]
        "C:/WINDOWS/SYSTEM32/RSTRTMGR.DLL"
    ),
    "windll.rstrtmgr": lambda: ctypes.windll.rstrtmgr,  # type: ignore[attr-defined]
    "windll.Rstrtmgr": lambda: ctypes.windll.Rstrtmgr,  # type: ignore[attr-defined]
    'windll["rstrtmgr.dll"]': lambda: ctypes.windll["rstrtmgr.dll"],  # type: ignore[attr-defined]
    'windll.LoadLibrary("rstrtmgr.dll")': lambda: ctypes.windll.LoadLibrary(  # type: ignore[attr-defined]
        "rstrtmgr.dll"
    ),
    'CDLL("rstrtmgr")': lambda: ctypes.CDLL("rstrtmgr"),
    'CDLL("RSTRTMGR.dll")': lambda: ctypes.CDLL("RSTRTMGR.dll"),
    "cdll.rstrtmgr": lambda: ctypes.cdll.rstrtmgr,
    'cdll.LoadLibrary("rstrtmgr.dll")': lambda: ctypes.cdll.LoadLibrary("rstrtmgr.dll"),
    'CDLL(find_library("rstrtmgr"))': lambda: ctypes.CDLL(ctypes.util.find_library("rstrtmgr")),
    'WinDLL(find_library("Rstrtmgr"))': lambda: ctypes.WinDLL(  # type: ignore[attr-defined]
        ctypes.util.find_library("Rstrtmgr")
    ),
    "API set name": lambda: ctypes.WinDLL("ext-ms-win-base-rstrtmgr-l1-1-0.dll"),  # type: ignore[attr-defined]
}


@pytest.mark.parametrize("form", list(LOADERS))
def test_every_loading_form_reaches_the_patch_simulator(form: str) -> None:
    with patch() as sim:
        dll = LOADERS[form]()
        code, handle, key = _start(dll)
        assert code == 0 and len(key) == 32
        assert handle in sim.handles()
        assert sim.sessions.sessions()[0].owner == sim.process
        assert dll.RmEndSession(handle) == 0
        assert sim.handles() == {}


def test_loaded_dll_behaves_like_a_ctypes_dll() -> None:
    with patch():
        dll = ctypes.WinDLL("rstrtmgr.dll")  # type: ignore[attr-defined]
        assert type(dll) is ctypes.WinDLL  # type: ignore[attr-defined]
        assert isinstance(dll, ctypes.CDLL)
        assert isinstance(ctypes.CDLL("rstrtmgr"), ctypes.CDLL)
        assert dll.RmStartSession is dll.RmStartSession  # cached, as ctypes does
        assert dll["RmStartSession"] is not dll["RmStartSession"]  # fresh, as ctypes does
        assert dll["RmGetList"].__name__ == "RmGetList"
        assert ctypes.windll.rstrtmgr is ctypes.windll.rstrtmgr  # type: ignore[attr-defined]
        with pytest.raises(AttributeError, match="RmReserveHeap"):
            dll.RmReserveHeap  # noqa: B018  (undocumented export, not simulated)
        with pytest.raises(AttributeError, match="NoSuchFunction"):
            dll.NoSuchFunction  # noqa: B018
        assert not hasattr(dll, "__wrapped__")
        with pytest.raises(AttributeError, match="ordinal"):
            dll[1]  # type: ignore[index]


def test_other_libraries_are_unaffected() -> None:
    libc_name = ctypes.util.find_library("c")
    missing = "rmcore-no-such-library.so"
    with pytest.raises(OSError) as unpatched:
        ctypes.CDLL(missing)
    with patch():
        assert ctypes.util.find_library("c") == libc_name
        if libc_name is not None:
            libc = ctypes.CDLL(libc_name)
            assert type(libc) is ctypes.CDLL and libc._handle != 0
            assert libc.labs(-3) == 3
            assert ctypes.WinDLL(libc_name).labs(-4) == 4  # type: ignore[attr-defined]
            assert ctypes.cdll.LoadLibrary(libc_name).labs(-5) == 5
        with pytest.raises(OSError) as patched:
            ctypes.CDLL(missing)
        assert str(patched.value) == str(unpatched.value)
        assert ctypes.util.find_library("rmcore-no-such-library") is None


def test_outside_a_patch_rstrtmgr_loads_as_without_rmcore() -> None:
    with patch():
        pass
    if not WINDOWS:
        with pytest.raises(OSError):
            ctypes.CDLL("rstrtmgr.dll")
        assert ctypes.util.find_library("rstrtmgr") is None


# --- What is added and restored ---------------------------------------------------------------
@pytest.mark.skipif(WINDOWS, reason="the Windows-only names exist on Windows")
def test_windows_only_names_exist_only_while_patched() -> None:
    assert not any(hasattr(ctypes, name) for name in WINDOWS_ONLY_NAMES)
    with patch():
        assert all(hasattr(ctypes, name) for name in WINDOWS_ONLY_NAMES)
        assert ctypes.WINFUNCTYPE is ctypes.CFUNCTYPE  # type: ignore[attr-defined]
        import ctypes.wintypes as wintypes  # imports off Windows too (3.11)

        assert wintypes.LPCWSTR is ctypes.c_wchar_p and ctypes.sizeof(wintypes.FILETIME) > 0
    assert hasattr(ctypes, "WinDLL") is False
    assert not any(hasattr(ctypes, name) for name in WINDOWS_ONLY_NAMES)


@pytest.mark.skipif(WINDOWS, reason="off Windows only: these are the real ones on Windows")
def test_provided_last_error_and_win_error() -> None:
    with patch():
        kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
        assert ctypes.set_last_error(121) == 0  # type: ignore[attr-defined]
        assert ctypes.get_last_error() == 121  # type: ignore[attr-defined]  # ctypes' copy
        assert ctypes.GetLastError() == 0  # type: ignore[attr-defined]  # the thread's own
        kernel32.SetLastError(121)
        assert ctypes.GetLastError() == kernel32.GetLastError() == 121  # type: ignore[attr-defined]
        error = ctypes.WinError()  # type: ignore[attr-defined]
        assert isinstance(error, OSError) and error.winerror == 121  # type: ignore[attr-defined]
        assert str(error) == "[WinError 121] The semaphore timeout period has expired."
        assert ctypes.WinError(5).strerror == "Access is denied."  # type: ignore[attr-defined]
        assert ctypes.FormatError(1219).startswith("Multiple connections")  # type: ignore[attr-defined]
        assert ctypes.FormatError(99999) == "<no description>"  # type: ignore[attr-defined]
        ctypes.set_last_error(0)  # type: ignore[attr-defined]
        kernel32.SetLastError(0)


def test_exception_inside_the_block_still_restores_ctypes() -> None:
    before = _ctypes_state()
    with pytest.raises(KeyError), patch():
        assert hasattr(ctypes, "WinDLL")
        raise KeyError("boom")
    assert _ctypes_state() == before
    assert _patch._active_count == 0


def test_real_dll_cached_by_a_loader_before_the_patch_is_put_back() -> None:
    sentinel = object()  # stands for the real rstrtmgr.dll, cached by ctypes.cdll on Windows
    ctypes.cdll.rstrtmgr = sentinel  # type: ignore[attr-defined]
    try:
        with patch() as sim:
            assert ctypes.cdll.rstrtmgr is not sentinel
            assert _start(ctypes.cdll.rstrtmgr)[1] in sim.handles()
        assert ctypes.cdll.rstrtmgr is sentinel
    finally:
        del ctypes.cdll.rstrtmgr


# --- start/stop, decorators, nesting ----------------------------------------------------------
# Patches with Simulator options inside the plugin's per-test context, on purpose.
@pytest.mark.filterwarnings("ignore:rmcore.patch\\(\\) with Simulator options:RuntimeWarning")
def test_start_and_stop() -> None:
    patcher = patch(max_sessions=3)
    assert isinstance(patcher, Patcher)
    sim = patcher.start()
    try:
        assert isinstance(sim, rmcore.Simulator)
        assert patcher.simulator is sim is active_simulator()
        assert _start(ctypes.CDLL("rstrtmgr"))[1] in sim.handles()
        with pytest.raises(RuntimeError, match="already active"):
            patcher.start()
    finally:
        patcher.stop()
    with pytest.raises(RuntimeError, match="not active"):
        patcher.stop()
    assert active_simulator() is not sim  # the test's own again (one simulator per test)
    again = patcher.start()  # a stopped patcher can start again, with a fresh Simulator
    assert again is not sim
    patcher.stop()


def test_own_simulator_gets_a_fresh_temporary_store_exported_to_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RMCORE_STORE", raising=False)
    with patch(ts_session=1) as first:  # options: its own Simulator, not the test's
        store = first.store.describe()
        assert os.path.isdir(store) and os.environ["RMCORE_STORE"] == store
        _start(ctypes.CDLL("rstrtmgr"))
    assert not os.path.exists(store) and "RMCORE_STORE" not in os.environ
    with patch(ts_session=1) as second:
        assert second.store.describe() != store and second.sessions.sessions() == []


def test_own_simulator_honours_rmcore_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    store = str(tmp_path / "shared")
    monkeypatch.setenv("RMCORE_STORE", store)
    with patch(ts_session=1) as sim:
        assert sim.store.describe() == store
        _start(ctypes.CDLL("rstrtmgr"))
    assert os.environ["RMCORE_STORE"] == store and os.path.isdir(store)


def test_without_options_a_patch_serves_the_tests_simulator(rm: rmcore.Simulator) -> None:
    with patch() as sim, patch() as inner:
        assert sim is inner is rm
        assert _start(ctypes.WinDLL("rstrtmgr"))[1] in rm.handles()  # type: ignore[attr-defined]


def test_explicit_store_is_kept_and_the_process_exits_at_stop(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    with patch(store=store) as sim:
        _start(ctypes.CDLL("rstrtmgr"))
        assert sim.store.describe() == store
    assert os.path.isdir(store)
    with pytest.raises(rmcore.SimulatorExited):
        _start(sim)  # the simulated process that loaded the DLL has exited
    sessions = rmcore.Simulator(store).sessions.sessions()
    assert len(sessions) == 1 and not sessions[0].alive  # left open: now abandoned


def test_decorator_on_a_function_is_fresh_per_call() -> None:
    seen: list[rmcore.Simulator] = []

    @patch(max_sessions=1)
    def use_dll(tag: str) -> str:
        seen.append(active_simulator())
        dll = ctypes.WinDLL("rstrtmgr")  # type: ignore[attr-defined]
        assert _start(dll)[0] == 0
        assert _start(dll)[0] == rmcore.winerror.ERROR_MAX_SESSIONS_REACHED
        return tag

    assert use_dll.__name__ == "use_dll"
    assert use_dll("a") == "a" and use_dll("b") == "b"
    assert len(seen) == 2 and seen[0] is not seen[1]
    assert _patch._active_count == 0


def test_bare_decorator() -> None:
    @patch
    def use_dll() -> int:
        return _start(ctypes.CDLL("rstrtmgr"))[0]

    assert use_dll() == 0
    with pytest.raises(TypeError):
        patch(use_dll, max_sessions=2)  # type: ignore[call-overload]


def test_decorator_on_a_class_patches_each_test_method_freshly() -> None:
    seen: list[rmcore.Simulator] = []

    class Suite:
        def helper(self) -> bool:
            return bool(_patch._active_count)

        def test_one(self) -> None:
            seen.append(active_simulator())

        def test_two(self) -> None:
            seen.append(active_simulator())

        @staticmethod
        def test_static() -> rmcore.Simulator:
            return active_simulator()

    decorated = patch(ts_session=2)(Suite)
    assert decorated is Suite
    suite = Suite()
    suite.test_one()
    suite.test_two()
    assert Suite.test_static().ts_session == 2
    assert suite.helper() is False  # only test* methods are patched
    first, second = seen
    assert first is not second and first.ts_session == second.ts_session == 2


@patch(max_sessions=2)
class TestDecoratedClassCollectedByPytest:
    """Each method sees an empty store: the Simulator is fresh per method (order-free)."""

    def _fill(self) -> None:
        sim = active_simulator()
        assert sim.sessions.sessions() == []
        dll = ctypes.WinDLL("rstrtmgr")  # type: ignore[attr-defined]
        assert [_start(dll)[0] for _ in range(3)] == [0, 0, 353]  # max_sessions applied

    def test_first(self) -> None:
        self._fill()

    def test_second(self) -> None:
        self._fill()


def test_decorator_on_a_unittest_testcase() -> None:
    seen: list[rmcore.Simulator] = []

    @patch(max_sessions=5)
    class Case(unittest.TestCase):
        def setUp(self) -> None:
            self.dll = ctypes.WinDLL("rstrtmgr")  # type: ignore[attr-defined]

        def test_a(self) -> None:
            seen.append(active_simulator())
            self.assertEqual(_start(self.dll)[0], 0)

        def test_b(self) -> None:
            seen.append(active_simulator())
            self.assertEqual(_start(self.dll)[0], 0)

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(Case).run(result)
    assert result.wasSuccessful(), result.errors + result.failures
    assert len(seen) == 2 and seen[0] is not seen[1]
    assert _patch._active_count == 0


def test_nested_patches_are_counted_and_share_the_simulator() -> None:
    outer = patch()
    outer_sim = outer.start()
    inner = patch()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert inner.start() is outer_sim
    inner.stop()
    assert hasattr(ctypes, "WinDLL") and _patch._active_count == 1  # the outer is active
    assert _start(ctypes.CDLL("rstrtmgr"))[1] in outer_sim.handles()
    outer.stop()
    assert _patch._active_count == 0


def test_nested_patch_without_options_reuses_without_warning(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    with patch(store=store, max_sessions=4) as outer, warnings.catch_warnings():
        warnings.simplefilter("error")
        with patch() as inner, patch(faults={"RmEndSession": 6}) as innermost:
            assert inner is outer is innermost
            assert outer.faults.pending("RmEndSession") is not None
        outer.faults.clear()


def test_nested_patch_with_other_options_warns_and_uses_its_own_simulator() -> None:
    with patch() as outer:
        outer_dll = ctypes.windll.rstrtmgr  # type: ignore[attr-defined]
        with pytest.warns(RuntimeWarning, match="its own Simulator") as record:
            inner_patch = patch(max_sessions=1)
            inner = inner_patch.start()
        assert record[0].filename == __file__
        try:
            assert inner is not outer
            inner_dll = ctypes.windll.rstrtmgr  # type: ignore[attr-defined]
            assert inner_dll is not outer_dll  # the loader's cache was dropped
            assert _start(inner_dll)[1] in inner.handles()
            assert _start(outer_dll)[1] in outer.handles()  # loaded earlier: still the outer's
        finally:
            inner_patch.stop()
        with pytest.raises(StaleDLLError):
            _start(inner_dll)
        assert _start(ctypes.windll.rstrtmgr)[1] in outer.handles()  # type: ignore[attr-defined]


def test_outer_stopped_first_keeps_the_shared_simulator_alive() -> None:
    outer, inner = patch(ts_session=1), patch()
    sim = outer.start()
    assert inner.start() is sim
    outer.stop()  # out of order: the inner still serves the outer's Simulator...
    assert _start(ctypes.CDLL("rstrtmgr"))[0] == 0
    assert active_simulator() is sim
    inner.stop()
    assert active_simulator() is not sim


def test_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="colour"):
        patch(colour="blue")  # type: ignore[call-overload]


# --- Function objects: argtypes, restype, errcheck --------------------------------------------
def test_errcheck_is_honoured() -> None:
    calls: list[tuple[object, object, tuple[object, ...]]] = []

    def errcheck(result: int, func: object, args: tuple[object, ...]) -> str:
        calls.append((result, func, args))
        if result:
            raise ctypes.WinError(result)  # type: ignore[attr-defined]
        return "ok"

    with patch():
        end = ctypes.WinDLL("rstrtmgr").RmEndSession  # type: ignore[attr-defined]
        end.errcheck = errcheck
        assert end.errcheck is errcheck
        with pytest.raises(OSError):
            end(12345)
        assert calls == [(6, end, (12345,))]
        handle = _start(ctypes.WinDLL("rstrtmgr"))[1]  # type: ignore[attr-defined]
        assert end(handle) == "ok"  # errcheck's return value is the call's
        with pytest.raises(TypeError, match="callable"):
            end.errcheck = 5
        del end.errcheck
        assert end.errcheck is None and end(12345) == 6


def test_restype_conversions() -> None:
    import ctypes.wintypes as wintypes

    class Code(ctypes.c_uint32):
        pass

    with patch():
        end = ctypes.CDLL("rstrtmgr").RmEndSession
        assert end.restype is ctypes.c_int and end(99) == 6
        for restype in (ctypes.c_uint32, wintypes.DWORD, ctypes.c_ulong, ctypes.c_long):
            end.restype = restype
            result = end(99)
            assert type(result) is int and result == 6
        end.restype = Code
        assert isinstance(end(99), Code) and end(99).value == 6
        end.restype = None
        assert end(99) is None
        end.restype = lambda code: f"code {code}"
        assert end(99) == "code 6"
        end.restype = ctypes.c_char_p  # ctypes reads a string at the code: as on Windows,
        with pytest.raises(OSError, match=r"access violation reading 0x0+6$"):  # 6 is no address
            end(99)
        with pytest.raises(TypeError, match="restype"):
            end.restype = 5  # type: ignore[assignment]
        del end.restype
        assert end.restype is ctypes.c_int


def test_argtypes_are_accepted_and_checked_as_ctypes_does() -> None:
    import ctypes.wintypes as wintypes

    with patch() as sim:
        start = ctypes.WinDLL("rstrtmgr").RmStartSession  # type: ignore[attr-defined]
        argtypes = [ctypes.POINTER(ctypes.c_uint32), ctypes.c_uint32, ctypes.c_wchar * 33]
        start.argtypes = argtypes
        assert start.argtypes == tuple(argtypes)  # ctypes keeps a tuple
        handle, key = ctypes.c_uint32(0xFFFFFFFF), ctypes.create_unicode_buffer(33)
        assert start(ctypes.byref(handle), 0, key) == 0 and handle.value in sim.handles()
        # wintypes.DWORD is c_ulong: a different type from c_uint32 on LP64 hosts, the same
        # on Windows; judged as on Windows.
        dword = wintypes.DWORD(0xFFFFFFFF)
        assert start(ctypes.byref(dword), wintypes.DWORD(0), key) == 0
        assert dword.value in sim.handles()
        with pytest.raises(ctypes.ArgumentError, match="argument 1"):
            start(5, 0, key)
        with pytest.raises(ctypes.ArgumentError, match="argument 3"):
            start(ctypes.byref(handle), 0, ctypes.create_unicode_buffer(5))
        with pytest.raises(TypeError, match="at least 3 arguments"):
            start(ctypes.byref(handle), 0)
        with pytest.raises(TypeError, match="from_param"):
            start.argtypes = [ctypes.c_uint32, 5]
        with pytest.raises(TypeError, match="sequence"):
            start.argtypes = 5
        start.argtypes = None
        with pytest.raises(ctypes.ArgumentError, match="convert parameter 2"):
            start(ctypes.byref(handle), 1.5, key)
        with pytest.raises(TypeError, match="takes 3 arguments"):
            start(ctypes.byref(handle))
        with pytest.raises(TypeError, match="keyword"):
            start(ctypes.byref(handle), 0, strSessionKey=key)


def test_null_callback_needs_a_null_function_pointer_as_in_ctypes() -> None:
    with patch():
        dll = ctypes.CDLL("rstrtmgr")
        callback_type = ctypes.CFUNCTYPE(None, ctypes.c_uint)
        dll.RmShutdown.argtypes = [ctypes.c_uint32, ctypes.c_ulong, callback_type]
        handle = _start(dll)[1]
        with pytest.raises(ctypes.ArgumentError, match="argument 3"):
            dll.RmShutdown(handle, 1, None)  # ctypes refuses None here too
        progress: list[int] = []
        assert dll.RmShutdown(handle, 1, callback_type(progress.append)) == 0
        assert dll.RmShutdown(handle, 1, callback_type()) == 0


def test_as_parameter_objects_are_unwrapped() -> None:
    class Handle:
        def __init__(self, value: int) -> None:
            self._as_parameter_ = value

    with patch():
        dll = ctypes.CDLL("rstrtmgr")
        handle = _start(dll)[1]
        assert dll.RmEndSession(Handle(handle)) == 0
        assert dll.RmEndSession(Handle(handle)) == 6


# --- Faults -----------------------------------------------------------------------------------
def test_faults_option() -> None:
    with patch(faults={"RmStartSession": 121, "RmEndSession": (29, 2)}) as sim:
        dll = ctypes.WinDLL("rstrtmgr")  # type: ignore[attr-defined]
        assert _start(dll)[0] == 121
        code, handle, _key = _start(dll)
        assert code == 0
        assert [dll.RmEndSession(handle) for _ in range(3)] == [29, 29, 0]
        assert sim.faults.pending("RmStartSession") is None


def test_faults_given_to_a_reusing_nested_patch_apply_to_the_shared_simulator() -> None:
    with patch() as outer, patch(faults={"RmStartSession": 353}) as inner:
        assert inner is outer
        assert _start(ctypes.CDLL("rstrtmgr"))[0] == 353


@pytest.mark.parametrize(
    "faults",
    [{"RmFoo": 5}, {"RmStartSession": 0}, {"RmGetList": (5, 0)}, {"RmGetList": "x"}, [1]],
)
def test_bad_faults_are_refused_before_anything_starts(faults: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        patch(faults=faults)


# --- Clients imported before the patch, and cached DLLs ---------------------------------------
def test_client_imported_before_the_patch_with_a_cached_dll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(patch_client, "_dll", None)
    with patch(ts_session=1) as first:  # its own Simulator, like a patch outside a test
        code, handle = patch_client.start_session()
        assert code == 0 and handle in first.handles()
    with patch(ts_session=1) as second:
        with pytest.raises(StaleDLLError, match="_dll"):
            patch_client.start_session()  # its cache still holds the first patch's DLL
        monkeypatch.setattr(patch_client, "_dll", None)  # the documented reset
        code, handle = patch_client.start_session()
        assert code == 0 and handle in second.handles()


@pytest.fixture
def captured_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """patch_captured_client, imported (under a patch, off Windows) for this test only."""
    monkeypatch.delitem(sys.modules, "patch_captured_client", raising=False)
    with patch():
        module = importlib.import_module("patch_captured_client")
    yield module
    sys.modules.pop("patch_captured_client", None)


def test_names_captured_at_import_keep_working_in_later_patches(
    captured_client: ModuleType,
) -> None:
    for _ in range(2):
        with patch() as sim:
            assert _start(captured_client.load_by_class())[1] in sim.handles()
            assert _start(captured_client.load_by_loader())[1] in sim.handles()
    if not WINDOWS:
        with pytest.raises(OSError):
            captured_client.load_by_class()  # no patch: as on Linux without rmcore


# --- Acceptance (a): Microsoft's samples, translated, unchanged -------------------------------
def _run_primary(argv: list[str]) -> int:
    namespace = runpy.run_path(str(PRIMARY), run_name="ms_primary_installer")
    return int(namespace["main"](argv))


def test_primary_sample_runs_unchanged_over_a_simulated_world(
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = World()
    calc = world.add_process(CALC, files={CALC})
    calc_id = calc.id
    bystander = world.add_process("C:\\Tools\\other.exe", files={"C:\\Tools\\other.dll"})
    with patch(world=world) as sim:
        assert _run_primary([]) == 0
        assert sim.sessions.sessions() == []  # the sample ended its session
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "RmStartSession -> 0",
        "RmRegisterResources -> 0",
        "RmGetList -> 234",
        "RmGetList -> 0",
        f"affected: calc.exe (PID {calc_id[0]})",
        "RmShutdown -> 0",
        "RmRestart -> 0",
        "RmEndSession -> 0",
    ]
    assert world.stop_requests == [calc_id]  # the bystander holds no registered file
    assert calc.running and calc.id != calc_id  # shut down, then restarted
    assert bystander.running


def test_primary_sample_stops_when_a_reboot_is_needed(capsys: pytest.CaptureFixture[str]) -> None:
    world = World()
    world.add_process(CALC, files={CALC}, critical=True)
    with patch(world=world) as sim:
        assert _run_primary([]) == 0
        assert sim.sessions.sessions() == []
    out = capsys.readouterr().out
    assert "reboot needed" in out and "RmShutdown" not in out
    assert world.stop_requests == []


def _run_samples(secondary: list[str], capfd: pytest.CaptureFixture[str], **options: Any) -> None:
    """Microsoft's primary sample in this process, its secondary in another one: both see
    the same session through the store, with their own PIDs."""
    world = World()
    calc = world.add_process(CALC, files={CALC})
    office = world.add_process("C:\\Office\\word.exe", files={OLEAUT32})
    pids = [calc.pid, office.pid]
    with patch(world=world, **options):
        assert _run_primary(secondary) == 0
    out = capfd.readouterr().out.splitlines()
    assert out[:6] == [
        "RmStartSession -> 0",
        "RmRegisterResources -> 0",
        "RmJoinSession -> 0",  # the secondary, in its own process, on the same store
        "RmRegisterResources -> 0",
        "RmEndSession -> 0",
        "secondary installer exited with 0",
    ]
    affected = sorted(line for line in out if line.startswith("affected: "))
    assert affected == [
        f"affected: calc.exe (PID {pids[0]})",
        f"affected: word.exe (PID {pids[1]})",
    ]
    assert out[-3:] == ["RmShutdown -> 0", "RmRestart -> 0", "RmEndSession -> 0"]
    assert sorted(pid for pid, _ in world.stop_requests) == sorted(pids)
    assert calc.running and office.running  # restarted, as new processes
    assert sorted([calc.pid, office.pid]) != sorted(pids)


@pytest.fixture
def child_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("RMCORE_STORE", raising=False)


@pytest.mark.usefixtures("child_env")
def test_samples_in_two_processes_on_an_explicit_store(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "store")
    _run_samples(
        [sys.executable, str(RUNNER), "--store", store, str(SECONDARY)], capfd, store=store
    )


@pytest.mark.usefixtures("child_env")
def test_samples_in_two_processes_on_rmcore_store(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RMCORE_STORE", str(tmp_path / "shared"))
    _run_samples([sys.executable, str(RUNNER), str(SECONDARY)], capfd)


@pytest.mark.usefixtures("child_env")
def test_samples_in_two_processes_on_the_patch_s_private_store(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """No store named anywhere: the primary's patch makes a private one and exports it, so
    the child's own patch finds it."""
    _run_samples([sys.executable, str(RUNNER), str(SECONDARY)], capfd)
    assert "RMCORE_STORE" not in os.environ  # the export ended with the patch


def test_secondary_sample_with_an_unknown_key_fails_to_join(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(RUNNER), "--store", str(tmp_path), str(SECONDARY), "0" * 32],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert completed.stdout.splitlines() == ["RmJoinSession -> 1219"]
    assert completed.returncode in (1219, 1219 & 0xFF)  # Windows keeps all bits, POSIX 8


# --- Acceptance (b): the PyPI binding `restartmgr`, unchanged ---------------------------------
RESTARTMGR = "restartmgr==1.0.1"


@pytest.fixture(scope="session")
def restartmgr_path(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """restartmgr installed with pip into pytest's cache (once), or skip if PyPI is away.

    It declares Requires-Python >= 3.12 but its code runs on 3.11 (``typing.Self`` and
    ``datetime.UTC`` are 3.11), hence ``--ignore-requires-python``.
    """
    folder = "rmcore-" + RESTARTMGR.replace("==", "-")
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    root = cache.mkdir(folder) if cache is not None else tmp_path_factory.mktemp(folder)
    target = root / "site"
    if (target / "restartmgr" / "__init__.py").is_file():
        return str(target)
    scratch = tempfile.mkdtemp(prefix="install-", dir=root)
    try:
        completed = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile"),
                *("--ignore-requires-python", "--disable-pip-version-check"),
                *("--target", scratch, RESTARTMGR),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if completed.returncode != 0:
            last = (completed.stderr.strip().splitlines() or ["pip failed"])[-1]
            pytest.skip(f"cannot pip install {RESTARTMGR} (network or PyPI unavailable?): {last}")
        with contextlib.suppress(OSError):  # another xdist worker got there first: same files
            os.rename(scratch, target)
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip install {RESTARTMGR} timed out (network or PyPI unavailable?)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return str(target)


@pytest.fixture
def restartmgr(restartmgr_path: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The restartmgr package, imported (it needs ctypes.WinDLL at import) with its cached
    DLL reset for this test (``restartmgr._dll._dll_instance``)."""
    monkeypatch.syspath_prepend(restartmgr_path)
    for name in [m for m in sys.modules if m == "restartmgr" or m.startswith("restartmgr.")]:
        monkeypatch.delitem(sys.modules, name)
    with patch():
        module = importlib.import_module("restartmgr")
    monkeypatch.setattr(module._dll, "_dll_instance", None)
    yield module
    for name in [m for m in sys.modules if m == "restartmgr" or m.startswith("restartmgr.")]:
        sys.modules.pop(name)


# Patches with Simulator options inside the plugin's per-test context, on purpose.
@pytest.mark.filterwarnings("ignore:rmcore.patch\\(\\) with Simulator options:RuntimeWarning")
def test_restartmgr_session_runs_against_the_simulator(restartmgr: ModuleType) -> None:
    world = World()
    editor = world.add_process("C:\\Program Files\\Editor\\editor.exe", files={"C:\\data\\a.txt"})
    with patch(world=world) as sim:
        session = restartmgr.RmSession()
        session.start()
        assert len(session.session_key) == 32
        assert session.handle.value in sim.handles()
        session.register_files(["C:\\data\\a.txt", "C:\\data\\b.txt"])
        infos, reason = session.get_list()
        assert reason == restartmgr.RmRebootReason.NONE
        assert [(i.Process.dwProcessId, i.strAppName) for i in infos] == [
            (editor.pid, "editor.exe")
        ]
        session.shutdown()
        assert not editor.running
        session.restart()
        assert editor.running
        session.end()
        assert sim.handles() == {} and sim.sessions.sessions() == []


# Patches with Simulator options inside the plugin's per-test context, on purpose.
@pytest.mark.filterwarnings("ignore:rmcore.patch\\(\\) with Simulator options:RuntimeWarning")
def test_restartmgr_who_locks_and_errors(restartmgr: ModuleType) -> None:
    world = World()
    editor = world.add_process("C:\\Editor\\editor.exe", files={"C:\\data\\a.txt"})
    with patch(world=world, faults={"RmGetList": 121}):
        with pytest.raises(restartmgr.GetListError) as failed:
            restartmgr.who_locks("C:\\data\\a.txt")
        assert failed.value.error_code == 121
        [info] = restartmgr.who_locks("C:\\data\\a.txt")
        assert info.pid == editor.pid and info.app_type == restartmgr.RmAppType.MAIN_WINDOW
        assert restartmgr.get_locking_processes("C:\\data\\b.txt").processes == ()


# Patches with Simulator options inside the plugin's per-test context, on purpose.
@pytest.mark.filterwarnings("ignore:rmcore.patch\\(\\) with Simulator options:RuntimeWarning")
def test_restartmgr_cached_dll_must_be_reset_between_patches(
    restartmgr: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    with patch(ts_session=1):  # patches with their own Simulators, as outside a test
        restartmgr.RmSession().start()  # caches the DLL in restartmgr._dll._dll_instance
    with patch(ts_session=1) as sim:
        with pytest.raises(StaleDLLError):
            restartmgr.RmSession().start()
        monkeypatch.setattr(restartmgr._dll, "_dll_instance", None)
        session = restartmgr.RmSession()
        session.start()
        assert session.handle.value in sim.handles()
        session.end()


def test_public_names() -> None:
    assert rmcore.patch is patch
    assert rmcore.Patcher is Patcher
    assert rmcore.StaleDLLError is StaleDLLError
    assert rmcore.active_simulator is active_simulator
    assert {"patch", "Patcher", "StaleDLLError", "active_simulator"} <= set(rmcore.__all__)
    assert "RM_PROCESS_INFO" not in rmcore.__all__ and rmcore.win32.RM_PROCESS_INFO  # Win32 names
