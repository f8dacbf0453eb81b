"""Caller memory, as the DLL sees it: what a pointer argument designates, read and written
safely at Windows offsets.

A pointer argument becomes a :class:`Region`: an address, the caller's element type there
(when ctypes tells us) and how many bytes are known to belong to the caller's object. Memory
of a ctypes object is accessed directly, never past its end; memory rmcore knows nothing
about (a raw address, a pointer made from an integer) is accessed through a fault-safe copy,
so a bad address becomes what Windows' ctypes raises for an access violation,
``OSError: exception: access violation reading 0x...``, and never a crash. Addresses in the
first 64 KiB, negative or beyond user space are never touched (Windows reserves them too).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

from ._layout import Layout, layout_of

__all__ = [
    "AccessViolation",
    "Region",
    "StringSource",
    "check_address",
    "extent_of",
    "read_unknown",
    "write_unknown",
]

_FIRST_VALID = 0x10000  # Windows never maps the first 64 KiB
_LAST_VALID = (1 << 63) - 1 if ctypes.sizeof(ctypes.c_void_p) == 8 else (1 << 32) - 1
_CHUNK = 4096
_PAGE = 4096


class AccessViolation(OSError):
    """What ctypes raises on Windows when the DLL touches memory no object owns."""

    def __init__(self, address: int, writing: bool) -> None:
        verb = "writing" if writing else "reading"
        super().__init__(f"exception: access violation {verb} 0x{address & _LAST_VALID:016X}")
        self.address = address
        self.writing = writing


def check_address(address: int, writing: bool) -> None:
    """Raise :class:`AccessViolation` for an address no process can own."""
    if not _FIRST_VALID <= address <= _LAST_VALID:
        raise AccessViolation(address, writing)


# --- fault-safe copies for memory of unknown extent --------------------------------------------
class _PipeProbe:
    """Copies through a pipe: the kernel reports a bad user address as EFAULT instead of a
    signal, so an unmapped address is an error here, never a segfault (POSIX)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)
        libc = ctypes.CDLL(None, use_errno=True)
        self.c_write = libc.write
        self.c_write.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)
        self.c_write.restype = ctypes.c_ssize_t
        self.c_read = libc.read
        self.c_read.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)
        self.c_read.restype = ctypes.c_ssize_t
        self.lock = threading.Lock()

    def read(self, address: int, size: int) -> bytes:
        """Up to *size* bytes at *address*; shorter where the memory ends."""
        out = bytearray()
        with self.lock:
            while len(out) < size:
                at = address + len(out)
                step = min(size - len(out), _CHUNK, _PAGE - at % _PAGE)
                copied = self.c_write(self.write_fd, at, step)
                if copied <= 0:
                    break
                out += os.read(self.read_fd, copied)
        return bytes(out)

    def write(self, address: int, data: bytes) -> int:
        """Copy *data* to *address*; return how many bytes landed before memory ended."""
        done = 0
        with self.lock:
            while done < len(data):
                at = address + done
                step = min(len(data) - done, _CHUNK, _PAGE - at % _PAGE)
                os.write(self.write_fd, data[done : done + step])
                copied = int(self.c_read(self.read_fd, at, step))
                if copied < step:  # drain what the kernel could not place
                    _drain(self.read_fd)
                    return done + max(copied, 0)
                done += step
        return done


def _drain(fd: int) -> None:
    try:
        while os.read(fd, _CHUNK):
            pass
    except BlockingIOError:
        pass


class _WindowsProbe:  # pragma: no cover - Windows hosts
    """ReadProcessMemory/WriteProcessMemory on the own process: fault-safe by contract."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined]
        self.process = ctypes.c_void_p(kernel32.GetCurrentProcess())
        self.rpm, self.wpm = kernel32.ReadProcessMemory, kernel32.WriteProcessMemory
        for function in (self.rpm, self.wpm):
            function.argtypes = (
                ctypes.c_void_p,
                ctypes.c_void_p,
                ctypes.c_void_p,
                ctypes.c_size_t,
                ctypes.POINTER(ctypes.c_size_t),
            )

    def read(self, address: int, size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            at = address + len(out)
            step = min(size - len(out), _PAGE - at % _PAGE)
            buffer, got = ctypes.create_string_buffer(step), ctypes.c_size_t()
            if not self.rpm(self.process, at, buffer, step, ctypes.byref(got)) or not got.value:
                break
            out += buffer.raw[: got.value]
        return bytes(out)

    def write(self, address: int, data: bytes) -> int:
        done = 0
        while done < len(data):
            at = address + done
            step = min(len(data) - done, _PAGE - at % _PAGE)
            wrote = ctypes.c_size_t()
            if not self.wpm(self.process, at, data[done : done + step], step, ctypes.byref(wrote)):
                return done
            done += step
        return done


_probe: _PipeProbe | _WindowsProbe | None = None
_probe_lock = threading.Lock()


def _the_probe() -> _PipeProbe | _WindowsProbe:
    global _probe
    with _probe_lock:
        if _probe is None or _probe.pid != os.getpid():
            _probe = _WindowsProbe() if sys.platform == "win32" else _PipeProbe()
        return _probe


def read_unknown(address: int, size: int) -> bytes:
    """*size* bytes of memory rmcore knows nothing about, or :class:`AccessViolation`."""
    check_address(address, writing=False)
    data = _the_probe().read(address, size)
    if len(data) < size:
        raise AccessViolation(address + len(data), writing=False)
    return data


def write_unknown(address: int, data: bytes) -> None:
    """Write to memory rmcore knows nothing about, or raise :class:`AccessViolation`."""
    check_address(address, writing=True)
    done = _the_probe().write(address, data)
    if done < len(data):
        raise AccessViolation(address + done, writing=True)


# --- what a ctypes object owns ----------------------------------------------------------------
def extent_of(obj: Any) -> tuple[int, int] | None:
    """(start, end) of the memory a ctypes object is part of, if Python owns it: its own
    buffer, its base object's, or a buffer it was made from; ``None`` for ``from_address``."""
    base = obj
    while base._b_base_ is not None:
        base = base._b_base_
    if not base._b_needsfree_ and base._objects is None:
        return None
    start = ctypes.addressof(base)
    return start, start + ctypes.sizeof(base)


@dataclass
class StringSource:
    """Strings ctypes made from Python ``str``/``bytes`` objects (NUL-terminated, owned)."""

    addresses: frozenset[int]


@dataclass
class Region:
    """The memory a pointer argument designates.

    ``size`` is how many host bytes from ``address`` belong to the caller's object (``None``:
    unknown, accessed fault-safely); ``ctype`` is the caller's element type there (``None``:
    raw bytes, in Windows layout).
    """

    address: int
    size: int | None
    ctype: type | None

    @property
    def layout(self) -> Layout | None:
        return None if self.ctype is None else layout_of(self.ctype)

    def image_size(self) -> int | None:
        """Bytes of Windows image available: whole elements of the caller's type."""
        if self.size is None:
            return None
        layout = self.layout
        if layout is None or layout.identical:
            return self.size
        return self.size // layout.host_size * layout.win_size

    def probe(self, size: int) -> None:
        """Fail now, before anything changes, if *size* bytes here cannot be written: memory
        of unknown extent is read and written back fault-safely (an access violation)."""
        if self.size is None:
            check_address(self.address, writing=True)
            try:
                data = read_unknown(self.address, size)
            except AccessViolation as exc:
                raise AccessViolation(exc.address, writing=True) from None
            write_unknown(self.address, data)

    def read(self, size: int) -> bytes:
        """The first *size* bytes of the Windows image; past the object: access violation."""
        layout = self.layout
        if self.size is None:
            if layout is None or layout.identical:
                return read_unknown(self.address, size)
            count = -(-size // layout.win_size)
            host = read_unknown(self.address, count * layout.host_size)
            return bytes(layout.to_windows(host, count)[:size])
        available = self.image_size() or 0
        if size > available:
            raise AccessViolation(self._host_address_of(available), writing=False)
        if layout is None or layout.identical:
            return ctypes.string_at(self.address, size)
        count = -(-size // layout.win_size)
        host = ctypes.string_at(self.address, count * layout.host_size)
        return bytes(layout.to_windows(host, count)[:size])

    def write(self, data: bytes) -> int:
        """Write *data* at the start of the Windows image; return how many bytes did NOT fit
        (they are not written: the caller warns)."""
        layout = self.layout
        if self.size is None:
            if layout is None or layout.identical:
                write_unknown(self.address, data)
                return 0
            count = -(-len(data) // layout.win_size)
            original = read_unknown(self.address, count * layout.host_size)
            image = layout.to_windows(original, count)
            image[: len(data)] = data
            back = bytearray(original)
            layout.to_host(image, memoryview(back), count)
            write_unknown(self.address, bytes(back))
            return 0
        available = self.image_size() or 0
        fits = data[:available]
        if layout is None or layout.identical:
            ctypes.memmove(self.address, fits, len(fits))
            return len(data) - len(fits)
        count = -(-len(fits) // layout.win_size)
        if count:
            view = (ctypes.c_char * (count * layout.host_size)).from_address(self.address)
            host = memoryview(view).cast("B")
            image = layout.to_windows(host, count)
            image[: len(fits)] = fits
            layout.to_host(image, host, count)
        return len(data) - len(fits)

    def _host_address_of(self, image_offset: int) -> int:
        layout = self.layout
        if layout is None or layout.identical:
            return self.address + image_offset
        return self.address + image_offset // layout.win_size * layout.host_size
