"""Record and replay: traces recorded through the compiled stand-in DLL, replayed on the simulator.

The stand-in (tests/native/rstrtmgr_standin.c) in mode 1 is a small faithful Restart Manager,
so a scenario recorded through it must replay against the simulator with no divergence, and
a trace altered in one place must report exactly that call. The library is built here into a
directory of its own: its mode and session table are not shared with test_dll_backend's copy.
"""

from __future__ import annotations

import copy
import ctypes
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_dll_backend import STANDIN_SOURCE, find_compiler

from rmcore import winerror as we
from rmcore.cli import main
from rmcore.testing import conformance
from rmcore.testing.replay import (
    Divergence,
    Trace,
    TraceError,
    TraceRecorder,
    assert_replays,
    build_world,
    decisions_of,
    decode_filter_list,
    load_trace,
    replay,
)
from rmcore.win32 import _types as t
from rmcore.win32._dll import RstrtmgrDLL
from rmcore.world._filters import FilterSet, FilterTarget


class StandinApp(ctypes.Structure):
    """Mirror of the stand-in's StandinApp (size checked against StandinAppSize)."""

    _fields_ = (
        ("pid", ctypes.c_uint32),
        ("start_low", ctypes.c_uint32),
        ("start_high", ctypes.c_uint32),
        ("type", ctypes.c_int32),
        ("ts_session", ctypes.c_uint32),
        ("restartable", ctypes.c_int32),
        ("name", ctypes.c_uint16 * 64),
        ("service", ctypes.c_uint16 * 64),
        ("image", ctypes.c_uint16 * 128),
        ("files", ctypes.c_uint16 * 256),
    )


def standin_app(pid: int, start: int, name: str, app_type: int, **fields: Any) -> StandinApp:
    app = StandinApp(pid, start & 0xFFFFFFFF, start >> 32, app_type)
    app.ts_session, app.restartable = fields.get("ts_session", 1), 1
    for field in ("name", "service", "image", "files"):
        t.wstr_set(getattr(app, field), fields.get(field, name if field == "name" else ""))
    return app


APPS = [
    standin_app(1111, 0x01D9_0000_89AB_CDEF, "editor.exe", t.RmMainWindow,
                image="C:\\Apps\\editor.exe", files="C:\\Data\\report.docx"),
    standin_app(2222, 0x01D9_0000_0000_0002, "tool.exe", t.RmConsole,
                image="C:\\Apps\\tool.exe", files="C:\\Data\\core.dll|C:\\Data\\other.txt"),
    standin_app(3333, 0x01D9_0000_0000_0003, "Print Spooler", t.RmService, ts_session=0,
                service="Spooler", image="C:\\Windows\\System32\\spoolsv.exe"),
    standin_app(4444, 0x01D9_0000_0000_0004, "idle.exe", t.RmMainWindow,
                files="C:\\Elsewhere\\unrelated.txt"),
]  # fmt: skip


class StandinProcess(RstrtmgrDLL):
    """The stand-in as loaded by process *number*: it tells the library before each call."""

    def __init__(self, path: str, number: int, recorder: TraceRecorder) -> None:
        super().__init__(path, recorder=recorder)
        self.number = number

    def _call(self, function: str, arguments: tuple[object, ...]) -> int:
        self.lib.StandinSetProcess(self.number)
        return super()._call(function, arguments)


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> str:
    compiler = find_compiler()
    if compiler is None:
        pytest.skip("no C compiler to build the rstrtmgr.dll stand-in")
    suffix = {"win32": ".dll", "darwin": ".dylib"}.get(sys.platform, ".so")
    library = tmp_path_factory.mktemp("standin-replay") / f"rstrtmgr_standin{suffix}"
    command = [*compiler, "-shared", "-fPIC", "-std=c11", "-fvisibility=hidden", "-O1"]
    command += ["-Wall", "-Wextra", "-o", str(library), str(STANDIN_SOURCE)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return str(library)


def faithful(path: str, recorder: TraceRecorder) -> tuple[StandinProcess, StandinProcess]:
    """Two processes on the stand-in in mode 1, with the APPS declared."""
    primary, secondary = StandinProcess(path, 0, recorder), StandinProcess(path, 1, recorder)
    assert primary.lib.StandinAppSize() == ctypes.sizeof(StandinApp)
    primary.lib.StandinSetMode(1)
    primary.lib.StandinSetApps(len(APPS), (StandinApp * len(APPS))(*APPS))
    return primary, secondary


def start(api: RstrtmgrDLL, flags: int = 0) -> tuple[int, int, str]:
    handle, key = ctypes.c_uint32(0xFFFFFFFF), ctypes.create_unicode_buffer(33)
    return api.RmStartSession(ctypes.byref(handle), flags, key), handle.value, key.value


def join(api: RstrtmgrDLL, key: str) -> tuple[int, int]:
    handle = ctypes.c_uint32(0xFFFFFFFF)
    return api.RmJoinSession(ctypes.byref(handle), key), handle.value


def get_list(api: RstrtmgrDLL, handle: int, room: int) -> tuple[int, int, list[str]]:
    needed, count, reasons = ctypes.c_uint32(), ctypes.c_uint32(room), ctypes.c_uint32()
    rows = (t.RM_PROCESS_INFO * room)() if room else None
    code = api.RmGetList(
        handle, ctypes.byref(needed), ctypes.byref(count), rows, ctypes.byref(reasons)
    )
    names = [rows[i].app_name for i in range(count.value)] if rows else []
    return code, needed.value, names


def record_scenario(path: str) -> Trace:
    """A primary and a secondary installer: 24 calls, every export, the usual failures."""
    recorder = TraceRecorder()
    primary, secondary = faithful(path, recorder)
    progress: list[int] = []
    callback = t.RM_WRITE_STATUS_CALLBACK(progress.append)
    code, handle, key = start(primary)
    assert (code, handle) == (0, 0) and len(key) == 32
    assert join(secondary, key) == (0, 0)  # handles count from 0 in each process
    assert join(secondary, "0" * 32)[0] == we.ERROR_SESSION_CREDENTIAL_CONFLICT
    files = (ctypes.c_wchar_p * 2)("c:\\data\\REPORT.docx", "C:\\Data\\core.dll")
    assert secondary.RmRegisterResources(0, 2, files, 0, None, 0, None) == 0
    services = (ctypes.c_wchar_p * 1)("spooler")
    assert primary.RmRegisterResources(handle, 0, None, 0, None, 1, services) == 0
    assert get_list(primary, handle, 0) == (we.ERROR_MORE_DATA, 3, [])
    assert get_list(primary, handle, 3) == (0, 3, ["editor.exe", "tool.exe", "Print Spooler"])
    assert get_list(secondary, 0, 0)[0] == we.ERROR_SESSION_CREDENTIAL_CONFLICT
    assert primary.RmAddFilter(handle, "C:\\Apps\\editor.exe", None, None, 1) == 0
    needed = ctypes.c_uint32()
    assert primary.RmGetFilterList(handle, None, 0, ctypes.byref(needed)) == we.ERROR_MORE_DATA
    buffer = (ctypes.c_ubyte * needed.value)()
    assert primary.RmGetFilterList(handle, buffer, needed.value, ctypes.byref(needed)) == 0
    assert primary.RmGetFilterList(handle, None, 0, None) == we.ERROR_MORE_DATA
    assert primary.RmRemoveFilter(handle, "C:\\nowhere\\app.exe", None, None) == 2
    assert primary.RmRestart(handle, 0, None) == we.ERROR_REQUEST_OUT_OF_SEQUENCE
    assert start(primary, flags=1)[0] == we.ERROR_BAD_ARGUMENTS
    assert secondary.RmStartSession(None, 0, ctypes.create_unicode_buffer(33)) == 160
    assert primary.RmShutdown(handle, 1, callback) == 0 and progress == [33, 66, 100]
    assert get_list(primary, handle, 3)[0] == 0
    assert primary.RmRestart(handle, 0, callback) == 0 and progress[3:] == [50, 100]
    assert get_list(primary, handle, 3) == (0, 3, ["Print Spooler", "editor.exe", "tool.exe"])
    assert primary.RmCancelCurrentTask(handle) == 0
    assert primary.RmEndSession(handle) == 0
    assert secondary.RmEndSession(0) == we.ERROR_INVALID_HANDLE  # the primary ended it
    assert primary.RmEndSession(handle) == we.ERROR_INVALID_HANDLE
    return recorder.as_json()


@pytest.fixture
def trace(standin: str) -> Trace:
    return record_scenario(standin)


def calls_of(trace: Trace, function: str) -> list[int]:
    return [i for i, call in enumerate(trace["calls"]) if call["function"] == function]


# --- The two required properties --------------------------------------------------------------
def test_faithful_standin_trace_replays_with_no_divergence(trace: Trace) -> None:
    assert len(trace["calls"]) == 24
    assert {call["process"] for call in trace["calls"]} == {0, 1}
    report = replay(trace)
    assert report.ok, str(report)
    assert report.divergences == () and (report.calls, report.processes) == (24, 2)
    assert str(report).endswith(": no divergence")


def test_an_altered_result_is_reported_at_exactly_that_call(trace: Trace) -> None:
    altered = copy.deepcopy(trace)
    index = calls_of(altered, "RmRemoveFilter")[0]
    altered["calls"][index]["result"] = 0  # Windows "said" 0 where rmcore says 2
    report = replay(altered)
    assert not report.ok
    [divergence] = report.divergences
    assert (divergence.index, divergence.process, divergence.function) == (
        index,
        0,
        "RmRemoveFilter",
    )
    assert (divergence.what, divergence.windows, divergence.rmcore) == ("result", 0, 2)
    assert "FILTER_ACTION_MUST_BE_VALID" in divergence.decisions
    assert divergence.decisions == decisions_of("RmRemoveFilter")
    assert f"call {index} (process 0) RmRemoveFilter: result: Windows 0, rmcore 2" in str(report)
    assert "touches decision FILTER_ACTION_MUST_BE_VALID" in str(report)


def test_an_altered_row_is_reported_at_exactly_that_call(trace: Trace) -> None:
    altered = copy.deepcopy(trace)
    index = calls_of(altered, "RmGetList")[-1]
    altered["calls"][index]["outs"]["rgAffectedApps"][1]["app_name"] = "Editor (renamed)"
    [divergence] = replay(altered).divergences
    assert (divergence.index, divergence.function) == (index, "RmGetList")
    assert divergence.what == "rgAffectedApps[1].app_name"
    assert (divergence.windows, divergence.rmcore) == ("Editor (renamed)", "editor.exe")
    assert "GETLIST_COUNT_ON_MORE_DATA" in divergence.decisions


# --- What is recorded ---------------------------------------------------------------------------
def test_trace_format(trace: Trace) -> None:
    assert (trace["format"], trace["version"]) == ("rmcore-trace", 1)
    assert set(trace["recorded"]) >= {"backend", "library", "platform", "python", "rmcore", "time"}
    assert trace["recorded"]["backend"].endswith("StandinProcess")
    first = trace["calls"][0]
    assert first["function"] == "RmStartSession" and first["process"] == 0
    assert first["arguments"]["pSessionHandle"] == 0xFFFFFFFF
    assert first["arguments"]["dwSessionFlags"] == 0
    assert isinstance(first["arguments"]["strSessionKey"], int)  # the caller's buffer address
    listing = trace["calls"][calls_of(trace, "RmGetList")[0]]
    assert listing["result"] == 234 and listing["arguments"]["rgAffectedApps"] is None
    rows = trace["calls"][calls_of(trace, "RmGetList")[1]]["outs"]["rgAffectedApps"]
    assert rows[2] == {
        "pid": 3333,
        "start_time": 0x01D9_0000_0000_0003,
        "app_name": "Print Spooler",
        "service_short_name": "Spooler",
        "app_type": t.RmService,
        "status": t.RmStatusRunning,
        "ts_session_id": 0xFFFFFFFF,
        "restartable": True,
    }
    shutdown = trace["calls"][calls_of(trace, "RmShutdown")[0]]
    assert shutdown["arguments"]["fnStatus"] == "callback"
    assert shutdown["outs"]["fnStatus"] == [33, 66, 100]
    # The world: the three apps the lists showed (not idle.exe, not the relaunched ones).
    world = trace["world"]
    assert [app["app_name"] for app in world["apps"]] == ["editor.exe", "tool.exe", "Print Spooler"]
    editor = world["apps"][0]
    assert editor["image_path"] == "C:\\Apps\\editor.exe"  # from the module filter
    assert editor["files"] == ["c:\\data\\REPORT.docx", "C:\\Data\\core.dll"]
    assert json.loads(json.dumps(trace)) == trace


def test_filter_list_is_decoded_without_the_recording_address(trace: Trace) -> None:
    listed = trace["calls"][calls_of(trace, "RmGetFilterList")[1]]["outs"]["pbFilterBuf"]
    assert decode_filter_list(listed) == [
        {"action": 1, "trigger": 1, "target": "C:\\Apps\\editor.exe"}
    ]
    filters = FilterSet()
    filters.add(FilterTarget(t.RM_FILTER_TRIGGER.RmFilterTriggerService, "Spooler"), t.RmNoShutdown)
    filters.add(
        FilterTarget(t.RM_FILTER_TRIGGER.RmFilterTriggerProcess, (42, 7 << 32 | 9)), t.RmNoRestart
    )
    filters.add(FilterTarget(t.RM_FILTER_TRIGGER.RmFilterTriggerFile, "D:\\x.exe"), t.RmNoRestart)
    data = filters.buffer_bytes(0x7F00_1234_5670)
    assert decode_filter_list(data.hex()) == [
        {"action": 2, "trigger": 3, "target": "Spooler"},
        {"action": 1, "trigger": 2, "target": [42, 7 << 32 | 9]},
        {"action": 1, "trigger": 1, "target": "D:\\x.exe"},
    ]
    outside = bytearray(data[:32])
    outside[12:16] = b"\0\0\0\0"  # the last record: cbNextOffset 0
    assert decode_filter_list(bytes(outside).hex())[0]["target"].endswith("outside the buffer>")


def test_filter_list_is_decoded_at_the_recorded_address(trace: Trace) -> None:
    call = trace["calls"][calls_of(trace, "RmGetFilterList")[1]]
    base = call["arguments"]["pbFilterBuf"]
    assert isinstance(base, int) and base  # the caller's buffer, as the trace recorded it
    assert decode_filter_list(call["outs"]["pbFilterBuf"], base=base) == [
        {"action": 1, "trigger": 1, "target": "C:\\Apps\\editor.exe"}
    ]
    filters = FilterSet()
    filters.add(FilterTarget(t.RM_FILTER_TRIGGER.RmFilterTriggerFile, "D:\\x.exe"), t.RmNoRestart)
    data = filters.buffer_bytes(0x7F00_1234_5670)
    assert decode_filter_list(data.hex(), base=0x7F00_1234_5670)[0]["target"] == "D:\\x.exe"
    wrong = decode_filter_list(data.hex(), base=0x7F00_1234_0000)[0]["target"]
    assert wrong.endswith("outside the buffer>")  # the base is used, not guessed


def test_keys_are_mapped_with_their_case_and_truncation(standin: str) -> None:
    recorder = TraceRecorder()
    primary, secondary = faithful(standin, recorder)
    _code, handle, key = start(primary)
    assert join(secondary, key.upper()) == (0, 0)  # both sides compare keys' bytes
    assert join(secondary, key[:31])[0] == we.ERROR_SESSION_CREDENTIAL_CONFLICT
    assert join(secondary, key + "0")[0] == we.ERROR_SESSION_CREDENTIAL_CONFLICT
    assert primary.RmEndSession(handle) == 0
    assert_replays(recorder.as_json())


def test_world_rebuilt_from_rows_rm_may_not_act_on() -> None:
    def app(pid: int, ts_session: int, **fields: Any) -> dict[str, Any]:
        row = {"pid": pid, "start_time": 7, "app_name": f"app{pid}", "service_short_name": "",
               "app_type": t.RmCritical, "ts_session_id": ts_session, "restartable": False,
               "image_path": f"C:\\app{pid}.exe", "files": ["C:\\f"]}  # fmt: skip
        return row | fields

    world = build_world(
        {
            "caller": {"pid": 100, "ts_session": 2},
            "apps": [
                app(100, 2),  # the recording process itself (DetectedSelf)
                app(104, 0xFFFFFFFF),  # critical: no session shown
                app(108, 3),  # another user's
                app(112, 0xFFFFFFFF, service_short_name="Svc", app_type=t.RmService),
            ],
        }
    )
    me, critical, other, service = world.apps
    assert (me.critical, me.other_user, me.ts_session) == (False, False, 2)
    assert (critical.critical, critical.ts_session) == (True, 2)
    assert (other.other_user, other.ts_session) == (True, 3)
    assert (service.service_name, service.app_name, service.ts_session) == ("Svc", "app112", 0)
    assert [a.files for a in world.apps] == [{"C:\\f"}] * 4


def test_divergence_without_a_decision_says_so() -> None:
    divergence = Divergence(3, 1, "RmFoo", "result", 5, 0, ())
    assert "touches no recorded decision: a bug, or an undocumented behaviour" in str(divergence)
    assert divergence.as_json()["decisions"] == []


# --- Files and their errors ---------------------------------------------------------------------
def test_save_and_load_round_trip(standin: str, tmp_path: Path) -> None:
    recorder = TraceRecorder()
    primary, _secondary = faithful(standin, recorder)
    code, handle, _key = start(primary)
    assert code == 0 and primary.RmEndSession(handle) == 0
    path = tmp_path / "trace.json"
    recorder.save(path)
    loaded = load_trace(path)
    assert loaded == recorder.as_json() | {"recorded": loaded["recorded"]}
    assert [call["function"] for call in loaded["calls"]] == ["RmStartSession", "RmEndSession"]
    assert replay(path).ok and replay(str(path)).ok


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "trace version 2 is not supported"),
        ({"format": "something-else"}, "not an rmcore trace"),
        ({"calls": [{"function": "RmNothing"}]}, "call 0 is not a recorded call"),
        ({"world": {"apps": []}}, '"world" needs'),
    ],
)
def test_wrong_format_or_version_is_refused(
    trace: Trace, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(trace | change))
    with pytest.raises(TraceError, match=message):
        load_trace(path)
    with pytest.raises(TraceError, match=message):
        replay(trace | change)


def test_unreadable_files_are_trace_errors(tmp_path: Path) -> None:
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(TraceError, match="cannot read the trace"):
        load_trace(tmp_path / "junk.json")
    with pytest.raises(TraceError, match="cannot read the trace"):
        load_trace(tmp_path / "missing.json")


# --- The command line and the pytest helper -------------------------------------------------------
def test_cli_replay_exit_codes_and_output(
    trace: Trace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad, broken = tmp_path / "good.json", tmp_path / "bad.json", tmp_path / "broken.json"
    good.write_text(json.dumps(trace))
    altered = copy.deepcopy(trace)
    altered["calls"][0]["result"] = 5
    bad.write_text(json.dumps(altered))
    broken.write_text(json.dumps(trace | {"version": 99}))
    assert main(["replay", str(good)]) == 0
    assert "24 call(s) of 2 process(es)" in capsys.readouterr().out
    assert main(["replay", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "call 0 (process 0) RmStartSession: result: Windows 5, rmcore 0" in out
    assert "touches decision" in out and "FIRST_HANDLE" in out
    assert main(["replay", str(bad), "--json"]) == 1
    listing = json.loads(capsys.readouterr().out)
    assert listing["ok"] is False and listing["divergences"][0]["what"] == "result"
    assert main(["replay", str(broken)]) == 2
    assert "trace version 99 is not supported" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "missing.json")]) == 2


def test_assert_replays(trace: Trace, tmp_path: Path) -> None:
    assert assert_replays(trace).ok
    altered = copy.deepcopy(trace)
    altered["calls"][calls_of(trace, "RmShutdown")[0]]["outs"]["fnStatus"] = [50, 100]
    path = tmp_path / "altered.json"
    path.write_text(json.dumps(altered))
    with pytest.raises(
        AssertionError, match=r"fnStatus: Windows \[50, 100\], rmcore \[33, 66, 100\]"
    ):
        assert_replays(path)


# --- The conformance suite's recording (RMCORE_TRACE) ---------------------------------------------
class FakeConfig:
    """What the conformance suite's backend asks of pytest's config."""

    def __init__(self) -> None:
        self.stash = pytest.Stash()
        self.cleanups: list[Any] = []

    def add_cleanup(self, function: Any) -> None:
        self.cleanups.append(function)


def test_conformance_records_a_trace_when_asked(
    standin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RMCORE_TRACE", str(tmp_path / "rm-trace.json"))
    monkeypatch.setenv("RMCORE_DLL_PATH", standin)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    config = FakeConfig()
    dll = conformance.real_dll(config)  # type: ignore[arg-type]
    assert conformance.real_dll(config) is dll  # type: ignore[arg-type]  # one per run
    dll.lib.StandinSetMode(1)
    code, handle, _key = start(dll)
    assert code == 0 and dll.RmEndSession(handle) == 0
    [save] = config.cleanups
    save()
    assert_replays(tmp_path / "rm-trace.json")
    assert len(load_trace(tmp_path / "rm-trace.json")["calls"]) == 2
