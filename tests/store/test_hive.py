"""The Windows-shaped view of the table: value by value against the one observed real key."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rmcore.registry_store import RegType, RegValue, Store, open_store
from rmcore.session import RESTART_MANAGER_KEY, Resources, SessionTable
from rmcore.session._fidelity import SEQUENCE_AT_START
from rmcore.session._identity import ProcessIdentity, SimulatedProcess, new_simulated_process

SESSION0 = f"{RESTART_MANAGER_KEY}\\Session0000"

# Hunt & Hackett, RestartManagerArtifacts README and its regedit screenshot of a real session:
# one session, one RmRegisterResources call with 2 files, 1 process and 1 service.
OBSERVED_OWNER = ProcessIdentity(6244, 133633322685746844)
OBSERVED_OWNER_BYTES = bytes.fromhex("64180000 9cced688 ccc2da01")
OBSERVED_FILES = (
    "C:\\Users\\user\\Documents\\MyFile.docx",
    "C:\\Users\\user\\Documents\\MyFile2.docx",
)
OBSERVED_PROCESS = (7508, 133555221488145470)  # explorer.exe
OBSERVED_PROCS_ENTRY = "00001d54:01da7bc4:2eb3143e"


@pytest.fixture(params=["memory", "disk"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return open_store(":memory:" if request.param == "memory" else str(tmp_path / "store"))


def table_on(store: Store) -> SessionTable:
    return SessionTable(store, max_sessions=64, mutex_timeout=1.0)


def test_the_observed_session_key_value_by_value(store: Store) -> None:
    table = table_on(store)
    ref, key = table.start(SimulatedProcess(OBSERVED_OWNER, 0))
    table.register(ref, Resources(OBSERVED_FILES, (OBSERVED_PROCESS,), ("WSearch",)))
    view = table.hive()
    assert list(view) == [SESSION0]
    values = view[SESSION0]
    assert values["Owner"] == RegValue(RegType.REG_BINARY, OBSERVED_OWNER_BYTES)
    assert values["Sequence"] == RegValue.dword(1)
    assert values["RegFiles0000"].type is RegType.REG_MULTI_SZ
    assert values["RegFiles0000"].as_list() == list(OBSERVED_FILES)
    assert len(values["RegFiles0000"].data) == 148  # UTF-16, each NUL-ended, one more NUL
    assert values["RegProcs0000"].as_list() == [OBSERVED_PROCS_ENTRY]
    assert values["RegSvcs0000"].as_list() == ["WSearch"]
    for kind in ("RegFiles", "RegProcs", "RegSvcs"):
        digest = values[f"{kind}Hash"]
        assert digest.type is RegType.REG_BINARY and len(digest.data) > 16  # as observed
        assert digest.data == hashlib.sha256(values[f"{kind}0000"].data).digest()
    assert values["SessionHash"] == RegValue.binary(hashlib.sha256(key).digest())
    observed_names = ["Owner", "Sequence", "SessionHash"] + [
        f"{kind}{suffix}"
        for kind in ("RegFiles", "RegProcs", "RegSvcs")
        for suffix in ("0000", "Hash")
    ]
    assert sorted(values) == sorted(observed_names)  # and nothing of rmcore's own


def test_a_fresh_session_has_owner_sequence_and_session_hash_only(store: Store) -> None:
    table = table_on(store)
    owner = new_simulated_process()
    table.start(owner)
    values = table.hive()[SESSION0]
    assert values["Sequence"] == RegValue.dword(SEQUENCE_AT_START) == RegValue.dword(0)
    assert values["Owner"].data == owner.os_process.to_rm_unique_process()
    assert sorted(values) == ["Owner", "Sequence", "SessionHash"]


def test_groups_are_numbered_per_kind_one_per_call_entries_as_given(store: Store) -> None:
    table = table_on(store)
    ref, _ = table.start(new_simulated_process())
    table.register(ref, Resources(files=("C:\\A.dll",)))
    table.register(ref, Resources(files=("c:\\a.DLL", "C:\\b"), services=("Svc",)))
    table.register(ref, Resources())  # registered nothing: no value, no Sequence step
    table.register(ref, Resources(processes=((0x1234, 0xABCDEF0123456789),)))
    values = table.hive()[SESSION0]
    assert values["Sequence"] == RegValue.dword(3)
    assert values["RegFiles0000"].as_list() == ["C:\\A.dll"]
    assert values["RegFiles0001"].as_list() == ["c:\\a.DLL", "C:\\b"]  # duplicates kept
    assert values["RegSvcs0000"].as_list() == ["Svc"]
    assert values["RegProcs0000"].as_list() == ["00001234:abcdef01:23456789"]
    assert "RegFiles0002" not in values and "RegSvcs0001" not in values
    both = values["RegFiles0000"].data + values["RegFiles0001"].data
    assert values["RegFilesHash"].data == hashlib.sha256(both).digest()
    # The API answers each resource once: names ignoring case, first-seen spelling.
    assert table.resources(ref) == Resources(
        ("C:\\A.dll", "C:\\b"), ((0x1234, 0xABCDEF0123456789),), ("Svc",)
    )


def test_joins_and_leaves_do_not_change_the_rm_key(store: Store) -> None:
    table = table_on(store)
    ref, key = table.start(new_simulated_process())
    table.register(ref, Resources(files=("C:\\x",)))
    before = table.hive()
    member = new_simulated_process()
    joined = table.join(key, member, 5)
    assert table.hive() == before
    table.register(joined, Resources(services=("FromSecondary",)))
    after = table.hive()[SESSION0]
    assert after["Sequence"] == RegValue.dword(2)
    assert after["RegSvcs0000"].as_list() == ["FromSecondary"]
    table.end(joined, member, 5)
    assert table.hive()[SESSION0] == after
    table.end(ref, new_simulated_process(), 0)
    assert table.hive() == {}


def test_regedit_style_display() -> None:
    assert RegValue.dword(1).display() == "0x00000001 (1)"
    assert RegValue.binary(OBSERVED_OWNER_BYTES).display() == "64 18 00 00 9c ce d6 88 cc c2 da 01"
    assert RegValue.multi_sz(["a", "b"]).display() == "a | b"
    assert RegValue(RegType.REG_DWORD, b"\x01").display() == "01"  # malformed: bytes
