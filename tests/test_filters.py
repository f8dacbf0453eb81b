"""RmAddFilter, RmRemoveFilter, RmGetFilterList: every documented rule and code (their pages,
§2.4, §2.5)."""

from __future__ import annotations

import ctypes
from ctypes import byref

import pytest
from rm_calls import (
    FILE,
    FilterRecord,
    filter_list,
    parse_filter_buffer,
    primary,
    register,
    rows_by_pid,
    secondary,
    status_of,
    unique,
)

import rmcore
from rmcore import winerror as we
from rmcore.session import _fidelity
from rmcore.win32._types import (
    RM_FILTER_INFO,
    RM_UNIQUE_PROCESS,
    RmFilterTriggerFile,
    RmFilterTriggerProcess,
    RmFilterTriggerService,
    RmForceShutdown,
    RmInvalidFilterAction,
    RmNoRestart,
    RmNoShutdown,
    RmStatusRestarted,
    RmStatusRestartMasked,
    RmStatusRunning,
    RmStatusShutdownMasked,
    RmStatusStopped,
)
from rmcore.world._world import App, World

EDITOR = "C:\\Program Files\\Editor\\editor.exe"


@pytest.fixture
def world() -> World:
    return World()


class _Scene:
    """A session with one GUI app (by module path), one service and one plain app."""

    def __init__(self, store: str, world: World) -> None:
        self.world = world
        self.sim, self.handle, self.key = primary(store, world)
        self.editor = world.add_process(EDITOR, files=[FILE])
        self.svc = world.add_service("Spooler", display_name="Print Spooler", files=[FILE])
        self.plain = world.add_process("C:\\plain.exe", files=[FILE])
        assert register(self.sim, self.handle, [FILE]) == 0

    def add(self, module: object = None, process: object = None, service: object = None,
            action: int = RmNoRestart) -> int:  # fmt: skip
        return self.sim.RmAddFilter(self.handle, module, process, service, action)

    def remove(self, module: object = None, process: object = None, service: object = None) -> int:
        return self.sim.RmRemoveFilter(self.handle, module, process, service)

    def status(self, app: App) -> int:
        return status_of(self.sim, self.handle, app)


@pytest.fixture
def scene(store: str, world: World) -> _Scene:
    return _Scene(store, world)


# == RmAddFilter: arguments ==================================================================


def test_each_single_target_is_accepted(scene: _Scene) -> None:
    assert scene.add(module=EDITOR) == 0
    assert scene.add(process=ctypes.pointer(unique(scene.plain))) == 0
    assert scene.add(service="Spooler") == 0
    records = filter_list(scene.sim, scene.handle)  # record order is not documented
    assert sorted(r.trigger for r in records) == [
        RmFilterTriggerFile,
        RmFilterTriggerProcess,
        RmFilterTriggerService,
    ]


@pytest.mark.parametrize("form", ["pointer", "byref", "instance"])
def test_process_target_in_every_pointer_form(scene: _Scene, form: str) -> None:
    process = unique(scene.plain)
    arg = {"pointer": ctypes.pointer, "byref": byref, "instance": lambda p: p}[form](process)
    assert scene.add(process=arg, action=RmNoShutdown) == 0
    assert filter_list(scene.sim, scene.handle) == [
        FilterRecord(RmNoShutdown, RmFilterTriggerProcess, scene.plain.id)
    ]


def test_zero_targets_is_160(scene: _Scene) -> None:
    assert scene.add() == we.ERROR_BAD_ARGUMENTS == 160
    assert scene.add(module=ctypes.c_wchar_p(None), service=ctypes.c_wchar_p(None)) == 160
    assert filter_list(scene.sim, scene.handle) == []


def test_empty_strings_are_no_target(scene: _Scene) -> None:
    # FILTER_ACTION_MUST_BE_VALID's decision also says an empty name counts as no target
    assert scene.add(module="") == 160
    assert scene.add(service="") == 160
    assert scene.add(module="", service="Spooler") == 0


@pytest.mark.parametrize(
    "targets",
    [
        {"module": EDITOR, "process": "P"},
        {"module": EDITOR, "service": "Spooler"},
        {"process": "P", "service": "Spooler"},
        {"module": EDITOR, "process": "P", "service": "Spooler"},
    ],
)
def test_two_or_more_targets_is_160(scene: _Scene, targets: dict[str, object]) -> None:
    if "process" in targets:
        targets["process"] = ctypes.pointer(unique(scene.plain))
    assert scene.add(**targets) == 160  # type: ignore[arg-type]
    assert scene.remove(**targets) == 160  # type: ignore[arg-type]
    assert filter_list(scene.sim, scene.handle) == []


@pytest.mark.parametrize("action", [RmInvalidFilterAction, 3, 0xFFFFFFFF])
def test_invalid_action_is_160(scene: _Scene, action: int) -> None:
    code = scene.add(module=EDITOR, action=action)
    if action == RmInvalidFilterAction and not _fidelity.FILTER_ACTION_MUST_BE_VALID:
        assert code == 0
    else:
        assert code == 160
        assert filter_list(scene.sim, scene.handle) == []


def test_typed_null_process_pointer_is_null(scene: _Scene) -> None:
    """ctypes callers pass NULL as a NULL ``POINTER(RM_UNIQUE_PROCESS)``: it is no target."""
    null = ctypes.POINTER(RM_UNIQUE_PROCESS)()
    assert scene.add(module=EDITOR, process=null) == 0
    assert scene.add(process=null) == 160


def test_process_target_of_callers_windows_style_struct(scene: _Scene) -> None:
    class FT(ctypes.Structure):
        _fields_ = (("dwLowDateTime", ctypes.c_ulong), ("dwHighDateTime", ctypes.c_ulong))

    class UP(ctypes.Structure):
        _fields_ = (("dwProcessId", ctypes.c_ulong), ("ProcessStartTime", FT))

    start_time = scene.plain.start_time
    mine = UP(scene.plain.pid, FT(start_time & 0xFFFFFFFF, start_time >> 32))
    assert scene.add(process=ctypes.pointer(mine), action=RmNoShutdown) == 0
    assert scene.status(scene.plain) & RmStatusShutdownMasked


def test_add_filter_unknown_handle_is_6(scene: _Scene) -> None:
    assert scene.sim.RmAddFilter(scene.handle + 1, EDITOR, None, None, RmNoRestart) == 6
    assert scene.sim.RmRemoveFilter(scene.handle + 1, EDITOR, None, None) == 6
    needed = ctypes.c_uint32(0)
    assert scene.sim.RmGetFilterList(scene.handle + 1, None, 0, byref(needed)) == 6


# == Secondaries =============================================================================


def test_secondary_gets_1219_from_all_three(store: str, scene: _Scene) -> None:
    helper, helper_handle = secondary(store, scene.world, scene.key)
    assert scene.add(module=EDITOR) == 0
    assert helper.RmAddFilter(helper_handle, EDITOR, None, None, RmNoShutdown) == 1219
    assert helper.RmRemoveFilter(helper_handle, EDITOR, None, None) == 1219
    needed = ctypes.c_uint32(0)
    buffer = (ctypes.c_ubyte * 4096)()
    assert helper.RmGetFilterList(helper_handle, buffer, 4096, byref(needed)) == 1219
    assert we.ERROR_SESSION_CREDENTIAL_CONFLICT == 1219
    assert filter_list(scene.sim, scene.handle) == [
        FilterRecord(RmNoRestart, RmFilterTriggerFile, EDITOR)
    ]


# == Effects on RmGetList, RmShutdown, RmRestart =============================================


@pytest.mark.parametrize("target", ["module", "process", "service"])
def test_no_shutdown_masks_and_skips(scene: _Scene, target: str) -> None:
    app, arg = {
        "module": (scene.editor, {"module": EDITOR}),
        "process": (scene.editor, {"process": ctypes.pointer(unique(scene.editor))}),
        "service": (scene.svc, {"service": "Spooler"}),
    }[target]
    assert scene.add(**arg, action=RmNoShutdown) == 0  # type: ignore[arg-type]
    before = scene.status(app)
    assert before & RmStatusShutdownMasked and before & RmStatusRunning
    assert scene.sim.RmShutdown(scene.handle, RmForceShutdown, None) == 0
    assert app.running
    assert app.id not in scene.world.stop_requests
    assert len(scene.world.stop_requests) == 2  # the two others
    after = scene.status(app)
    assert after & RmStatusShutdownMasked and after & RmStatusRunning
    assert not after & RmStatusStopped
    assert scene.sim.RmRestart(scene.handle, 0, None) == 0
    assert app.running and not scene.status(app) & RmStatusRestarted


@pytest.mark.parametrize("target", ["module", "process", "service"])
def test_no_restart_shuts_down_but_does_not_restart(scene: _Scene, target: str) -> None:
    app, arg = {
        "module": (scene.editor, {"module": EDITOR}),
        "process": (scene.editor, {"process": ctypes.pointer(unique(scene.editor))}),
        "service": (scene.svc, {"service": "Spooler"}),
    }[target]
    assert scene.add(**arg, action=RmNoRestart) == 0  # type: ignore[arg-type]
    before = scene.status(app)
    assert before & RmStatusRestartMasked and not before & RmStatusShutdownMasked
    assert scene.sim.RmShutdown(scene.handle, 0, None) == 0
    assert not app.running
    assert scene.status(app) & RmStatusStopped
    assert scene.sim.RmRestart(scene.handle, 0, None) == 0
    assert not app.running
    final = scene.status(app)
    assert final & RmStatusRestartMasked and not final & RmStatusRestarted
    others = [a for a in (scene.editor, scene.svc, scene.plain) if a is not app]
    assert all(a.running for a in others)


def test_module_filter_matches_every_process_of_that_exe_any_case(
    scene: _Scene, world: World
) -> None:
    twin = world.add_process(EDITOR, files=[FILE])
    assert scene.add(module=EDITOR.upper(), action=RmNoShutdown) == 0
    assert scene.sim.RmShutdown(scene.handle, 0, None) == 0
    assert scene.editor.running and twin.running and not scene.plain.running


def test_service_filter_matches_any_case(scene: _Scene) -> None:
    assert scene.add(service="SPOOLER", action=RmNoShutdown) == 0
    assert scene.sim.RmShutdown(scene.handle, 0, None) == 0
    assert scene.svc.running


def test_later_filter_overrides_earlier_on_same_target(scene: _Scene) -> None:
    assert scene.add(module=EDITOR, action=RmNoShutdown) == 0
    assert scene.add(module=EDITOR, action=RmNoRestart) == 0
    assert filter_list(scene.sim, scene.handle) == [
        FilterRecord(RmNoRestart, RmFilterTriggerFile, EDITOR)
    ]
    assert not scene.status(scene.editor) & RmStatusShutdownMasked
    assert scene.sim.RmShutdown(scene.handle, 0, None) == 0
    assert not scene.editor.running  # the NoShutdown was overridden
    assert scene.sim.RmRestart(scene.handle, 0, None) == 0
    assert not scene.editor.running  # NoRestart holds


def test_later_filter_wins_across_targets_of_one_app(scene: _Scene) -> None:
    assert scene.add(module=EDITOR, action=RmNoRestart) == 0
    assert scene.add(process=ctypes.pointer(unique(scene.editor)), action=RmNoShutdown) == 0
    assert scene.status(scene.editor) & RmStatusShutdownMasked
    assert scene.add(module=EDITOR, action=RmNoRestart) == 0  # re-added: latest again
    assert not scene.status(scene.editor) & RmStatusShutdownMasked


def test_removed_filter_stops_masking_even_after_getlist(scene: _Scene) -> None:
    """AppStatus shows the masks of the filters in force (RmAddFilter page, RM_APP_STATUS);
    once RmRemoveFilter took the filter away, RmShutdown stops the app again."""
    assert scene.add(module=EDITOR, action=RmNoShutdown) == 0
    assert scene.status(scene.editor) & RmStatusShutdownMasked  # RmGetList saw the filter
    assert scene.remove(module=EDITOR) == 0
    assert scene.status(scene.editor) == RmStatusRunning
    assert scene.sim.RmShutdown(scene.handle, 0, None) == 0
    assert not scene.editor.running


def test_overridden_filter_stops_masking_even_after_getlist(scene: _Scene) -> None:
    assert scene.add(service="Spooler", action=RmNoShutdown) == 0
    assert scene.status(scene.svc) & RmStatusShutdownMasked
    assert scene.add(service="Spooler", action=RmNoRestart) == 0  # the latest call wins
    status = scene.status(scene.svc)
    assert status & RmStatusRestartMasked and not status & RmStatusShutdownMasked
    assert scene.sim.RmShutdown(scene.handle, 0, None) == 0
    assert not scene.svc.running


def test_same_file_in_other_case_is_the_same_filter(scene: _Scene) -> None:
    """The latest call overrides earlier ones on the *same file* (RmAddFilter page); Windows paths
    compare case-insensitively (rmcore's own ``_fidelity.same_path``)."""
    assert _fidelity.same_path(EDITOR, EDITOR.lower())
    assert scene.add(module=EDITOR, action=RmNoShutdown) == 0
    assert scene.add(module=EDITOR.lower(), action=RmNoRestart) == 0
    assert filter_list(scene.sim, scene.handle) == [
        FilterRecord(RmNoRestart, RmFilterTriggerFile, EDITOR.lower())
    ]
    assert scene.remove(module=EDITOR.upper()) == 0
    assert filter_list(scene.sim, scene.handle) == []


def test_same_service_in_other_case_is_the_same_filter(scene: _Scene) -> None:
    assert scene.add(service="Spooler", action=RmNoShutdown) == 0
    assert scene.remove(service="spooler") == 0
    assert filter_list(scene.sim, scene.handle) == []


def test_filter_added_after_shutdown_applies_to_restart(scene: _Scene) -> None:
    """Filters modify the restart action too (RmAddFilter page, RmNoRestart prevents restart);
    one added between RmShutdown and RmRestart is in force when RmRestart runs."""
    assert scene.sim.RmShutdown(scene.handle, 0, None) == 0
    assert scene.add(module=EDITOR, action=RmNoRestart) == 0
    assert scene.status(scene.editor) & RmStatusRestartMasked
    assert scene.sim.RmRestart(scene.handle, 0, None) == 0
    assert not scene.editor.running
    assert scene.plain.running and scene.svc.running


def test_filters_are_per_session(store: str, scene: _Scene) -> None:
    from rm_calls import start

    code, other, _ = start(scene.sim)
    assert code == 0 and register(scene.sim, other, [FILE]) == 0
    assert scene.add(module=EDITOR, action=RmNoShutdown) == 0
    assert filter_list(scene.sim, other) == []
    assert not rows_by_pid(scene.sim, other)[scene.editor.pid].status & RmStatusShutdownMasked


# == RmRemoveFilter ==========================================================================


def test_remove_filter(scene: _Scene) -> None:
    assert scene.add(module=EDITOR, action=RmNoShutdown) == 0
    assert scene.add(service="Spooler", action=RmNoShutdown) == 0
    assert scene.remove(module=EDITOR) == 0
    assert filter_list(scene.sim, scene.handle) == [
        FilterRecord(RmNoShutdown, RmFilterTriggerService, "Spooler")
    ]
    assert scene.status(scene.editor) == RmStatusRunning
    assert scene.sim.RmShutdown(scene.handle, 0, None) == 0
    assert not scene.editor.running and scene.svc.running


def test_remove_missing_filter_is_2(scene: _Scene) -> None:
    assert scene.remove(module=EDITOR) == we.ERROR_FILE_NOT_FOUND == 2  # never the page's 1
    assert scene.add(module=EDITOR) == 0
    assert scene.remove(service="Spooler") == 2
    assert scene.remove(process=ctypes.pointer(unique(scene.editor))) == 2  # other trigger
    assert scene.remove(module=EDITOR) == 0
    assert scene.remove(module=EDITOR) == 2  # already gone


def test_remove_process_filter(scene: _Scene) -> None:
    assert scene.add(process=ctypes.pointer(unique(scene.plain)), action=RmNoRestart) == 0
    assert scene.remove(process=byref(unique(scene.plain))) == 0
    assert filter_list(scene.sim, scene.handle) == []


def test_remove_needs_exactly_one_target(scene: _Scene) -> None:
    assert scene.remove() == 160


# == RmGetFilterList =========================================================================


def test_empty_filter_list(scene: _Scene) -> None:
    needed = ctypes.c_uint32(1234)
    assert scene.sim.RmGetFilterList(scene.handle, None, 0, byref(needed)) == 0
    assert needed.value == 0


def _three_filters(scene: _Scene) -> None:
    assert scene.add(module=EDITOR, action=RmNoRestart) == 0
    assert scene.add(process=ctypes.pointer(unique(scene.plain)), action=RmNoShutdown) == 0
    assert scene.add(service="Spooler", action=RmNoShutdown) == 0


def test_needed_size_and_parsed_records(scene: _Scene) -> None:
    _three_filters(scene)
    needed = ctypes.c_uint32(0)
    assert scene.sim.RmGetFilterList(scene.handle, None, 0, byref(needed)) == 234
    size = needed.value
    assert size >= 3 * ctypes.sizeof(RM_FILTER_INFO) + 2 * (len(EDITOR) + 1) + 2 * 8
    buffer = (ctypes.c_ubyte * size)()
    assert scene.sim.RmGetFilterList(scene.handle, buffer, size, byref(needed)) == 0
    assert needed.value == size
    records = parse_filter_buffer(buffer, size)
    assert len(records) == 3
    assert set(records) == {
        FilterRecord(RmNoRestart, RmFilterTriggerFile, EDITOR),
        FilterRecord(RmNoShutdown, RmFilterTriggerProcess, scene.plain.id),
        FilterRecord(RmNoShutdown, RmFilterTriggerService, "Spooler"),
    }


def test_record_chain_and_string_pointers(scene: _Scene) -> None:
    _three_filters(scene)
    needed = ctypes.c_uint32(0)
    scene.sim.RmGetFilterList(scene.handle, None, 0, byref(needed))
    used = needed.value
    buffer = (ctypes.c_ubyte * (used + 64))()  # more room than needed is fine
    assert scene.sim.RmGetFilterList(scene.handle, buffer, len(buffer), byref(needed)) == 0
    assert needed.value == used
    base = ctypes.addressof(buffer)
    offsets, offset = [], 0
    while len(offsets) < 10:
        offsets.append(offset)
        record = RM_FILTER_INFO.from_address(base + offset)
        if record.cbNextOffset == 0:
            break
        offset += record.cbNextOffset
    assert len(offsets) == 3 and offsets[0] == 0  # last record's cbNextOffset is 0
    bounds = [*offsets[1:], used]
    texts = {RmFilterTriggerFile: EDITOR, RmFilterTriggerService: "Spooler"}
    seen = set()
    for start, end in zip(offsets, bounds, strict=True):
        record = RM_FILTER_INFO.from_address(base + start)
        seen.add(record.FilterTrigger)
        if record.FilterTrigger == RmFilterTriggerProcess:
            assert record.Process.dwProcessId == scene.plain.pid
            continue
        pointer = (
            record.strFilename
            if record.FilterTrigger == RmFilterTriggerFile
            else record.strServiceShortName
        )
        text_at = ctypes.cast(pointer, ctypes.c_void_p).value
        text = texts[record.FilterTrigger]
        assert text_at is not None
        # the string lives inside this record's stretch of the buffer, NUL-terminated
        assert base + start + ctypes.sizeof(RM_FILTER_INFO) <= text_at
        assert text_at + 2 * (len(text) + 1) <= base + end
        raw = ctypes.string_at(text_at, 2 * (len(text) + 1))
        assert raw == (text + "\0").encode("utf-16-le")
    assert seen == {RmFilterTriggerFile, RmFilterTriggerProcess, RmFilterTriggerService}


def test_too_small_buffer_is_234_and_untouched(scene: _Scene) -> None:
    _three_filters(scene)
    needed = ctypes.c_uint32(0)
    scene.sim.RmGetFilterList(scene.handle, None, 0, byref(needed))
    size = needed.value
    buffer = (ctypes.c_ubyte * size)()
    ctypes.memset(buffer, 0xA5, size)
    needed.value = 0
    assert scene.sim.RmGetFilterList(scene.handle, buffer, size - 1, byref(needed)) == 234
    assert needed.value == size
    assert bytes(buffer) == b"\xa5" * size


def test_buffer_smaller_than_cbfilterbuf_says_is_written_only_as_far_as_it_goes(
    scene: _Scene,
) -> None:
    """cbFilterBuf is the caller's word: Windows writes that many bytes, overrunning a smaller
    buffer, and returns 0. rmcore returns 0 too, warns, and stops at the buffer's end."""
    _three_filters(scene)
    needed = ctypes.c_uint32(0)
    scene.sim.RmGetFilterList(scene.handle, None, 0, byref(needed))
    size = needed.value
    arena = (ctypes.c_ubyte * (size + 8))()
    ctypes.memset(arena, 0xA5, size + 8)
    short = (ctypes.c_ubyte * (size - 1)).from_buffer(arena)
    with pytest.warns(rmcore.RmUsageWarning, match="pbFilterBuf.*overrunning"):
        assert scene.sim.RmGetFilterList(scene.handle, short, size, byref(needed)) == 0
    assert bytes(arena)[size - 1 :] == b"\xa5" * 9  # nothing past the caller's buffer


def test_null_needed_pointer_is_234(scene: _Scene) -> None:
    buffer = (ctypes.c_ubyte * 4096)()
    assert scene.sim.RmGetFilterList(scene.handle, buffer, 4096, None) == 234
    _three_filters(scene)
    assert scene.sim.RmGetFilterList(scene.handle, buffer, 4096, None) == we.ERROR_MORE_DATA


def test_typed_null_buffer_is_null(scene: _Scene) -> None:
    _three_filters(scene)
    needed = ctypes.c_uint32(0)
    null = ctypes.POINTER(ctypes.c_ubyte)()
    assert scene.sim.RmGetFilterList(scene.handle, null, 0, byref(needed)) == 234
    assert needed.value > 0


def test_filter_list_follows_adds_and_removes(scene: _Scene) -> None:
    _three_filters(scene)
    assert scene.remove(process=ctypes.pointer(unique(scene.plain))) == 0
    assert scene.add(module=EDITOR, action=RmNoShutdown) == 0  # overrides in place
    records = filter_list(scene.sim, scene.handle)
    assert len(records) == 2
    assert set(records) == {
        FilterRecord(RmNoShutdown, RmFilterTriggerService, "Spooler"),
        FilterRecord(RmNoShutdown, RmFilterTriggerFile, EDITOR),
    }
