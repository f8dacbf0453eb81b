"""The emulated ``HKCU\\Software\\Microsoft\\RestartManager`` key, rendered as Windows writes it.

rmcore does not store this key: it is a view of the session table and the resource logs
(observed by Hunt & Hackett in their published sample). One session key holds
``Owner`` (REG_BINARY, the 12-byte RM_UNIQUE_PROCESS: PID, FILETIME low, high),
``Sequence`` (REG_DWORD, :data:`~._fidelity.SEQUENCE_AT_START` plus one per call that
registered something), per kind one REG_MULTI_SZ value per such call, numbered from 0000
(``RegFilesNNNN``, ``RegProcsNNNN``, ``RegSvcsNNNN``), the kind's hash when it has values,
and ``SessionHash``. Secondaries and every rmcore detail stay out of it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..registry_store import RegType, RegValue
from . import _fidelity
from ._identity import ProcessIdentity
from ._keys import hash_of
from ._records import Call, Header

__all__ = ["RESTART_MANAGER_KEY", "render_session"]

RESTART_MANAGER_KEY = "HKCU\\Software\\Microsoft\\RestartManager"
_KINDS = ("RegFiles", "RegProcs", "RegSvcs")


def render_session(header: Header, calls: Sequence[Call]) -> dict[str, RegValue]:
    """The values of one ``SessionNNNN`` key, from its record and its calls (in order)."""
    owner = ProcessIdentity(header.pid, header.start).to_rm_unique_process()
    values = {
        "Owner": RegValue.binary(owner),
        "Sequence": RegValue.dword(_fidelity.SEQUENCE_AT_START + len(calls)),
    }
    for index, kind in enumerate(_KINDS):
        groups = [call[index] for call in calls if call[index]]
        for number, data in enumerate(groups):
            values[f"{kind}{number:04d}"] = RegValue(RegType.REG_MULTI_SZ, data)
        if groups:
            values[f"{kind}Hash"] = RegValue.binary(hash_of(b"".join(groups)))
    values["SessionHash"] = RegValue.binary(header.key_hash)
    return values
