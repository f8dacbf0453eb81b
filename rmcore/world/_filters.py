"""Session filters (RmAddFilter / RmRemoveFilter / RmGetFilterList) and their buffer layout.

A filter targets exactly one of: an executable's full path, a process (PID + start time) or
a service short name, and says RmNoRestart or RmNoShutdown. A later filter on the same target
replaces the earlier one (and moves to the end); when several filters match one app, the
latest wins.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass

from ..session import _fidelity
from ..win32._types import RM_FILTER_ACTION, RM_FILTER_INFO, RM_FILTER_TRIGGER
from ._world import App

__all__ = ["FilterSet", "FilterTarget", "read_filter_buffer"]

_ALIGN = ctypes.alignment(RM_FILTER_INFO)
_POINTER = ctypes.sizeof(ctypes.c_void_p)


@dataclass(frozen=True)
class FilterTarget:
    """What a filter applies to: ``value`` is a path, a service name or a (PID, start) pair."""

    trigger: RM_FILTER_TRIGGER
    value: str | tuple[int, int]

    @property
    def key(self) -> tuple[RM_FILTER_TRIGGER, str | tuple[int, int]]:
        """What makes two targets the same one: paths and service names ignore case."""
        value = self.value if isinstance(self.value, tuple) else self.value.casefold()
        return (self.trigger, value)

    def matches(self, app: App) -> bool:
        if self.trigger is RM_FILTER_TRIGGER.RmFilterTriggerProcess:
            return self.value == app.id
        if self.trigger is RM_FILTER_TRIGGER.RmFilterTriggerService:
            return app.is_service and str(self.value).lower() == app.service_name.lower()
        return _fidelity.same_path(str(self.value), app.image_path)


def _aligned(size: int) -> int:
    return (size + _ALIGN - 1) // _ALIGN * _ALIGN


class FilterSet:
    """The filters of one session, in the order they were (last) added."""

    def __init__(self) -> None:
        self._by_key: dict[object, tuple[FilterTarget, RM_FILTER_ACTION]] = {}

    def add(self, target: FilterTarget, action: RM_FILTER_ACTION) -> None:
        self._by_key.pop(target.key, None)
        self._by_key[target.key] = (target, action)

    def remove(self, target: FilterTarget) -> bool:
        return self._by_key.pop(target.key, None) is not None

    def action_for(self, app: App) -> RM_FILTER_ACTION | None:
        """The action of the latest filter that matches *app*, if any."""
        action = None
        for target, filter_action in self._by_key.values():
            if target.matches(app):
                action = filter_action
        return action

    def items(self) -> list[tuple[FilterTarget, RM_FILTER_ACTION]]:
        return list(self._by_key.values())

    # -- RmGetFilterList's buffer ------------------------------------------------------

    def _record_sizes(self) -> list[int]:
        sizes = []
        for target, _action in self._by_key.values():
            text = 0 if isinstance(target.value, tuple) else 2 * (len(target.value) + 1)
            sizes.append(_aligned(ctypes.sizeof(RM_FILTER_INFO) + text))
        return sizes

    def buffer_size(self) -> int:
        """Bytes RmGetFilterList needs for every filter."""
        return sum(self._record_sizes())

    def buffer_bytes(self, address: int) -> bytes:
        """The records as they are written to a buffer that will be at *address*.

        Layout (an rmcore decision, undocumented): each RM_FILTER_INFO is followed by its
        NUL-terminated UTF-16 string, the whole padded to pointer alignment; the union's
        string pointer points at that copy; ``cbNextOffset`` is the distance to the next
        record and 0 in the last.
        """
        header = ctypes.sizeof(RM_FILTER_INFO)
        union_at = RM_FILTER_INFO._u.offset
        sizes = self._record_sizes()
        out = bytearray()
        for index, (target, action) in enumerate(self._by_key.values()):
            record = bytearray(sizes[index])
            following = sizes[index] if index + 1 < len(sizes) else 0
            struct.pack_into("<iiI", record, 0, int(action), int(target.trigger), following)
            if isinstance(target.value, tuple):
                pid, start = target.value
                struct.pack_into("<III", record, union_at, pid, start & 0xFFFFFFFF, start >> 32)
            else:
                text = (target.value + "\0").encode("utf-16-le", "surrogatepass")
                record[header : header + len(text)] = text
                text_at = address + len(out) + header
                struct.pack_into("<Q" if _POINTER == 8 else "<I", record, union_at, text_at)
            out += record
        return bytes(out)


def read_filter_buffer(
    buffer: ctypes.Array[ctypes.c_ubyte],
) -> list[tuple[RM_FILTER_ACTION, FilterTarget]]:
    """Walk RM_FILTER_INFO records chained by ``cbNextOffset`` (any producer's layout)."""
    found: list[tuple[RM_FILTER_ACTION, FilterTarget]] = []
    offset = 0
    while offset + ctypes.sizeof(RM_FILTER_INFO) <= ctypes.sizeof(buffer):
        record = RM_FILTER_INFO.from_buffer(buffer, offset)
        trigger = RM_FILTER_TRIGGER(record.FilterTrigger)
        value: str | tuple[int, int]
        if trigger is RM_FILTER_TRIGGER.RmFilterTriggerProcess:
            start = record.Process.ProcessStartTime
            value = (record.Process.dwProcessId, (start.dwHighDateTime << 32) | start.dwLowDateTime)
        else:
            pointer = ctypes.cast(record.strFilename, ctypes.c_void_p).value or 0
            value = _utf16_at(pointer)
        found.append((RM_FILTER_ACTION(record.FilterAction), FilterTarget(trigger, value)))
        if record.cbNextOffset == 0:
            break
        offset += record.cbNextOffset
    return found


def _utf16_at(address: int) -> str:
    units: list[int] = []
    while address and (unit := ctypes.c_uint16.from_address(address + 2 * len(units)).value):
        units.append(unit)
    return b"".join(u.to_bytes(2, "little") for u in units).decode("utf-16-le", "surrogatepass")
