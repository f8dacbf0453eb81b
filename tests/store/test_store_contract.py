"""The Store contract, run against both stores: what the session table relies on."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from rmcore.registry_store import (
    STORE_ENV_VAR,
    DiskStore,
    MemoryStore,
    MutexTimeout,
    RegValue,
    Store,
    StoreWriteError,
    open_store,
)

KEY = "HKCU\\Software\\Test\\Key"
LOG = "HKCU\\Software\\Test\\Log"

StoreFactory = Callable[[], Store]


@pytest.fixture(params=["memory", "disk"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Opens the store under test again: the same one for memory, the same directory on disk."""
    if request.param == "memory":
        shared = MemoryStore()
        return lambda: shared
    return lambda: open_store(str(tmp_path / "store"))


def test_keys_write_read_list_delete(make: StoreFactory) -> None:
    store = make()
    assert store.read_key(KEY) is None and not store.key_exists(KEY)
    store.write_key(KEY, {"A": RegValue.dword(7)})
    store.write_key(KEY + "\\Sub2", {"S": RegValue.sz("v")})
    store.write_key(KEY + "\\Sub1", {})
    assert store.read_key(KEY) == {"A": RegValue.dword(7)}
    assert store.key_exists(KEY) and store.key_exists(KEY + "\\Sub1")
    assert store.subkeys(KEY) == ["Sub1", "Sub2"]
    assert store.delete_key(KEY + "\\Sub1") is True
    assert store.delete_key(KEY + "\\Sub1") is False
    assert store.subkeys(KEY) == ["Sub2"]
    assert make().read_key(KEY + "\\Sub2") == {"S": RegValue.sz("v")}  # seen when reopened
    assert store.subkeys("HKCU\\Nothing") == []


def test_write_replaces_the_whole_value_set(make: StoreFactory) -> None:
    store = make()
    store.write_key(KEY, {"A": RegValue.dword(1), "B": RegValue.dword(2)})
    store.write_key(KEY, {"C": RegValue.binary(b"\x00\xff")})
    assert store.read_key(KEY) == {"C": RegValue.binary(b"\x00\xff")}


def test_a_read_is_a_snapshot_the_caller_cannot_corrupt(make: StoreFactory) -> None:
    store = make()
    given = {"A": RegValue.dword(1)}
    store.write_key(KEY, given)
    given["B"] = RegValue.dword(2)  # the caller's dict changes after the write
    first = store.read_key(KEY)
    store.write_key(KEY, {"A": RegValue.dword(3)})
    assert first == {"A": RegValue.dword(1)}
    assert store.read_key(KEY) == {"A": RegValue.dword(3)}


def test_logs_append_read_list_delete(make: StoreFactory) -> None:
    store = make()
    assert store.read_records(LOG) == [] and store.logs("HKCU\\Software\\Test") == []
    for record in (b"one", b"", b"three" * 100):
        store.append_record(LOG, record)
    assert make().read_records(LOG) == [b"one", b"", b"three" * 100]
    assert store.logs("HKCU\\Software\\Test") == ["Log"]
    assert store.subkeys("HKCU\\Software\\Test") == []  # a log is not a key
    assert store.delete_log(LOG) is True and store.delete_log(LOG) is False
    assert store.read_records(LOG) == []


@pytest.mark.parametrize("bad", ["", "A\\..\\B", "A\\x/y", "A\\.", "A\\x\0y"])
def test_invalid_key_names_are_refused(make: StoreFactory, bad: str) -> None:
    with pytest.raises(ValueError):
        make().write_key(bad, {})
    with pytest.raises(ValueError):
        make().append_record(bad, b"x")


def test_injected_write_failures_change_nothing(make: StoreFactory) -> None:
    store = make()
    store.write_key(KEY, {"A": RegValue.dword(1)})
    store.append_record(LOG, b"kept")
    store.inject_write_failures(4)
    for write in (
        lambda: store.write_key(KEY, {"A": RegValue.dword(2)}),
        lambda: store.append_record(LOG, b"lost"),
        lambda: store.delete_key(KEY),
        lambda: store.delete_log(LOG),
    ):
        with pytest.raises(StoreWriteError) as failed:
            write()
        assert failed.value.errno == 28  # ENOSPC, as a full disk
    assert store.read_key(KEY) == {"A": RegValue.dword(1)}
    assert store.read_records(LOG) == [b"kept"]
    store.write_key(KEY, {"A": RegValue.dword(5)})  # the fifth write goes through
    assert store.read_key(KEY) == {"A": RegValue.dword(5)}


def test_mutex_excludes_other_holders_and_times_out(make: StoreFactory) -> None:
    holder, waiter = make(), make()
    with holder.mutex.hold(1.0), pytest.raises(MutexTimeout), waiter.mutex.hold(0.05):
        pass
    with waiter.mutex.hold(0.05), pytest.raises(MutexTimeout), holder.mutex.hold(0):
        pass
    with holder.mutex.hold(float("inf")):  # free again; inf means wait as long as needed
        pass


def test_mutex_waiter_gets_it_when_the_holder_lets_go(make: StoreFactory) -> None:
    store = make()
    order: list[str] = []
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with store.mutex.hold(1.0):
            held.set()
            release.wait(10)
            order.append("released")

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    threading.Timer(0.05, release.set).start()
    with make().mutex.hold(10.0):
        order.append("acquired")
    thread.join()
    assert order == ["released", "acquired"]


def test_a_reader_sees_the_old_or_the_new_value_set_never_a_mix(make: StoreFactory) -> None:
    store = make()
    big = {f"V{i}": RegValue.binary(bytes([i]) * 2000) for i in range(20)}
    small = {"only": RegValue.dword(1)}
    store.write_key(KEY, small)
    stop = threading.Event()
    seen: list[int] = []
    wrong: list[object] = []

    def reader() -> None:
        other = make()
        while not stop.is_set():
            values = other.read_key(KEY)
            if values not in (big, small):
                wrong.append(values)
            seen.append(len(values or {}))

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(300):
        store.write_key(KEY, big if i % 2 else small)
    stop.set()
    thread.join()
    assert wrong == [] and seen and set(seen) <= {1, 20}


def test_description(make: StoreFactory, tmp_path: Path) -> None:
    store = make()
    if store.is_memory:
        assert store.describe() == ":memory:" and isinstance(store, MemoryStore)
    else:
        assert store.describe() == str(tmp_path / "store") and isinstance(store, DiskStore)
    assert store.scan() == []  # nothing foreign in a store only rmcore wrote
    assert store.remove_stray_temp_files(lambda pid: True) == []


# -- open_store ---------------------------------------------------------------------------


def test_open_store_names_every_kind_of_store(tmp_path: Path) -> None:
    memory = open_store(":memory:")
    assert memory.is_memory and open_store(":memory:") is not memory  # a new one each time
    assert open_store(memory) is memory
    disk = open_store(tmp_path / "s")
    assert isinstance(disk, DiskStore) and disk.path == str(tmp_path / "s")
    assert open_store(str(tmp_path / "s")).describe() == str(tmp_path / "s")


@pytest.mark.parametrize("relative", ["shraed", "./store", "a/b", ""])
def test_a_relative_path_is_refused_and_nothing_is_created(
    relative: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="give an absolute path or ':memory:'") as refused:
        open_store(relative)
    assert repr(relative) in str(refused.value)
    assert os.listdir(tmp_path) == []


def test_default_store_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORE_ENV_VAR, str(tmp_path / "env"))
    assert open_store(None).describe() == str(tmp_path / "env")
    monkeypatch.setenv(STORE_ENV_VAR, "relative-env")
    with pytest.raises(ValueError, match=STORE_ENV_VAR):
        open_store(None)
