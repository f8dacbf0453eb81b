"""The Windows layout of any ctypes type, and conversion between it and the host's layout.

rstrtmgr.dll reads and writes the caller's memory at Windows offsets, whatever the caller's
Python types. On Windows a caller's ``c_wchar`` is 2 bytes and ``c_long``/``c_ulong``
(``wintypes.DWORD``) 4; on Linux and macOS they are 4 and 8, so the same struct class has
another size and other offsets there. rmcore emulates the DLL by building the *Windows image*
of the caller's object (the bytes it would hold on Windows), reading or writing that image at
Windows offsets, and converting the image back into the host object. Where both layouts are
the same (rmcore's own structs, ``c_uint16``/``c_uint32`` mirrors, byte buffers, and every
type on Windows itself) the image is the object's own memory.

The emulated Windows is the host's width: x64 on a 64-bit host, x86 on a 32-bit one.
"""

from __future__ import annotations

import ctypes
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["POINTER_SIZE", "Layout", "layout_of"]

POINTER_SIZE = ctypes.sizeof(ctypes.c_void_p)
_POINTER_CODE = "Q" if POINTER_SIZE == 8 else "I"

# ctypes type code -> (size on Windows, struct code there). Windows is LLP64: long is 32-bit;
# wchar_t is a 16-bit UTF-16 unit; MSVC's long double is a double.
_WINDOWS_SCALARS: dict[str, tuple[int, str]] = {
    "c": (1, "B"), "b": (1, "b"), "B": (1, "B"), "?": (1, "B"),
    "h": (2, "h"), "H": (2, "H"), "v": (2, "h"), "u": (2, "H"),
    "i": (4, "i"), "I": (4, "I"), "l": (4, "i"), "L": (4, "I"),
    "q": (8, "q"), "Q": (8, "Q"), "f": (4, "f"), "d": (8, "d"), "g": (8, "d"),
    "P": (POINTER_SIZE, _POINTER_CODE), "z": (POINTER_SIZE, _POINTER_CODE),
    "Z": (POINTER_SIZE, _POINTER_CODE), "O": (POINTER_SIZE, _POINTER_CODE),
    "X": (POINTER_SIZE, _POINTER_CODE),
}  # fmt: skip
_INTEGER_CODES = frozenset("bBhHiIlLqQ")
_HOST_INT = {(1, True): "b", (1, False): "B", (2, True): "h", (2, False): "H",
             (4, True): "i", (4, False): "I", (8, True): "q", (8, False): "Q"}  # fmt: skip
_WCHAR_HOST = ctypes.sizeof(ctypes.c_wchar)
_STRUCT_INTEGERS = frozenset("bBhHiIqQ")
_LITTLE_ENDIAN = sys.byteorder == "little"


@dataclass(frozen=True)
class _Run:
    """``count`` consecutive scalars at a Windows and a host offset."""

    win_offset: int
    host_offset: int
    count: int
    win: struct.Struct  # the whole run, Windows side ('<')
    host: struct.Struct  # the whole run, host side ('=')
    signed: bool
    text: bool  # a WCHAR array: converted as UTF-16 text

    def moved(self, win_delta: int, host_delta: int) -> _Run:
        return _Run(
            self.win_offset + win_delta,
            self.host_offset + host_delta,
            self.count,
            self.win,
            self.host,
            self.signed,
            self.text,
        )

    @property
    def same_bytes(self) -> bool:
        return self.win_offset == self.host_offset and self.win.format[1:] == self.host.format[1:]


@dataclass(frozen=True)
class Layout:
    """Size and alignment on Windows, size on the host, and how to convert one element."""

    win_size: int
    win_align: int
    host_size: int
    runs: tuple[_Run, ...]
    identical: bool  # the Windows image is the host memory, byte for byte

    @property
    def _integer_element(self) -> bool:
        """One integer scalar filling the element, on a little-endian host (every host
        rmcore runs on): whole arrays of it convert in bulk."""
        if len(self.runs) != 1 or not _LITTLE_ENDIAN:
            return False
        run = self.runs[0]
        return (
            run.count == 1
            and run.win.size == self.win_size
            and run.host.size == self.host_size
            and run.win.format[-1] in _STRUCT_INTEGERS
            and run.host.format[-1] in _STRUCT_INTEGERS
        )

    def to_windows(self, host: bytes | memoryview, count: int = 1) -> bytearray:
        """The Windows image of *count* host elements (padding bytes are zero)."""
        if self.identical:
            return bytearray(host[: self.win_size * count])
        image = bytearray(self.win_size * count)
        if count > 1 and self._integer_element and self.win_size < self.host_size:
            # A narrower Windows integer (WCHAR, DWORD): the low bytes of each host element.
            raw, step = bytes(host[: self.host_size * count]), self.host_size
            for byte in range(self.win_size):
                image[byte :: self.win_size] = raw[byte::step]
            return image
        for index in range(count):
            win_base, host_base = index * self.win_size, index * self.host_size
            for run in self.runs:
                _convert(run, host, host_base + run.host_offset, image, win_base, to_host=False)
        return image

    def to_host(self, image: bytes | bytearray, host: memoryview, count: int = 1) -> None:
        """Write *count* elements of a Windows image into host memory (a writable view)."""
        if self.identical:
            size = self.win_size * count
            host[:size] = image[:size]
            return
        if count > 1 and self._integer_element and self.win_size < self.host_size:
            # A wider host integer: every value fits, with its sign, in one struct call.
            run = self.runs[0]
            values = struct.unpack_from(f"<{count}{run.win.format[-1]}", image)
            struct.pack_into(f"={count}{run.host.format[-1]}", host, 0, *values)
            return
        for index in range(count):
            win_base, host_base = index * self.win_size, index * self.host_size
            for run in self.runs:
                _convert(run, image, win_base + run.win_offset, host, host_base, to_host=True)


def _convert(
    run: _Run,
    source: bytes | bytearray | memoryview,
    source_offset: int,
    target: bytearray | memoryview,
    target_base: int,
    *,
    to_host: bool,
) -> None:
    """Convert one run from *source* (at *source_offset*) into *target*."""
    reader, writer = (run.win, run.host) if to_host else (run.host, run.win)
    target_offset = target_base + (run.host_offset if to_host else run.win_offset)
    if run.text and to_host and _WCHAR_HOST == 4:
        raw = bytes(source[source_offset : source_offset + reader.size])
        text = raw.decode("utf-16-le", "surrogatepass").encode("utf-32-le", "surrogatepass")
        target[target_offset : target_offset + writer.size] = text.ljust(writer.size, b"\0")
        return
    if run.text and _WCHAR_HOST == 4:
        raw = bytes(source[source_offset : source_offset + reader.size])
        try:
            units = raw.decode("utf-32-le", "surrogatepass").encode("utf-16-le", "surrogatepass")
        except UnicodeError:  # not text: carry the low 16 bits of each unit
            units = b"".join(raw[i : i + 2] for i in range(0, len(raw), 4))
        target[target_offset : target_offset + writer.size] = units[: writer.size].ljust(
            writer.size, b"\0"
        )
        return
    values = reader.unpack_from(source, source_offset)
    bits = 8 * writer.size // run.count
    if run.win.format[-1] in _INTEGER_CODES and bits < 64:
        mask = (1 << bits) - 1
        half = 1 << (bits - 1)
        values = tuple(
            ((v & mask) - (1 << bits) if (v & mask) >= half else v & mask)
            if run.signed
            else v & mask
            for v in values
        )
    writer.pack_into(target, target_offset, *values)


def _scalar(code: str, host_size: int) -> tuple[int, int, tuple[_Run, ...]]:
    win_size, win_code = _WINDOWS_SCALARS[code]
    signed = win_code in "bhiq"
    if code in _INTEGER_CODES or code in "cv?":
        host_code = _HOST_INT[(host_size, signed)]
    elif code == "u":
        host_code = "H" if host_size == 2 else "I"
    elif code in "fd":
        host_code = code
    elif code == "g":
        host_code = "d"
    else:
        host_code = _POINTER_CODE
    run = _Run(
        0, 0, 1, struct.Struct("<" + win_code), struct.Struct("=" + host_code), signed, False
    )
    return win_size, win_size, (run,)


def _fields(klass: type) -> Iterator[tuple[type, tuple[object, ...]]]:
    """Each field with the class that declares it, base classes' fields first."""
    for base in reversed(klass.__mro__):
        for field in base.__dict__.get("_fields_", ()):
            yield base, tuple(field)


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def _opaque(ctype: type) -> Layout:
    size = ctypes.sizeof(ctype)
    return Layout(size, max(1, ctypes.alignment(ctype)), size, (), True)


def _compute(ctype: type) -> Layout:
    host_size = ctypes.sizeof(ctype)
    if issubclass(ctype, ctypes._SimpleCData):
        code = str(getattr(ctype, "_type_", ""))
        if code not in _WINDOWS_SCALARS or (code == "g" and host_size != 8):
            return _opaque(ctype)
        win_size, align, runs = _scalar(code, host_size)
    elif issubclass(ctype, (ctypes._Pointer, ctypes._CFuncPtr)):  # type: ignore[attr-defined]
        win_size, align, runs = _scalar("P", host_size)
    elif issubclass(ctype, ctypes.Array):
        element_type: type = getattr(ctype, "_type_")  # noqa: B009 - typed as a method in typeshed
        element = layout_of(element_type)
        length: int = getattr(ctype, "_length_")  # noqa: B009
        win_size, align = element.win_size * length, element.win_align
        if len(element.runs) == 1 and element.win_size == element.runs[0].win.size:
            run = element.runs[0]
            code_win, code_host = run.win.format[-1], run.host.format[-1]
            text = getattr(element_type, "_type_", None) == "u"
            runs = (
                _Run(
                    0,
                    0,
                    length,
                    struct.Struct(f"<{length}{code_win}"),
                    struct.Struct(f"={length}{code_host}"),
                    run.signed,
                    text,
                ),
            )
        else:
            runs = tuple(
                run.moved(i * element.win_size, i * element.host_size)
                for i in range(length)
                for run in element.runs
            )
    elif issubclass(ctype, (ctypes.Structure, ctypes.Union)):
        union = issubclass(ctype, ctypes.Union)
        pack = int(getattr(ctype, "_pack_", 0) or 0)
        offset, align = 0, 1
        collected: list[_Run] = []
        for owner, field in _fields(ctype):
            if len(field) > 2:  # bit fields: no portable conversion; assume one layout
                return _opaque(ctype)
            name, field_type = str(field[0]), field[1]
            assert isinstance(field_type, type)
            inner = layout_of(field_type)
            field_align = min(inner.win_align, pack) if pack else inner.win_align
            at = 0 if union else _round_up(offset, field_align)
            host_at = getattr(owner, name).offset
            collected.extend(run.moved(at, host_at) for run in inner.runs)
            offset = max(offset, at + inner.win_size) if union else at + inner.win_size
            align = max(align, field_align)
        win_size, runs = _round_up(offset, align), tuple(collected)
    else:
        return _opaque(ctype)
    identical = win_size == host_size and all(run.same_bytes for run in runs)
    return Layout(win_size, align, host_size, runs, identical)


_cache: dict[type, Layout] = {}


def layout_of(ctype: type) -> Layout:
    """The (cached) Windows layout of a ctypes type."""
    found = _cache.get(ctype)
    if found is None:
        found = _cache[ctype] = _compute(ctype)
    return found
