"""The acceptance corpus: real public clients of rstrtmgr.dll, run unchanged under rmcore.patch().

Every client in ``tests/clients/`` (vendored byte for byte) or in the ``clients`` extra (pip)
meets one scenario: one other process, ``editor.exe`` with pid 5000000, holds the registered
file; then it is shut down (by the client through RmShutdown where the client does that, else
by the world). Each test asserts what the client returns on Windows in that scenario
(``tests/clients/README.md``) and that its calls reached the simulator.

Only the launcher arranges things: the World, the import of the client (inside the patch,
since most clients bind the DLL at import), fresh client modules for every test. Client code
is never edited, wrapped or replaced.
"""

from __future__ import annotations

import ast
import ctypes
import datetime
import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import rmcore
from rmcore.win32 import _loader
from rmcore.world import App, World

CLIENTS = Path(__file__).resolve().parent / "clients"
LOCKED = "C:\\work\\locked.txt"
EDITOR = "C:\\Program Files\\Editor\\editor.exe"
PID = 5_000_000
ERROR_MORE_DATA = 234
CLIENTS_EXTRA = "pip install -e '.[clients]'"

# Top-level module names the clients load under; each test gets them fresh.
_CLIENT_MODULES = (
    "rmcore_client_",
    "restartmgr",
    "win32more",
    "nullout",
)


@pytest.fixture(autouse=True)
def _fresh_client_modules() -> Iterator[None]:
    """Client modules imported by a test are forgotten after it: every test imports its
    client anew under its own patch (clients bind the DLL or cache it at import)."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(_CLIENT_MODULES):
            del sys.modules[name]


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def editor(world: World) -> App:
    """The one holder of the scenario: a windowed app, not registered for restart."""
    return world.add_process(EDITOR, pid=PID, files=[LOCKED], restartable=False)


def _load(relative: str, name: str | None = None) -> ModuleType:
    """Import a vendored file (unchanged) by its path, as a fresh module."""
    path = CLIENTS / relative
    name = name or "rmcore_client_" + path.parent.name + "_" + path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _load_package(relative: str, name: str) -> ModuleType:
    """Import a vendored package directory (unchanged) under its own name."""
    directory = CLIENTS / relative
    spec = importlib.util.spec_from_file_location(
        name, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        for loaded in [n for n in sys.modules if n == name or n.startswith(name + ".")]:
            del sys.modules[loaded]
        raise
    return module


def _require(module: str, distribution: str) -> None:
    """The pip clients come from the ``clients`` extra."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{distribution} is not installed ({CLIENTS_EXTRA})")


def _calls(sim: rmcore.Simulator) -> list[tuple[str, int | None]]:
    return [(call.function, call.result) for call in sim.calls]


def _out_value(arg: object) -> int:
    """The value behind a ``byref()``/``pointer()`` argument the client passed."""
    target = getattr(arg, "_obj", None)
    if target is None:
        target = arg.contents  # type: ignore[attr-defined]
    return int(target.value)


def _filetime(value: int) -> datetime.datetime:
    return datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(
        microseconds=value // 10
    )


LISTED = [  # start, register, RmGetList sizing (234: one app, no room), then with room
    ("RmStartSession", 0),
    ("RmRegisterResources", 0),
    ("RmGetList", ERROR_MORE_DATA),
    ("RmGetList", 0),
    ("RmEndSession", 0),
]
NOTHING = [  # the same after the holder is gone: RmGetList 0, needed 0
    ("RmStartSession", 0),
    ("RmRegisterResources", 0),
    ("RmGetList", 0),
    ("RmEndSession", 0),
]
SHUT_DOWN = [  # sizing only, then RmShutdown(force)
    ("RmStartSession", 0),
    ("RmRegisterResources", 0),
    ("RmGetList", ERROR_MORE_DATA),
    ("RmShutdown", 0),
    ("RmEndSession", 0),
]


# -- 1. chrome_cookie_unlock (yt-dlp plugin) --------------------------------------------------


def test_chrome_cookie_unlock(
    world: World,
    editor: App,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _require("yt_dlp", "yt-dlp")
    import yt_dlp.cookies

    # The plugin replaces yt-dlp's function at import: put it back after the test.
    monkeypatch.setattr(yt_dlp.cookies, "_open_database_copy", yt_dlp.cookies._open_database_copy)
    editor_id = editor.id
    with rmcore.patch(world=world) as sim:
        client = _load("chrome_cookie_unlock/chrome_cookie_unlock.py")
        assert client.unlock_cookies(LOCKED) is None  # RmShutdown(force) closed editor.exe
        assert capsys.readouterr() == ("", "")
        assert world.stop_requests == [editor_id] and not editor.running
        assert _calls(sim) == SHUT_DOWN
        (sizing,) = sim.calls.of("RmGetList")
        assert _out_value(sizing.args[1]) == 1  # pnProcInfoNeeded: editor.exe

        sim.calls.clear()
        assert client.unlock_cookies(LOCKED) is None
        assert capsys.readouterr().out == "File is not locked\n"
        assert _calls(sim) == NOTHING
        assert _out_value(sim.calls.of("RmGetList")[0].args[1]) == 0


# -- 2. lx_installer_rm_v1 (no argtypes) ------------------------------------------------------


def test_lx_installer_rm_v1(world: World, editor: App) -> None:
    with rmcore.patch(world=world) as sim:
        client = _load("lx_installer_rm_v1/restart_manager.py")
        assert client.find_locking_processes([LOCKED]) == [(PID, "editor.exe")]
        assert _calls(sim) == LISTED

        sim.calls.clear()
        world.exit(editor)
        assert client.find_locking_processes([LOCKED]) == []
        assert _calls(sim) == NOTHING


# -- 3. lx_installer_rm_v2 (argtypes, session class, RmShutdown/RmRestart) --------------------


def test_lx_installer_rm_v2(world: World, editor: App) -> None:
    editor_id = editor.id
    with rmcore.patch(world=world) as sim:
        client = _load("lx_installer_rm_v2/restart_manager.py")
        assert client.find_locking_processes([LOCKED]) == [(PID, "editor.exe")]
        assert _calls(sim) == LISTED

        sim.calls.clear()
        with client.RestartManagerSession([LOCKED]) as session:
            assert session.is_open
            assert session.list_locking_processes() == [(PID, "editor.exe")]
            assert session.shutdown() is True  # graceful (flags 0): editor.exe closes
            assert world.stop_requests == [editor_id] and not editor.running
            assert session.restart() is True  # not registered for restart: nothing relaunched
            assert not editor.running
        assert _calls(sim) == [
            ("RmStartSession", 0),
            ("RmRegisterResources", 0),
            ("RmGetList", ERROR_MORE_DATA),
            ("RmGetList", 0),
            ("RmShutdown", 0),
            ("RmRestart", 0),
            ("RmEndSession", 0),
        ]
        assert sim.calls.of("RmShutdown")[0].arguments["lActionFlags"] == 0

        sim.calls.clear()
        with client.RestartManagerSession([LOCKED]) as session:
            assert session.list_locking_processes() == []
            assert session.shutdown() is True  # nothing to shut down
        assert _calls(sim) == [
            ("RmStartSession", 0),
            ("RmRegisterResources", 0),
            ("RmGetList", 0),
            ("RmShutdown", 0),
            ("RmEndSession", 0),
        ]

        sim.calls.clear()
        assert client.find_locking_processes([LOCKED]) == []
        assert _calls(sim) == NOTHING


# -- 4. ostools_wholockedfile (wrong struct layout) -------------------------------------------


def test_ostools_wholockedfile(
    world: World, editor: App, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its RM_PROCESS_INFO declares FILETIME as one c_ulong (4 bytes on Windows), so it reads
    # strAppName 4 bytes early: the high DWORD of the start time comes out as two characters
    # in front of the name, and ApplicationType from the end of strServiceShortName (0).
    high = editor.start_time >> 32
    garbled = chr(high & 0xFFFF) + chr(high >> 16) + "editor.exe"
    with rmcore.patch(world=world) as sim:
        client = _load("ostools_wholockedfile/4ecd45f/whoLockedFile.py")
        # noExpand: the path as given (os.path.abspath would make it relative off Windows).
        # Windows accepts the wrong-sized array; rmcore says what the client will misread.
        with pytest.warns(rmcore.RmUsageWarning, match="664 bytes on Windows, not 668"):
            found = list(client.processLockingFile(LOCKED, ignore=[], noExpand=True))
        assert capsys.readouterr().out == f'Checking "{LOCKED}"\n'
        assert [(p.pid, p.name, p.appType.value) for p in found] == [(PID, garbled, 0)]
        assert found[0].processStartTime.value == editor.start_time & 0xFFFFFFFF
        assert _calls(sim) == [  # one RmGetList into a 10-entry array
            ("RmStartSession", 0),
            ("RmRegisterResources", 0),
            ("RmGetList", 0),
            ("RmEndSession", 0),
        ]

        sim.calls.clear()
        world.exit(editor)
        with pytest.warns(rmcore.RmUsageWarning, match="664 bytes on Windows, not 668"):
            assert list(client.processLockingFile(LOCKED, ignore=[], noExpand=True)) == []
        assert _calls(sim) == NOTHING


def test_ostools_wholockedfile_head_fails_at_import_as_on_windows(world: World) -> None:
    with rmcore.patch(world=world) as sim:
        with pytest.raises(NotImplementedError):
            _load("ostools_wholockedfile/a5711b5/whoLockedFile.py")
        # It got as far as Windows lets it: the DLL loaded (the simulated one), no call made.
        assert _loader.is_simulated(vars(ctypes.windll)["Rstrtmgr"])  # type: ignore[attr-defined]
        assert _calls(sim) == []


# -- 5. videodl_cookie_unlock (function-local load, RmShutdown with a callback) ---------------


def _videodl_unlock_cookie_db() -> Callable[[str], None]:
    """``_unlock_cookie_db`` from video-dl's ``core/download.py``, unchanged: the module
    itself imports the whole application, so the one function is compiled from its source
    together with the module's ``from __future__`` line, next to the module's logger."""
    path = CLIENTS / "videodl_cookie_unlock" / "download.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    kept = [
        node
        for node in tree.body
        if (isinstance(node, ast.ImportFrom) and node.module == "__future__")
        or (isinstance(node, ast.FunctionDef) and node.name == "_unlock_cookie_db")
    ]
    assert [type(node) for node in kept] == [ast.ImportFrom, ast.FunctionDef]
    namespace: dict[str, Any] = {"logger": logging.getLogger("videodl")}
    code = compile(ast.Module(body=kept, type_ignores=[]), str(path), "exec", dont_inherit=True)
    exec(code, namespace)
    unlock: Callable[[str], None] = namespace["_unlock_cookie_db"]
    return unlock


def test_videodl_cookie_unlock(world: World, editor: App, caplog: pytest.LogCaptureFixture) -> None:
    editor_id = editor.id
    unlock = _videodl_unlock_cookie_db()
    caplog.set_level(logging.DEBUG, logger="videodl")
    with rmcore.patch(world=world) as sim:
        assert unlock(LOCKED) is None
        assert caplog.messages == ["Unlocking cookie DB held by 1 process(es)"]
        assert world.stop_requests == [editor_id] and not editor.running
        assert _calls(sim) == SHUT_DOWN
        assert _out_value(sim.calls.of("RmGetList")[0].args[1]) == 1

        sim.calls.clear()
        caplog.clear()
        assert unlock(LOCKED) is None
        assert caplog.messages == []
        assert _calls(sim) == NOTHING


# -- 6. fdf_winapi (six DLLs at import, \\?\ paths, kernel32 per holder) ----------------------


def test_fdf_winapi(world: World, editor: App) -> None:
    with rmcore.patch(world=world) as sim:
        client = _load("fdf_winapi/winapi.py")
        assert client.restart_manager_processes([LOCKED]) == [
            {
                "pid": PID,
                "name": "editor.exe",
                "service": "",
                "restartable": False,
                "image": EDITOR,  # kernel32 OpenProcess + QueryFullProcessImageNameW
            }
        ]
        assert _calls(sim) == LISTED
        registered = sim.calls.of("RmRegisterResources")[0]
        assert ctypes.cast(registered.args[2], ctypes.POINTER(ctypes.c_wchar_p))[0] == (
            "\\\\?\\" + LOCKED
        )

        sim.calls.clear()
        world.exit(editor)
        assert client.restart_manager_processes([LOCKED]) == []
        assert _calls(sim) == NOTHING


# -- 7. restartmgr (PyPI 1.0.1, vendored: array argtype, callbacks, enums) --------------------


def test_restartmgr(world: World, editor: App, monkeypatch: pytest.MonkeyPatch) -> None:
    editor_id = editor.id
    with rmcore.patch(world=world) as sim:
        restartmgr = _load_package("restartmgr/restartmgr", "restartmgr")
        assert restartmgr.who_locks(LOCKED) == [
            restartmgr.ProcessInfo(
                pid=PID,
                start_time=_filetime(editor.start_time),
                app_name="editor.exe",
                service_short_name=None,
                app_type=restartmgr.RmAppType.MAIN_WINDOW,
                app_status=restartmgr.RmAppStatus.RUNNING,
                ts_session_id=1,
                restartable=False,
            )
        ]
        assert _calls(sim) == LISTED

        sim.calls.clear()
        progress: list[int] = []
        with restartmgr.RmSession() as session:
            session.register_files([LOCKED])
            infos, reason = session.get_list()
            assert [(i.Process.dwProcessId, i.strAppName) for i in infos] == [(PID, "editor.exe")]
            assert reason == restartmgr.RmRebootReason.NONE
            session.shutdown(status_callback=progress.append)  # force, with a callback
            assert world.stop_requests == [editor_id] and not editor.running
            assert progress and progress[-1] == 100
            session.restart()  # NULL callback; nothing registered for restart
        assert not editor.running
        assert restartmgr.who_locks(LOCKED) == []
        assert _calls(sim) == [
            ("RmStartSession", 0),
            ("RmRegisterResources", 0),
            ("RmGetList", ERROR_MORE_DATA),
            ("RmGetList", 0),
            ("RmShutdown", 0),
            ("RmRestart", 0),
            ("RmEndSession", 0),
            *NOTHING,
        ]


# -- 8. win32more (PyPI, generated binding: prototypes with paramflags) ------------------------


def test_win32more(world: World, editor: App) -> None:
    _require("win32more", "win32more")
    with rmcore.patch(world=world) as sim:
        rm = importlib.import_module("win32more.Windows.Win32.System.RestartManager")

        def locking() -> list[tuple[int, str]]:
            handle = ctypes.c_uint32()
            assert rm.RmStartSession(ctypes.byref(handle), 0, ctypes.create_unicode_buffer(33)) == 0
            try:
                files = (ctypes.c_wchar_p * 1)(LOCKED)
                assert rm.RmRegisterResources(handle.value, 1, files, 0, None, 0, None) == 0
                needed, count, reasons = ctypes.c_uint32(), ctypes.c_uint32(0), ctypes.c_uint32()
                code = rm.RmGetList(
                    handle.value,
                    ctypes.byref(needed),
                    ctypes.byref(count),
                    None,
                    ctypes.byref(reasons),
                )
                if code == 0 and needed.value == 0:
                    return []
                assert code == ERROR_MORE_DATA
                apps = (rm.RM_PROCESS_INFO * needed.value)()
                count.value = needed.value
                code = rm.RmGetList(
                    handle.value,
                    ctypes.byref(needed),
                    ctypes.byref(count),
                    apps,
                    ctypes.byref(reasons),
                )
                assert code == 0
                return [(a.Process.dwProcessId, a.strAppName) for a in apps[: count.value]]
            finally:
                assert rm.RmEndSession(handle.value) == 0

        assert locking() == [(PID, "editor.exe")]
        assert _calls(sim) == LISTED

        sim.calls.clear()
        world.exit(editor)
        assert locking() == []
        assert _calls(sim) == NOTHING


# -- 9. nullout-mcp (PyPI: kernel32 bound at import by sibling modules) ----------------------


def test_nullout(world: World, editor: App) -> None:
    _require("nullout", "nullout-mcp")
    with rmcore.patch(world=world) as sim:
        restart_manager = importlib.import_module("nullout.restart_manager")
        assert restart_manager.rm_available()
        assert restart_manager.query_file_lockers(LOCKED) == [
            {
                "pid": PID,
                "appName": "editor.exe",
                "serviceShortName": "",
                "type": "main_window",
                "sessionId": 1,
                "restartable": False,
            }
        ]
        assert _calls(sim) == LISTED

        sim.calls.clear()
        world.exit(editor)
        assert restart_manager.query_file_lockers(LOCKED) == []
        assert _calls(sim) == NOTHING
