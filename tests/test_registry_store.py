"""The disk store: typed values round-trip, changes are atomic, failures lose nothing, the
mutex is fair and survives fork. (What both stores share: tests/store/test_store_contract.py.)"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import sys
import tempfile
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
    StoreError,
    StoreReadError,
    StoreWriteError,
    default_store_path,
)
from rmcore.registry_store._values import decode_values, encode_values

KEY = "HKCU\\Software\\Test\\Key"


LOG = "HKCU\\Software\\Test\\Log"


def key_file(store: str) -> Path:
    return Path(store, "HKCU", "Software", "Test", "Key.key")


def log_file(store: str) -> Path:
    return Path(store, "HKCU", "Software", "Test", "Log.log")


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
    assert not [n for n in os.listdir(key_file(store).parent) if ".tmp" in n]


def test_corrupt_key_file_is_a_read_error(store: str) -> None:
    reg = RegistryStore(store)
    reg.write_key(KEY, {"A": RegValue.dword(1)})
    key_file(store).write_bytes(b"torn")
    with pytest.raises(StoreReadError):
        reg.read_key(KEY)


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
            fds_closed = not __import__("rmcore").registry_store._mutex._open_fds
            holding_ended = getattr(reg._holding, "checked", None) is None  # checks resume
            os._exit(0 if fds_closed and holding_ended else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_torn_log_tail_is_not_read(store: str) -> None:
    reg = RegistryStore(store)
    for record in (b"first", b"second"):
        reg.append_record(LOG, record)
    whole = log_file(store).read_bytes()
    log_file(store).write_bytes(whole[:-3])  # the last record lost its end
    assert reg.read_records(LOG) == [b"first"]
    log_file(store).write_bytes(whole[: -len(b"second")] + b"SECOND")  # right length, bad CRC
    assert reg.read_records(LOG) == [b"first"]


def test_a_short_append_is_undone(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = RegistryStore(store)
    reg.append_record(LOG, b"kept")
    size = log_file(store).stat().st_size
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data)[:3]))
    with pytest.raises(StoreWriteError, match="short write"):
        reg.append_record(LOG, b"half of this is lost")
    monkeypatch.undo()
    assert log_file(store).stat().st_size == size
    reg.append_record(LOG, b"next")
    assert reg.read_records(LOG) == [b"kept", b"next"]


def test_a_key_folder_removed_behind_its_back_is_made_again(store: str) -> None:
    reg = RegistryStore(store)
    reg.write_key(KEY, {"A": RegValue.dword(1)})
    shutil.rmtree(Path(store, "HKCU"))  # the cached folder descriptor now names nothing
    assert reg.read_key(KEY) is None
    reg.write_key(KEY, {"A": RegValue.dword(2)})
    assert RegistryStore(store).read_key(KEY) == {"A": RegValue.dword(2)}  # where others look


def test_a_store_directory_replaced_behind_its_back_fails_every_call(
    store: str, tmp_path: Path
) -> None:
    reg = RegistryStore(store)
    reg.write_key(KEY, {"A": RegValue.dword(1)})
    os.rename(store, tmp_path / "moved")
    os.mkdir(store)
    for call in (
        lambda: reg.read_key(KEY),
        lambda: reg.write_key(KEY, {}),
        lambda: reg.mutex.hold(1.0).__enter__(),
    ):
        with pytest.raises(StoreError, match="replaced"):
            call()
    assert os.listdir(store) == [] and not reg.key_exists(KEY)  # nothing written there


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_planted_entry_at_a_key_path_is_never_read_nor_deleted(store: str) -> None:
    reg = RegistryStore(store)
    reg.write_key(KEY, {"A": RegValue.dword(1)})
    key_file(store).unlink()
    os.mkfifo(key_file(store))
    with pytest.raises(StoreReadError, match="FIFO"):
        reg.read_key(KEY)  # opened without blocking, refused after fstat
    with pytest.raises(StoreWriteError, match="left alone"):
        reg.delete_key(KEY)
    assert stat.S_ISFIFO(os.lstat(key_file(store)).st_mode)
    assert [(p.path, p.reason) for p in reg.scan()] == [
        ("HKCU/Software/Test/Key.key", "FIFO (not read)")
    ]
