"""ctypes' Windows-only names, for hosts that lack them (provided while a patch is active).

``WinDLL``, ``OleDLL``, ``windll``, ``oledll``, ``WINFUNCTYPE``, ``HRESULT``, ``WinError``,
``FormatError``, ``GetLastError``, ``get_last_error`` and ``set_last_error`` behave as on
Windows: x64 has one calling convention, so a ``WinDLL`` is a ``CDLL``; the last error is a
per-thread value that the simulated DLLs set and ``use_last_error`` DLLs copy, as on Windows.
"""

from __future__ import annotations

import ctypes
import threading

from .. import winerror

__all__ = ["WINDOWS_ONLY", "get_last_error", "set_last_error", "set_system_error", "system_error"]

_state = threading.local()


def system_error() -> int:
    """This thread's last error, as ``GetLastError()`` returns it."""
    value: int = getattr(_state, "system", 0)
    return value


def set_system_error(code: int) -> None:
    """``SetLastError(code)``: what a simulated function does before returning failure."""
    _state.system = int(code) & 0xFFFFFFFF


def get_last_error() -> int:
    """``ctypes.get_last_error()``: ctypes' private copy, taken after each call through a
    ``use_last_error=True`` DLL."""
    value: int = getattr(_state, "private", 0)
    return value


def set_last_error(value: int) -> int:
    """``ctypes.set_last_error(value)``: set the private copy, return the old one."""
    old = get_last_error()
    _state.private = int(value) & 0xFFFFFFFF
    return old


def format_error(code: int | None = None) -> str:
    """``ctypes.FormatError``: the system message for *code* (default: the last error)."""
    if code is None:
        code = system_error()
    return winerror.MESSAGES.get(code, "<no description>")


class _WindowsOSError(OSError):
    """What ``ctypes.WinError`` returns: an OSError carrying ``winerror``."""

    winerror: int

    def __str__(self) -> str:
        return f"[WinError {self.winerror}] {self.strerror}"


def win_error(code: int | None = None, descr: str | None = None) -> OSError:
    """``ctypes.WinError``: an OSError for a Win32 code (default: the last error)."""
    if code is None:
        code = system_error()
    if descr is None:
        descr = format_error(code).strip()
    error = _WindowsOSError(None, descr)
    error.winerror = code
    return error


class WinDLL(ctypes.CDLL):
    """``ctypes.WinDLL``: a CDLL (x64 has a single calling convention)."""


class HRESULT(ctypes.c_long):
    """``ctypes.HRESULT``: a negative result raises the WinError for it, as on Windows."""

    @classmethod
    def _check_retval_(cls, result: int) -> int:
        if result < 0:
            raise win_error(result & 0xFFFFFFFF)
        return result


class OleDLL(ctypes.CDLL):
    """``ctypes.OleDLL``: functions return HRESULT, failures raise."""

    _func_restype_ = HRESULT


WINDOWS_ONLY: dict[str, object] = {
    "WinDLL": WinDLL,
    "OleDLL": OleDLL,
    "windll": ctypes.LibraryLoader(WinDLL),
    "oledll": ctypes.LibraryLoader(OleDLL),
    "WINFUNCTYPE": ctypes.CFUNCTYPE,
    "HRESULT": HRESULT,
    "WinError": win_error,
    "FormatError": format_error,
    "GetLastError": system_error,
    "get_last_error": get_last_error,
    "set_last_error": set_last_error,
}
