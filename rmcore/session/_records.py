"""The packed forms of rmcore's own session data: table records, exit markers, log records.

A session's record (the REG_BINARY value ``SessionNNNN`` of the table key) is a header,
``<{hash}sIQIIQI``: SessionHash, owner PID, owner start FILETIME, owner instance,
sequence (bumped by each join and leave), generation (random per session), secondary
count; then one ``<IQII`` per secondary: PID, start FILETIME, instance, handle. A change
re-packs only the header and appends or cuts one secondary, leaving the rest as bytes.

Exit markers (value ``Exited``): one ``<IQI`` (PID, start, instance) per simulated process.

A resource log record, one per RmRegisterResources call that registered something:
``<QIII`` generation and the byte lengths of three REG_MULTI_SZ payloads (files;
processes as ``pppppppp:hhhhhhhh:llllllll``, lower-case as Windows writes them; services),
then the payloads, exactly as the hive's ``RegFilesNNNN``... values hold them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any, NamedTuple

from ..registry_store import RegType, RegValue
from ._keys import HASH_SIZE

__all__ = [
    "Call",
    "Header",
    "Member",
    "Proc",
    "call_generation",
    "decode_call",
    "encode_call",
    "new_record",
    "pack_procs",
    "process_entry",
    "read_header",
    "read_members",
    "read_owner",
    "references",
    "strings",
    "unpack_procs",
    "with_member",
    "with_members",
]

Proc = tuple[int, int, int]  # a simulated process: PID, start FILETIME, instance
Member = tuple[int, int, int, int]  # a secondary: PID, start FILETIME, instance, handle
Call = tuple[bytes, bytes, bytes]  # one call's REG_MULTI_SZ data: files, processes, services

_HEADER = struct.Struct(f"<{HASH_SIZE}sIQIIQI")
_MEMBER = struct.Struct("<IQII")
_PROC = struct.Struct("<IQI")
_CALL = struct.Struct("<QIII")
_U32 = 0xFFFFFFFF


class Header(NamedTuple):
    """A session record's fixed part."""

    key_hash: bytes
    pid: int
    start: int
    instance: int
    sequence: int
    generation: int
    members: int

    @property
    def owner(self) -> Proc:
        return self.pid, self.start, self.instance


def new_record(key_hash: bytes, owner: Proc, generation: int) -> bytes:
    """The record of a session just started: no secondaries, sequence 0."""
    return _HEADER.pack(key_hash, *owner, 0, generation, 0)


def _fields(data: bytes) -> tuple[Any, ...] | None:
    """The header fields of a well-formed record (its length matches its count), else None."""
    if len(data) < _HEADER.size:
        return None
    fields = _HEADER.unpack_from(data)
    return fields if len(data) == _HEADER.size + fields[6] * _MEMBER.size else None


def read_header(data: bytes) -> Header | None:
    """The header of a well-formed record, else ``None`` (junk is never trusted)."""
    fields = _fields(data)
    return None if fields is None else Header(*fields)


def read_owner(data: bytes) -> Proc | None:
    """Only the owner of a well-formed record (the hot path of a start's scan)."""
    fields = _fields(data)
    return None if fields is None else (fields[1], fields[2], fields[3])


def read_members(data: bytes, header: Header) -> list[Member]:
    return list(_MEMBER.iter_unpack(data[_HEADER.size :])) if header.members else []


def _bumped(header: Header, members: int) -> bytes:
    """The header with its sequence bumped and *members* secondaries, packed."""
    key_hash, pid, start, instance, sequence, generation, _members = header
    return _HEADER.pack(key_hash, pid, start, instance, (sequence + 1) & _U32, generation, members)


def with_members(header: Header, members: list[Member]) -> bytes:
    """The record with exactly *members* as its secondaries, its sequence bumped."""
    return _bumped(header, len(members)) + b"".join(_MEMBER.pack(*m) for m in members)


def with_member(data: bytes, header: Header, member: Member) -> bytes:
    """The record with one more secondary (the others stay as they were packed)."""
    return _bumped(header, header.members + 1) + data[_HEADER.size :] + _MEMBER.pack(*member)


def references(data: bytes, header: Header, process: Proc) -> bool:
    """Whether *process* owns this session or is one of its secondaries."""
    if header.owner == process:
        return True
    return any(member[:3] == process for member in read_members(data, header))


def pack_procs(processes: Iterable[Proc]) -> bytes:
    return b"".join(_PROC.pack(*process) for process in sorted(processes))


def unpack_procs(data: bytes) -> frozenset[Proc] | None:
    """The exit markers, or ``None`` for data that is not a list of them."""
    if len(data) % _PROC.size:
        return None
    return frozenset(_PROC.iter_unpack(data))


def process_entry(pid: int, start: int) -> str:
    """A RegProcs entry as Windows writes it: PID, FILETIME high, FILETIME low."""
    return f"{pid:08x}:{start >> 32:08x}:{start & _U32:08x}"


def _multi_sz(items: Iterable[str]) -> bytes:
    listed = list(items)
    return RegValue.multi_sz(listed).data if listed else b""


def encode_call(
    generation: int,
    files: Iterable[str],
    processes: Iterable[tuple[int, int]],
    services: Iterable[str],
) -> bytes:
    """One log record: what one RmRegisterResources call registered, as given."""
    payloads = (
        _multi_sz(files),
        _multi_sz(process_entry(pid, start) for pid, start in processes),
        _multi_sz(services),
    )
    return _CALL.pack(generation, *map(len, payloads)) + b"".join(payloads)


def call_generation(record: bytes) -> int | None:
    """The generation a record is tagged with (``None``: not a record)."""
    return _CALL.unpack_from(record)[0] if len(record) >= _CALL.size else None


def decode_call(record: bytes) -> Call | None:
    """A record's three payloads, or ``None`` if the record is malformed."""
    if len(record) < _CALL.size:
        return None
    _generation, *lengths = _CALL.unpack_from(record)
    if _CALL.size + sum(lengths) != len(record):
        return None
    payloads = []
    offset = _CALL.size
    for length in lengths:
        payload = record[offset : offset + length]
        if length % 2 or (payload and not payload.endswith(b"\0\0\0\0")):
            return None
        payloads.append(payload)
        offset += length
    return payloads[0], payloads[1], payloads[2]


def strings(payload: bytes) -> list[str]:
    """The strings of one payload."""
    return RegValue(RegType.REG_MULTI_SZ, payload).as_list() if payload else []
