"""Typed registry values, and the disk encodings of a key's value set and of a log record.

A value is kept as the registry keeps it: a type code and the raw little-endian bytes
(REG_SZ is UTF-16-LE with its NUL, REG_MULTI_SZ a NUL-separated list ending in an empty
string). That makes every type round-trip exactly, whatever Python type it is read back as.
Both encodings carry a CRC, so a reader rejects torn or foreign bytes instead of guessing.
"""

from __future__ import annotations

import enum
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "CorruptKeyError",
    "Entries",
    "RegType",
    "RegValue",
    "decode_entries",
    "decode_values",
    "encode_entries",
    "encode_values",
    "frame_record",
    "unframe",
    "unframe_records",
]


class RegType(enum.IntEnum):
    """Registry value types (winnt.h values)."""

    REG_SZ = 1
    REG_BINARY = 3
    REG_DWORD = 4
    REG_LINK = 6
    REG_MULTI_SZ = 7
    REG_QWORD = 11


class CorruptKeyError(ValueError):
    """A key file that does not decode: torn, truncated or foreign."""


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def _from_utf16(data: bytes) -> str:
    return data.decode("utf-16-le", "surrogatepass")


@dataclass(frozen=True)
class RegValue:
    """One registry value: its type and its raw data bytes."""

    type: RegType
    data: bytes

    @classmethod
    def dword(cls, number: int) -> RegValue:
        return cls(RegType.REG_DWORD, struct.pack("<I", number))

    @classmethod
    def qword(cls, number: int) -> RegValue:
        return cls(RegType.REG_QWORD, struct.pack("<Q", number))

    @classmethod
    def binary(cls, data: bytes) -> RegValue:
        return cls(RegType.REG_BINARY, bytes(data))

    @classmethod
    def sz(cls, text: str) -> RegValue:
        return cls(RegType.REG_SZ, _utf16(text + "\0"))

    @classmethod
    def multi_sz(cls, items: Sequence[str]) -> RegValue:
        if any("\0" in item or item == "" for item in items):
            raise ValueError("REG_MULTI_SZ items must be non-empty and contain no NUL")
        return cls(RegType.REG_MULTI_SZ, _utf16("".join(item + "\0" for item in items) + "\0"))

    def as_int(self) -> int:
        """The number held by a REG_DWORD or REG_QWORD."""
        if self.type is RegType.REG_DWORD:
            return int(struct.unpack("<I", self.data)[0])
        if self.type is RegType.REG_QWORD:
            return int(struct.unpack("<Q", self.data)[0])
        raise TypeError(f"{self.type.name} is not a number")

    def as_str(self) -> str:
        """The text of a REG_SZ or REG_LINK, without its terminating NUL."""
        if self.type not in (RegType.REG_SZ, RegType.REG_LINK):
            raise TypeError(f"{self.type.name} is not a string")
        return _from_utf16(self.data).rstrip("\0")

    def as_list(self) -> list[str]:
        """The strings of a REG_MULTI_SZ."""
        if self.type is not RegType.REG_MULTI_SZ:
            raise TypeError(f"{self.type.name} is not a string list")
        return [item for item in _from_utf16(self.data).split("\0") if item]

    def display(self) -> str:
        """The data as regedit shows it (hex bytes, ``0x.. (n)``, strings)."""
        try:
            if self.type in (RegType.REG_DWORD, RegType.REG_QWORD):
                number = self.as_int()
                return f"0x{number:0{2 * len(self.data)}x} ({number})"
            if self.type in (RegType.REG_SZ, RegType.REG_LINK):
                return self.as_str()
            if self.type is RegType.REG_MULTI_SZ:
                return " | ".join(self.as_list())
        except (struct.error, UnicodeDecodeError):
            pass  # malformed data: shown as bytes
        return " ".join(f"{byte:02x}" for byte in self.data)


_TYPES = {int(member): member for member in RegType}  # faster than RegType(code)
_MAGIC = b"RMK1"
_HEADER = struct.Struct("<4sI")
_ENTRY = struct.Struct("<HII")  # name length (UTF-16 units), type, data length
_CRC = struct.Struct("<I")


# A key's entries mostly repeat from one write of it to the next (a session table changes
# one record per operation). A store that keeps a key's last version passes its entries
# (each value with its encoded bytes) to the next encoding, which encodes only the values
# that are not the very objects it had; decoding remembers entries it met (bounded), so a
# version another process wrote decodes only what changed.
Entries = dict[str, tuple[RegValue, bytes]]  # value name -> (value, its encoded entry)
_MEMO_SIZE = 1024
_decoded: dict[bytes, tuple[str, RegValue]] = {}


def _segment(value_name: str, value: RegValue) -> bytes:
    raw_name = _utf16(value_name)
    return _ENTRY.pack(len(raw_name) // 2, value.type, len(value.data)) + raw_name + value.data


def encode_values(values: Mapping[str, RegValue]) -> bytes:
    """Serialize a key's values; a CRC over the whole lets a reader reject torn data."""
    return encode_entries(values)[0]


def encode_entries(
    values: Mapping[str, RegValue], previous: Entries | None = None
) -> tuple[bytes, Entries]:
    """:func:`encode_values`, and the entries of what it encoded (for the next call's
    *previous*: a value found there as the same object is not encoded again)."""
    entries: Entries = {}
    parts = [_HEADER.pack(_MAGIC, len(values))]
    for value_name, value in values.items():
        known = previous.get(value_name) if previous else None
        segment = known[1] if known is not None and known[0] is value else None
        if segment is None:
            segment = _segment(value_name, value)
        entries[value_name] = (value, segment)
        parts.append(segment)
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body)), entries


def decode_values(blob: bytes) -> dict[str, RegValue]:
    """Parse what :func:`encode_values` wrote; raise :class:`CorruptKeyError` on anything else."""
    return {name: entry[0] for name, entry in decode_entries(blob).items()}


def decode_entries(blob: bytes) -> Entries:
    """:func:`decode_values`, as entries (each value with its encoded bytes)."""
    if len(blob) < _HEADER.size + _CRC.size:
        raise CorruptKeyError("key file too short")
    body, (crc,) = blob[: -_CRC.size], _CRC.unpack(blob[-_CRC.size :])
    if zlib.crc32(body) != crc:
        raise CorruptKeyError("key file checksum mismatch")
    magic, count = _HEADER.unpack_from(body, 0)
    if magic != _MAGIC:
        raise CorruptKeyError("not a registry key file")
    entries: Entries = {}
    offset = _HEADER.size
    try:
        for _ in range(count):
            name_units, type_code, data_len = _ENTRY.unpack_from(body, offset)
            end = offset + _ENTRY.size + 2 * name_units + data_len
            if end > len(body):
                raise CorruptKeyError("truncated entry in key file")
            segment = body[offset:end]
            memo = _decoded.get(segment)
            if memo is None:
                name_end = _ENTRY.size + 2 * name_units
                value_name = _from_utf16(segment[_ENTRY.size : name_end])
                memo = (value_name, RegValue(_TYPES[type_code], segment[name_end:]))
                if len(_decoded) >= _MEMO_SIZE:
                    _decoded.clear()
                _decoded[segment] = memo
            entries[memo[0]] = (memo[1], segment)
            offset = end
    except (struct.error, ValueError, KeyError) as exc:
        raise CorruptKeyError(f"malformed key file: {exc}") from exc
    if offset != len(body):
        raise CorruptKeyError("trailing bytes in key file")
    return entries


_FRAME = struct.Struct("<II")  # payload length, CRC-32 of the payload


def frame_record(record: bytes) -> bytes:
    """One log record as it is appended: length and CRC, then the bytes."""
    return _FRAME.pack(len(record), zlib.crc32(record)) + record


def unframe_records(blob: bytes) -> list[bytes]:
    """The records of a log, up to the first torn or damaged one (the rest is not trusted)."""
    return unframe(blob)[0]


def unframe(blob: bytes, offset: int = 0) -> tuple[list[bytes], int]:
    """The records of a log from *offset* on, up to the first torn or damaged one, and
    the offset just past the last record taken."""
    records = []
    while offset + _FRAME.size <= len(blob):
        length, crc = _FRAME.unpack_from(blob, offset)
        start = offset + _FRAME.size
        record = blob[start : start + length]
        if len(record) != length or zlib.crc32(record) != crc:
            break
        records.append(record)
        offset = start + length
    return records, offset
