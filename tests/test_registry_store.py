"""The emulated registry: typed values round-trip, changes are atomic, failures lose nothing."""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmcore.registry_store import (
    STORE_ENV_VAR,
    CorruptKeyError,
    MutexTimeout,
    RegistryStore,
    RegType,
    RegValue,
    StoreReadError,
    StoreWriteError,
    default_store_path,
)
from rmcore.registry_store._values import decode_values, encode_values

KEY = "HKCU\\Software\\Test\\Key"

value_strategy = st.one_of(
    st.integers(0, 2**32 - 1).map(RegValue.dword),
    st.integers(0, 2**64 - 1).map(RegValue.qword),
    st.binary(max_size=64).map(RegValue.binary),
    st.text(alphabet=st.characters(blacklist_characters="\0"), max_size=30).map(RegValue.sz),
    st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\0"), min_size=1, max_size=10),
        max_size=5,
    ).map(RegValue.multi_sz),
)


@given(st.dictionaries(st.text(max_size=20), value_strategy, max_size=6))
def test_values_round_trip_exactly(values: dict[str, RegValue]) -> None:
    assert decode_values(encode_values(values)) == values


def test_typed_accessors_read_back_what_was_written() -> None:
    assert RegValue.dword(0xFFFFFFFF).as_int() == 0xFFFFFFFF
    assert RegValue.qword(2**63 + 5).as_int() == 2**63 + 5
    assert RegValue.sz("Ωmega \U0001f600").as_str() == "Ωmega \U0001f600"
    assert RegValue.multi_sz(["a", "b c"]).as_list() == ["a", "b c"]
    assert RegValue.sz("x").data == "x\0".encode("utf-16-le")  # registry wire form
    assert RegValue.multi_sz(["a"]).data == "a\0\0".encode("utf-16-le")
    with pytest.raises(TypeError):
        RegValue.binary(b"1234").as_int()
    with pytest.raises(ValueError):
        RegValue.multi_sz(["", "x"])


def test_torn_or_foreign_data_is_rejected() -> None:
    blob = encode_values({"Owner": RegValue.binary(b"x" * 12)})
    for damaged in (blob[:-1], blob[:10], b"garbage" * 3, blob[:-5] + b"\0" + blob[-4:]):
        with pytest.raises(CorruptKeyError):
            decode_values(damaged)


def test_keys_tree_write_read_list_delete(store: str) -> None:
    reg = RegistryStore(store)
    assert reg.read_key(KEY) is None
    reg.write_key(KEY, {"A": RegValue.dword(7)})
    reg.write_key(KEY + "\\Sub1", {})
    reg.write_key(KEY + "\\Sub2", {"S": RegValue.sz("v")})
    assert reg.read_key(KEY) == {"A": RegValue.dword(7)}
    assert reg.subkeys(KEY) == ["Sub1", "Sub2"]
    assert reg.delete_key(KEY + "\\Sub1") is True
    assert reg.delete_key(KEY + "\\Sub1") is False
    assert reg.subkeys(KEY) == ["Sub2"]
    assert RegistryStore(store).read_key(KEY + "\\Sub2") == {"S": RegValue.sz("v")}


def test_links_resolve_to_their_target(store: str) -> None:
    reg = RegistryStore(store)
    reg.write_link("HKCU\\Index\\abc", "Session0001")
    assert reg.read_link("HKCU\\Index\\abc") == "Session0001"
    reg.write_link("HKCU\\Index\\abc", "Session0002")  # replaced atomically
    assert reg.read_link("HKCU\\Index\\abc") == "Session0002"
    assert reg.read_link("HKCU\\Index\\missing") is None


@pytest.mark.parametrize("bad", ["", "A\\..\\B", "A\\x/y", "A\\."])
def test_invalid_key_names_are_refused(store: str, bad: str) -> None:
    with pytest.raises(ValueError):
        RegistryStore(store).write_key(bad, {})


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_directories_0700_and_files_0600(store: str) -> None:
    reg = RegistryStore(store)
    reg.write_key(KEY, {"A": RegValue.dword(1)})
    for root, dirs, files in os.walk(store):
        for name in dirs:
            assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) == 0o700
        for name in files:
            mode = stat.S_IMODE(os.lstat(os.path.join(root, name)).st_mode)
            assert mode == 0o600, name
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o700


@pytest.mark.parametrize(
    ("call", "errno_code"),
    [("open", errno.EACCES), ("write", errno.ENOSPC), ("replace", errno.EROFS)],
)
def test_failed_write_raises_and_keeps_old_value(
    store: str, monkeypatch: pytest.MonkeyPatch, call: str, errno_code: int
) -> None:
    reg = RegistryStore(store)
    reg.write_key(KEY, {"A": RegValue.dword(1)})
    real = getattr(os, call)

    def failing(*args: object, **kwargs: object) -> object:
        if call == "open" and not str(args[0]).endswith(".tmp"):
            return real(*args, **kwargs)
        raise OSError(errno_code, os.strerror(errno_code))

    monkeypatch.setattr(os, call, failing)
    with pytest.raises(StoreWriteError):
        reg.write_key(KEY, {"A": RegValue.dword(2)})
    monkeypatch.undo()
    assert reg.read_key(KEY) == {"A": RegValue.dword(1)}
    assert not [n for n in os.listdir(os.path.dirname(reg._key_file(KEY))) if ".tmp" in n]


def test_corrupt_key_file_is_a_read_error(store: str) -> None:
    reg = RegistryStore(store)
    reg.write_key(KEY, {"A": RegValue.dword(1)})
    Path(reg._key_file(KEY)).write_bytes(b"torn")
    with pytest.raises(StoreReadError):
        reg.read_key(KEY)


def test_reader_never_sees_a_partial_value_set(store: str) -> None:
    reg = RegistryStore(store)
    big = {f"V{i}": RegValue.binary(bytes([i]) * 2000) for i in range(20)}
    small = {"only": RegValue.dword(1)}
    reg.write_key(KEY, small)
    stop = threading.Event()
    seen: list[int] = []

    def reader() -> None:
        other = RegistryStore(store)
        while not stop.is_set():
            values = other.read_key(KEY)
            assert values in (big, small)
            seen.append(len(values or {}))

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(300):
        reg.write_key(KEY, big if i % 2 else small)
    stop.set()
    thread.join()
    assert seen and set(seen) <= {1, 20}


def test_mutex_excludes_and_times_out(store: str) -> None:
    holder, waiter = RegistryStore(store), RegistryStore(store)
    with holder.mutex.hold(1.0), pytest.raises(MutexTimeout), waiter.mutex.hold(0.05):
        pass
    with waiter.mutex.hold(0.05):  # free again
        pass


def test_default_location_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(STORE_ENV_VAR, str(tmp_path / "env"))
    assert default_store_path() == str(tmp_path / "env")
    monkeypatch.delenv(STORE_ENV_VAR)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert default_store_path() == str(tmp_path / "rmcore")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "absent"))
    assert default_store_path().startswith(os.path.join(tempfile.gettempdir(), "rmcore-"))
    assert RegistryStore(tmp_path / "explicit").path == str(tmp_path / "explicit")


def test_value_types_are_the_winnt_codes() -> None:
    assert (RegType.REG_SZ, RegType.REG_BINARY, RegType.REG_DWORD) == (1, 3, 4)
    assert (RegType.REG_LINK, RegType.REG_MULTI_SZ, RegType.REG_QWORD) == (6, 7, 11)


def test_contended_acquisition_waits_for_the_release(store: str) -> None:
    holder, waiter = RegistryStore(store), RegistryStore(store)
    acquired = threading.Event()
    released = threading.Event()
    order: list[str] = []

    def hold_then_release() -> None:
        with holder.mutex.hold(1.0):
            acquired.set()
            released.wait(10)
            order.append("holder released")

    thread = threading.Thread(target=hold_then_release)
    thread.start()
    acquired.wait(10)
    threading.Timer(0.05, released.set).start()
    with waiter.mutex.hold(10.0):
        order.append("waiter acquired")
    thread.join()
    assert order == ["holder released", "waiter acquired"]


def test_a_timed_out_wait_does_not_keep_the_lock(store: str) -> None:
    holder, waiter = RegistryStore(store), RegistryStore(store)
    with holder.mutex.hold(1.0), pytest.raises(MutexTimeout), waiter.mutex.hold(0.02):
        pass
    # The abandoned request got the lock when the holder let go and must have dropped it:
    # a later acquisition gets it (it would time out if the abandoned one had kept it).
    with RegistryStore(store).mutex.hold(5.0):
        pass
    with waiter.mutex.hold(5.0):
        pass


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_keep_its_parents_lock(store: str) -> None:
    reg = RegistryStore(store)
    with reg.mutex.hold(1.0):
        pid = os.fork()
        if pid == 0:  # the child: would keep the lock held forever if it kept the fd
            os._exit(0 if not __import__("rmcore").registry_store._mutex._open_fds else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
