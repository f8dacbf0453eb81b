"""RmStartSession, RmJoinSession, RmEndSession: every documented rule and code (their pages)."""

from __future__ import annotations

import ctypes
import os
import threading
from ctypes import wintypes
from pathlib import Path

import pytest
from rm_calls import join, start

import rmcore
from rmcore import winerror as we
from rmcore.session import _fidelity


def _session_files(store: str) -> list[str]:
    """The session keys of the emulated hive, as Windows names them."""
    infos = rmcore.Simulator(store).sessions.sessions()
    return [f"{info.name}.key" for info in infos]


# -- RmStartSession --------------------------------------------------------------------------


def test_start_writes_key_and_handle(sim: rmcore.Simulator, store: str) -> None:
    handle = ctypes.c_uint32(0xFFFFFFFF)
    key = ctypes.create_unicode_buffer("x" * 40, 41)
    assert sim.RmStartSession(ctypes.byref(handle), 0, key) == 0
    assert handle.value == _fidelity.FIRST_HANDLE == 0
    assert len(key.value) == 32 and key[32] == "\0"
    assert all(c in "0123456789abcdef" for c in key.value)
    assert _session_files(store) == ["Session0000.key"]


def test_key_is_v4_guid_bytes_in_memory_order(sim: rmcore.Simulator) -> None:
    for _ in range(20):
        raw = bytes.fromhex(start(sim)[2])
        assert raw[7] >> 4 == 4 and raw[8] >> 6 == 0b10


def test_keys_are_unique_and_handles_count_up(sim: rmcore.Simulator) -> None:
    results = [start(sim) for _ in range(40)]
    assert [r[0] for r in results] == [0] * 40
    assert [r[1] for r in results] == list(range(40))
    assert len({r[2] for r in results}) == 40


def test_store_keeps_no_key_text(sim: rmcore.Simulator, store: str) -> None:
    key = start(sim)[2]
    needles = (key.encode(), key.encode("utf-16-le"), bytes.fromhex(key))
    for root, _dirs, files in os.walk(store):
        for name in files:
            path = os.path.join(root, name)
            data = os.readlink(path).encode() if os.path.islink(path) else Path(path).read_bytes()
            assert not any(n in data or n in name.encode() for n in needles)


@pytest.mark.parametrize(
    "out_type", [ctypes.c_uint32, ctypes.c_ulong, wintypes.DWORD, ctypes.c_uint64]
)
@pytest.mark.parametrize("wrap", ["byref", "pointer", "address", "void_p"])
def test_start_accepts_every_ctypes_out_parameter(
    sim: rmcore.Simulator, out_type: type, wrap: str
) -> None:
    out = out_type(0xFFFFFFFF)
    param = {
        "byref": lambda: ctypes.byref(out),
        "pointer": lambda: ctypes.pointer(out),
        "address": lambda: ctypes.addressof(out),
        "void_p": lambda: ctypes.c_void_p(ctypes.addressof(out)),
    }[wrap]()
    assert sim.RmStartSession(param, 0, ctypes.create_unicode_buffer(33)) == 0
    assert out.value == 0  # four bytes written: the whole value (its high half was 0)


def test_start_with_the_handle_passed_by_value_is_what_ctypes_passes(
    sim: rmcore.Simulator,
) -> None:
    """Without byref, ctypes passes the integer's value: the DLL writes to that address."""
    key = ctypes.create_unicode_buffer(33)
    by_value = pytest.warns(rmcore.RmUsageWarning, match=r"by value .did you mean ctypes.byref")
    with by_value, pytest.raises(OSError, match=r"access violation writing 0x0+FFFFFFFF"):
        sim.RmStartSession(ctypes.c_uint32(0xFFFFFFFF), 0, key)
    with by_value:
        assert sim.RmStartSession(ctypes.c_uint32(0), 0, key) == 160  # the value is NULL
    assert sim.sessions.sessions() == [] and key.value == ""


def test_start_accepts_16_bit_key_buffers(sim: rmcore.Simulator) -> None:
    buffer = (ctypes.c_uint16 * 33)()
    handle = ctypes.c_uint32()
    assert sim.RmStartSession(ctypes.byref(handle), 0, ctypes.byref(buffer)) == 0
    text = "".join(map(chr, buffer[:32]))
    assert buffer[32] == 0 and int(text, 16) >= 0 and len(text) == 32


@pytest.mark.parametrize(
    ("handle_arg", "flags", "key_len"),
    [
        (None, 0, 33),  # NULL handle pointer
        (0, 0, 33),  # NULL as an integer
        ("ok", 0, None),  # NULL key buffer
        ("ok", 1, 33),  # reserved flags must be 0
        ("ok", 0xFFFFFFFF, 33),
    ],
)
def test_start_bad_arguments_is_160_and_writes_nothing(
    sim: rmcore.Simulator, store: str, handle_arg: object, flags: int, key_len: int | None
) -> None:
    handle = ctypes.c_uint32(0xFFFFFFFF)
    key = None if key_len is None else ctypes.create_unicode_buffer("z" * (key_len - 1), key_len)
    param = ctypes.byref(handle) if handle_arg == "ok" else handle_arg
    assert sim.RmStartSession(param, flags, key) == we.ERROR_BAD_ARGUMENTS == 160
    assert handle.value == 0xFFFFFFFF
    assert key is None or key.value == "z" * (key_len - 1)  # type: ignore[operator]
    assert _session_files(store) == []


@pytest.mark.parametrize("short", [32, 16, 1])
def test_short_key_buffer_gets_what_fits_and_a_warning(sim: rmcore.Simulator, short: int) -> None:
    """RmStartSession has no length parameter: Windows writes 33 WCHARs whatever the buffer
    and returns 0 (public callers pass 32-WCHAR buffers: overrun by the NUL). rmcore returns
    0, warns, and writes only what fits: never past the caller's buffer."""
    arena = ctypes.create_unicode_buffer("z" * 40, 41)
    key = (ctypes.c_wchar * short).from_buffer(arena)
    handle = ctypes.c_uint32(0xFFFFFFFF)
    with pytest.warns(rmcore.RmUsageWarning, match="strSessionKey: room for"):
        assert sim.RmStartSession(ctypes.byref(handle), 0, key) == 0
    written = key[:]
    assert handle.value == 0 and all(c in "0123456789abcdef" for c in written)
    assert arena[short:40] == "z" * (40 - short)  # nothing past the buffer
    assert sim.sessions.sessions()[0].name == "Session0000"


def test_strict_mode_fails_the_probable_mistake_before_anything_changes(store: str) -> None:
    sim = rmcore.Simulator(store, strict=True)
    key = ctypes.create_unicode_buffer(32)
    with pytest.raises(rmcore.RmUsageWarning, match="strSessionKey"):
        sim.RmStartSession(ctypes.byref(ctypes.c_uint32()), 0, key)
    assert sim.sessions.sessions() == [] and key.value == ""


@pytest.mark.parametrize("junk", [object(), 1.5, [1], {}])
def test_start_arguments_ctypes_cannot_convert_are_argument_errors(
    sim: rmcore.Simulator, junk: object
) -> None:
    key = ctypes.create_unicode_buffer(33)
    for arguments in ((junk, 0, key), (ctypes.byref(ctypes.c_uint32()), 0, junk)):
        with pytest.raises(ctypes.ArgumentError, match="Don't know how to convert"):
            sim.RmStartSession(*arguments)
    assert sim.sessions.sessions() == []


def test_start_strings_where_buffers_go_are_temporary_copies(sim: rmcore.Simulator) -> None:
    """ctypes passes a str or bytes as a temporary NUL-terminated copy: the DLL writes the
    handle or the key into it and returns 0; the caller never sees them (a known misuse)."""
    key = ctypes.create_unicode_buffer(33)
    with pytest.warns(rmcore.RmUsageWarning, match="temporary copy"):
        assert sim.RmStartSession(ctypes.byref(ctypes.c_uint32()), 0, "0123456789abcdef" * 2) == 0
    with pytest.warns(rmcore.RmUsageWarning, match="temporary copy"):
        assert sim.RmStartSession(b"handle", 0, key) == 0
    assert len(sim.sessions.sessions()) == 2


def test_65th_session_is_353(store: str) -> None:
    sim = rmcore.Simulator(store)
    assert [start(sim)[0] for _ in range(64)] == [0] * 64
    handle = ctypes.c_uint32(0xFFFFFFFF)
    key = ctypes.create_unicode_buffer(33)
    assert sim.RmStartSession(ctypes.byref(handle), 0, key) == we.ERROR_MAX_SESSIONS_REACHED
    assert handle.value == 0xFFFFFFFF and key.value == ""
    assert len(_session_files(store)) == 64
    other = rmcore.Simulator(store)  # the limit is per store (per user), not per process
    assert start(other)[0] == 353
    assert sim.RmEndSession(63) == 0
    assert start(other)[0] == 0


def test_max_sessions_is_configurable(store: str) -> None:
    sim = rmcore.Simulator(store, max_sessions=3)
    assert [start(sim)[0] for _ in range(4)] == [0, 0, 0, 353]


def test_abandoned_sessions_do_not_count_and_are_reclaimed(store: str) -> None:
    owner = rmcore.Simulator(store, max_sessions=2)
    start(owner)
    start(owner)
    other = rmcore.Simulator(store, max_sessions=2)
    assert start(other)[0] == 353
    owner.terminate()
    assert [info.alive for info in other.sessions.sessions()] == [False, False]
    assert start(other)[0] == 0
    assert start(other)[0] == 0
    assert start(other)[0] == 353
    assert [info.alive for info in other.sessions.sessions()] == [True, True]


def test_failed_start_does_not_use_up_a_handle(store: str) -> None:
    sim = rmcore.Simulator(store, max_sessions=1)
    assert start(sim)[:2] == (0, 0)
    assert start(sim)[0] == 353
    assert sim.RmEndSession(0) == 0
    assert start(sim)[:2] == (0, 1)


# -- RmJoinSession ---------------------------------------------------------------------------


def test_join_gives_the_secondary_its_own_handle(store: str) -> None:
    primary, secondary = rmcore.Simulator(store), rmcore.Simulator(store)
    start(primary)
    start(primary)
    key = start(primary)[2]
    assert join(secondary, key) == (0, 0)  # handles are per process
    assert join(secondary, key) == (0, 1)
    info = primary.sessions.sessions()[2]
    assert info.secondaries == 2 and info.owner == primary.process


@pytest.mark.parametrize(
    "as_arg",
    [
        str,
        ctypes.create_unicode_buffer,
        ctypes.c_wchar_p,
        lambda k: ctypes.byref(ctypes.create_unicode_buffer(k)),
        lambda k: (ctypes.c_uint16 * 33)(*map(ord, k)),
    ],
)
def test_join_accepts_every_string_form(store: str, as_arg: object) -> None:
    primary, secondary = rmcore.Simulator(store), rmcore.Simulator(store)
    key = start(primary)[2]
    assert join(secondary, as_arg(key))[0] == 0  # type: ignore[operator]


def test_join_key_case_does_not_matter(store: str) -> None:
    primary = rmcore.Simulator(store)
    key = start(primary)[2]
    expected = 1219 if _fidelity.JOIN_KEY_CASE_SENSITIVE else 0
    assert join(rmcore.Simulator(store), key.upper())[0] == expected


@pytest.mark.parametrize(
    "bad_key",
    [
        "0" * 32,
        "",
        "abc",
        "0" * 31,
        "0" * 33,
        "g" * 32,
        "{00000000-0000-0000-0000-000000000000}",
        " " + "0" * 31,
    ],
)
def test_join_unknown_or_malformed_key_is_1219(sim: rmcore.Simulator, bad_key: str) -> None:
    start(sim)
    handle = ctypes.c_uint32(0xFFFFFFFF)
    assert sim.RmJoinSession(ctypes.byref(handle), bad_key) == 1219
    assert handle.value == 0xFFFFFFFF


def test_join_null_arguments_are_160(sim: rmcore.Simulator) -> None:
    key = start(sim)[2]
    assert sim.RmJoinSession(None, key) == 160
    assert sim.RmJoinSession(ctypes.byref(ctypes.c_uint32()), None) == 160
    assert sim.RmJoinSession(ctypes.byref(ctypes.c_uint32()), ctypes.c_wchar_p()) == 160
    with pytest.raises(OSError, match=r"access violation reading 0x0+2A"):
        sim.RmJoinSession(ctypes.byref(ctypes.c_uint32()), 42)  # an int is an address


def test_join_ended_session_is_1219(store: str) -> None:
    primary = rmcore.Simulator(store)
    code, handle, key = start(primary)
    assert code == 0 and primary.RmEndSession(handle) == 0
    assert join(rmcore.Simulator(store), key)[0] == 1219


def test_join_abandoned_session(store: str) -> None:
    primary = rmcore.Simulator(store)
    key = start(primary)[2]
    primary.terminate()
    assert join(rmcore.Simulator(store), key)[0] == _fidelity.JOIN_ABANDONED_SESSION_RESULT


def test_same_process_may_join_its_own_session(sim: rmcore.Simulator) -> None:
    key = start(sim)[2]
    assert join(sim, key) == ((0, 1) if _fidelity.SAME_PROCESS_MAY_JOIN else (1219, 0xFFFFFFFF))


# -- RmEndSession ----------------------------------------------------------------------------


def test_primary_end_removes_the_session(store: str) -> None:
    sim = rmcore.Simulator(store)
    _, handle, key = start(sim)
    assert sim.RmEndSession(handle) == 0
    assert _session_files(store) == []
    assert sim.sessions.sessions() == []
    assert join(sim, key)[0] == 1219


def test_secondary_end_only_detaches(store: str) -> None:
    primary, secondary = rmcore.Simulator(store), rmcore.Simulator(store)
    _, p_handle, key = start(primary)
    _, s_handle = join(secondary, key)
    assert secondary.RmEndSession(s_handle) == 0
    assert [i.secondaries for i in primary.sessions.sessions()] == [0]
    assert secondary.RmEndSession(s_handle) == 6
    assert join(secondary, key)[0] == 0  # still joinable
    assert primary.RmEndSession(p_handle) == 0


def test_handles_that_name_no_live_session_are_6(store: str) -> None:
    primary, secondary = rmcore.Simulator(store), rmcore.Simulator(store)
    _, p_handle, key = start(primary)
    _, s_handle = join(secondary, key)
    assert secondary.RmEndSession(7) == 6  # never issued
    assert secondary.RmEndSession(0xFFFFFFFF) == 6
    assert rmcore.Simulator(store).RmEndSession(p_handle) == 6  # another process's value
    assert primary.RmEndSession(ctypes.c_uint32(p_handle)) == 0
    assert primary.RmEndSession(p_handle) == 6  # second end
    assert secondary.RmEndSession(s_handle) == _fidelity.STALE_SECONDARY_HANDLE_RESULT == 6
    assert secondary.RmEndSession(s_handle) == 6


def test_end_unreadable_handle_is_6(sim: rmcore.Simulator) -> None:
    start(sim)
    assert sim.RmEndSession("0") == 6
    assert sim.RmEndSession(None) == 0  # NULL is handle 0, which is live here


def test_handles_are_never_reused(sim: rmcore.Simulator) -> None:
    _, first, _ = start(sim)
    assert sim.RmEndSession(first) == 0
    _, second, _ = start(sim)
    assert second != first  # decided: never reused (SessionHandles.open)
    assert sim.RmEndSession(first) == 6


# -- the registry write mutex, write faults, memory -------------------------------------------


def test_mutex_held_elsewhere_is_121_and_changes_nothing(store: str) -> None:
    primary = rmcore.Simulator(store, mutex_timeout=0.05)
    _, handle, key = start(primary)
    before = {name: Path(store, "HKCU").stat().st_mtime_ns for name in _session_files(store)}
    with rmcore.hold_registry_mutex(store):
        assert start(primary)[0] == we.ERROR_SEM_TIMEOUT == 121
        assert join(primary, key) == (121, 0xFFFFFFFF)
        assert primary.RmEndSession(handle) == 121
    assert {n: Path(store, "HKCU").stat().st_mtime_ns for n in _session_files(store)} == before
    assert [i.secondaries for i in primary.sessions.sessions()] == [0]
    assert primary.RmEndSession(handle) == 0  # the handle survived the failed call


def test_write_failure_is_29_and_loses_nothing(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    primary = rmcore.Simulator(store)
    _, handle, key = start(primary)
    secondary = rmcore.Simulator(store)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    assert start(primary)[0] == we.ERROR_WRITE_FAULT == 29
    assert join(secondary, key)[0] == 29
    monkeypatch.undo()
    assert _session_files(store) == ["Session0000.key"]
    assert join(secondary, key) == (0, 0)
    assert primary.RmEndSession(handle) == 0


def test_out_of_memory_is_14(sim: rmcore.Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_memory(n: int) -> bytes:
        raise MemoryError

    monkeypatch.setattr("secrets.token_bytes", no_memory)
    assert start(sim)[0] == we.ERROR_OUTOFMEMORY == 14


def test_unwritable_store_location_is_29_per_call(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    sim = rmcore.Simulator(tmp_path / "store")
    os.rename(str(tmp_path / "store"), str(tmp_path / "gone"))
    blocker.rename(tmp_path / "store")  # the store directory became a plain file
    assert start(sim)[0] == 29


# -- threads and simulated processes ----------------------------------------------------------


def test_one_simulator_is_thread_safe(store: str) -> None:
    sim = rmcore.Simulator(store, mutex_timeout=10)
    handles: list[int] = []
    codes: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(15):
            code, handle, _key = start(sim)
            with lock:
                codes.append(code)
                handles.append(handle)
            codes.append(sim.RmEndSession(handle))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [0] * len(codes) and len(codes) == 180
    assert sorted(handles) == list(range(90))
    assert _session_files(store) == []


def test_terminated_simulator_refuses_calls_and_abandons(store: str) -> None:
    sim = rmcore.Simulator(store)
    start(sim)
    sim.terminate()
    sim.terminate()  # idempotent
    with pytest.raises(rmcore.SimulatorExited):
        start(sim)
    assert [i.alive for i in rmcore.Simulator(store).sessions.sessions()] == [False]


def test_reap_removes_only_abandoned(store: str) -> None:
    alive, dead = rmcore.Simulator(store), rmcore.Simulator(store)
    start(alive)
    start(dead)
    dead.terminate()
    assert alive.sessions.reap() == ["Session0001"]
    assert [i.name for i in alive.sessions.sessions()] == ["Session0000"]


def test_constructor_rejects_nonsense(store: str) -> None:
    with pytest.raises(ValueError):
        rmcore.Simulator(store, max_sessions=0)
    with pytest.raises(ValueError):
        rmcore.Simulator(store, mutex_timeout=-1)
