"""Out-parameters of the neighbourhood's exports, written through :mod:`._args`.

kernel32 and psapi write their results unconditionally, without the parameter checks
rstrtmgr makes: a NULL out-pointer they write through is an access violation at address 0
(what ctypes raises on Windows), never a Python crash. Every pointer of a call is checked
before the first byte is written, so a failing call leaves the caller's memory unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import _args as args
from ._memory import AccessViolation

__all__ = ["Out", "in_out_dword", "wide", "write_all"]


Out = tuple[object, int, bytes, str]  # (argument, position, Windows image, parameter name)


def wide(text: str) -> bytes:
    """A NUL-terminated WCHAR string, as the DLL writes it."""
    return (text + "\0").encode("utf-16-le", "surrogatepass")


def write_all(outs: Sequence[Out], diagnostics: args.Diagnostics) -> None:
    """Write each image through its pointer argument, after checking them all."""
    checked = []
    for arg, position, data, name in outs:
        found = args.pointer(arg, position)
        if found is None:
            raise AccessViolation(0, writing=True)
        args.check_out(found, len(data), diagnostics, name)
        checked.append((found, data))
    for found, data in checked:
        found.region.write(data)


def in_out_dword(
    arg: object, position: int, diagnostics: args.Diagnostics, name: str
) -> args.DwordSlot:
    """A ``DWORD *`` the function reads first: NULL is an access violation reading 0."""
    slot = args.dword_slot(arg, position, diagnostics, name)
    if slot is None:
        raise AccessViolation(0, writing=False)
    return slot
