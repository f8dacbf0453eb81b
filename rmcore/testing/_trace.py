"""Traces of real-DLL calls: :class:`TraceRecorder` writes them, :func:`load_trace` reads them.

A trace is JSON::

    {"format": "rmcore-trace", "version": 1,
     "recorded": {"backend", "library", "platform", "python", "rmcore", "time", "pointer_size"},
     "calls": [{"process", "function", "arguments", "outs", "result", "seconds"}, ...],
     "world": {"caller": {"pid", "ts_session"}, "apps": [...]}}

``process`` numbers the backend objects in the order they first called (each stands for one
process); ``arguments`` are the values the DLL read and ``outs`` what it wrote, as
:class:`~rmcore.RstrtmgrDLL` hands them to its recorder, with RM_PROCESS_INFO rows as plain
dicts (:data:`ROW_FIELDS`). ``world`` is what a replay needs to rebuild the machine
(:func:`build_world`): the recording process, and every app an RmGetList row showed (before
any restart), with the files its session had registered before that call.
:func:`decode_filter_list` reads a recorded RmGetFilterList buffer.
"""

from __future__ import annotations

import ctypes
import datetime
import json
import os
import platform
import struct
import sys
import threading
from collections.abc import Iterable
from typing import Any

from .. import __version__
from ..win32._exports import BY_NAME
from ..win32._types import RM_APP_STATUS, RM_APP_TYPE, RM_FILTER_TRIGGER, RM_PROCESS_INFO
from ..world._world import World

__all__ = [
    "FORMAT",
    "ROW_FIELDS",
    "VERSION",
    "Trace",
    "TraceError",
    "TraceRecorder",
    "build_world",
    "decode_filter_list",
    "derive_world",
    "load_trace",
    "plain_call",
    "validate",
]

FORMAT = "rmcore-trace"
VERSION = 1
_INVALID_TS = 0xFFFFFFFF
ROW_FIELDS = ("pid", "start_time", "app_name", "service_short_name", "app_type", "status",
              "ts_session_id", "restartable")  # fmt: skip

Trace = dict[str, Any]  # the JSON document, as loaded


class TraceError(ValueError):
    """The file is not a trace this rmcore can read (or a call in it cannot be replayed)."""


def _row(info: RM_PROCESS_INFO) -> dict[str, Any]:
    pid, start = info.Process.pair()
    values = (pid, start, info.app_name, info.service_short_name, info.ApplicationType,
              info.AppStatus, info.TSSessionId, bool(info.bRestartable))  # fmt: skip
    return dict(zip(ROW_FIELDS, values, strict=True))


def _plain(value: object) -> Any:
    """A recorder value as JSON: tuples become lists, RM_PROCESS_INFO structs dicts."""
    if isinstance(value, RM_PROCESS_INFO):
        return _row(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def plain_call(
    function: str,
    arguments: dict[str, object],
    outs: dict[str, object],
    result: int,
    seconds: float,
) -> dict[str, Any]:
    """One call as a trace holds it (without its ``process``)."""
    return {
        "function": function,
        "arguments": {name: _plain(value) for name, value in arguments.items()},
        "outs": {name: _plain(value) for name, value in outs.items()},
        "result": int(result),
        "seconds": round(float(seconds), 6),
    }


def _ts_session(pid: int) -> int | None:  # pragma: no cover - Windows only
    """The terminal-services session of *pid*, on Windows."""
    if sys.platform != "win32":
        return None
    session = ctypes.c_uint32()
    kernel32 = ctypes.WinDLL("kernel32")  # type: ignore[attr-defined,unused-ignore]
    return int(session.value) if kernel32.ProcessIdToSessionId(pid, ctypes.byref(session)) else None


class TraceRecorder:
    """A :class:`~rmcore.win32._dll.Recorder` that keeps every call, as a trace.

    Give one to several ``RstrtmgrDLL(..., recorder=...)`` objects; :meth:`save` writes the
    trace, :meth:`as_json` returns it.
    """

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._backends: list[object] = []  # index = trace process; kept alive (ids unique)
        self._lock = threading.Lock()
        self._started = datetime.datetime.now(datetime.timezone.utc)
        self._caller = {"pid": os.getpid(), "ts_session": _ts_session(os.getpid())}

    def record(
        self,
        backend: object,
        function: str,
        arguments: dict[str, object],
        outs: dict[str, object],
        result: int,
        seconds: float,
    ) -> None:
        """Called by the DLL backend after every call."""
        call = plain_call(function, arguments, outs, result, seconds)
        with self._lock:
            process = next((i for i, b in enumerate(self._backends) if b is backend), None)
            if process is None:
                process = len(self._backends)
                self._backends.append(backend)
            self.calls.append({"process": process, **call})

    def as_json(self) -> Trace:
        """The trace so far."""
        with self._lock:
            calls = list(self.calls)
            first = self._backends[0] if self._backends else None
        kind = type(first)
        return {
            "format": FORMAT,
            "version": VERSION,
            "recorded": {
                "backend": f"{kind.__module__}.{kind.__qualname__}" if first else None,
                "library": getattr(first, "path", None),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "rmcore": __version__,
                "time": self._started.isoformat(timespec="seconds"),
                "pointer_size": ctypes.sizeof(ctypes.c_void_p),
            },
            "calls": calls,
            "world": derive_world(calls, dict(self._caller)),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the trace to *path* (JSON, UTF-8)."""
        with open(path, "w", encoding="utf-8") as file:
            json.dump(self.as_json(), file, indent=1)
            file.write("\n")


def _image_path(app_name: str, modules: Iterable[str]) -> str:
    """The executable of an app: a module filter's path ending in its name, else the name."""
    wanted = app_name.casefold()
    found = (m for m in modules if m.replace("/", "\\").rsplit("\\", 1)[-1].casefold() == wanted)
    return next(found, app_name)


def derive_world(calls: list[dict[str, Any]], caller: dict[str, Any]) -> dict[str, Any]:
    """The apps the calls' RmGetList rows showed, each with the files its session had
    registered before that call (relaunched processes, status Restarted, are not new apps)."""
    files: dict[str, list[str]] = {}  # session key (lower case) -> files registered so far
    sessions: dict[tuple[int, object], str] = {}  # (process, handle) -> session key
    modules = [c["arguments"].get("strModuleName") or "" for c in calls]
    apps: dict[tuple[int, int], dict[str, Any]] = {}
    for call in calls:
        if call["result"] != 0:
            continue
        function, arguments, outs = call["function"], call["arguments"], call["outs"]
        handle = (call["process"], arguments.get("dwSessionHandle"))
        if function in ("RmStartSession", "RmJoinSession"):
            key = str((outs if function == "RmStartSession" else arguments)["strSessionKey"])
            files.setdefault(key.lower(), [])
            sessions[(call["process"], outs.get("pSessionHandle"))] = key.lower()
        elif function == "RmRegisterResources" and handle in sessions:
            files[sessions[handle]] += [f for f in arguments.get("rgsFileNames") or [] if f]
        elif function == "RmGetList":
            registered = files.get(sessions.get(handle, ""), [])
            for row in outs.get("rgAffectedApps") or []:
                if row["status"] & RM_APP_STATUS.RmStatusRestarted:
                    continue
                app = apps.setdefault((row["pid"], row["start_time"]), _world_app(row, modules))
                app["files"] += [path for path in registered if path not in app["files"]]
    return {"caller": caller, "apps": list(apps.values())}


def _world_app(row: dict[str, Any], modules: list[str]) -> dict[str, Any]:
    app = {name: row[name] for name in ROW_FIELDS if name != "status"}
    return {**app, "image_path": _image_path(row["app_name"], modules), "files": []}


def validate(trace: object) -> Trace:
    """*trace* if it is a trace of this format and version, else :class:`TraceError`."""
    if not isinstance(trace, dict) or trace.get("format") != FORMAT:
        raise TraceError(f'not an rmcore trace (expected "format": "{FORMAT}")')
    if trace.get("version") != VERSION:
        raise TraceError(
            f"trace version {trace.get('version')!r} is not supported: this rmcore "
            f"({__version__}) reads version {VERSION}"
        )
    calls, world = trace.get("calls"), trace.get("world")
    if not isinstance(calls, list) or not isinstance(world, dict):
        raise TraceError('a trace needs a "calls" list and a "world" object')
    for index, call in enumerate(calls):
        shape_ok = (
            isinstance(call, dict)
            and isinstance(call.get("process"), int)
            and call["process"] >= 0
            and call.get("function") in BY_NAME
            and isinstance(call.get("arguments"), dict)
            and isinstance(call.get("outs"), dict)
            and isinstance(call.get("result"), int)
        )
        if not shape_ok:
            raise TraceError(f"call {index} is not a recorded call: {str(call)[:200]}")
    if not isinstance(world.get("apps"), list) or not isinstance(world.get("caller"), dict):
        raise TraceError('the trace\'s "world" needs "apps" and "caller"')
    return trace


def load_trace(path: str | os.PathLike[str]) -> Trace:
    """Read a trace file; :class:`TraceError` if it cannot be read or is not one."""
    try:
        with open(path, encoding="utf-8") as file:
            document = json.load(file)
    except (OSError, ValueError) as exc:
        raise TraceError(f"cannot read the trace {os.fspath(path)!r}: {exc}") from exc
    try:
        return validate(document)
    except TraceError as exc:
        raise TraceError(f"{os.fspath(path)}: {exc}") from None


def build_world(world: dict[str, Any]) -> World:
    """The :class:`World` a trace's ``world`` describes: each app with its PID, start time,
    name, type (a service through ``add_service``), session, restartable flag and files.

    An RmCritical row of another process is an app RM may not act on: critical if the row
    shows no session, else another user's.
    """
    rebuilt = World()
    caller = world["caller"]
    for app in world["apps"]:
        behaviour: dict[str, Any] = {
            "pid": app["pid"],
            "start_time": app["start_time"],
            "files": app["files"],
            "image_path": app["image_path"],
        }
        ts_session = app["ts_session_id"] & 0xFFFFFFFF
        if app["app_type"] == RM_APP_TYPE.RmCritical and app["pid"] != caller.get("pid"):
            behaviour["critical" if ts_session == _INVALID_TS else "other_user"] = True
        if app["service_short_name"]:
            rebuilt.add_service(
                app["service_short_name"], display_name=app["app_name"], **behaviour
            )
            continue
        try:
            app_type = RM_APP_TYPE(app["app_type"])
        except ValueError:
            app_type = RM_APP_TYPE.RmUnknownApp
        rebuilt.add_process(
            name=app["app_name"],
            app_type=app_type,
            ts_session=(caller.get("ts_session") or 1) if ts_session == _INVALID_TS else ts_session,
            restartable=bool(app["restartable"]),
            **behaviour,
        )
    return rebuilt


def decode_filter_list(
    hex_text: str, pointer_size: int = ctypes.sizeof(ctypes.c_void_p), *, base: int | None = None
) -> list[dict[str, Any]]:
    """RmGetFilterList's buffer (as the trace holds it, in hex) as ``{"action", "trigger",
    "target"}`` records: a path or service name, or ``[pid, start_time]``.

    The strings' pointers are addresses in the recording process: relative to *base* (the
    buffer's recorded address) when known, else resolved inside the buffer at the first base
    address that puts every string outside the records.
    """
    data = bytes.fromhex(hex_text)
    union_at = 12 if pointer_size == 4 else 16
    header = -(-(union_at + 12) // pointer_size) * pointer_size
    records: list[dict[str, Any]] = []
    offset, seen = 0, set()
    while offset + header <= len(data) and offset not in seen:
        seen.add(offset)
        action, trigger, following = struct.unpack_from("<iiI", data, offset)
        target: Any
        if trigger == RM_FILTER_TRIGGER.RmFilterTriggerProcess:
            pid, low, high = struct.unpack_from("<III", data, offset + union_at)
            target = [pid, high << 32 | low]
        else:
            (target,) = struct.unpack_from(
                "<Q" if pointer_size == 8 else "<I", data, offset + union_at
            )
        records.append({"action": action, "trigger": trigger, "target": target, "at": offset})
        if not following:
            break
        offset += following
    headers = [(start, start + header) for start in [record.pop("at") for record in records]]
    strings = [r for r in records if r["trigger"] != RM_FILTER_TRIGGER.RmFilterTriggerProcess]
    pointers = [int(record["target"]) for record in strings]
    low = min(pointers, default=0)
    texts: list[str | None] = [None] * len(pointers)
    if base is not None:
        texts = [_text_at(data, pointer - base, headers) for pointer in pointers]
    else:
        for start in range(0, len(data), 2):
            found = [_text_at(data, pointer - low + start, headers) for pointer in pointers]
            if None not in found:
                texts = found
                break
    for record, pointer, text in zip(strings, pointers, texts, strict=True):
        record["target"] = text if text is not None else f"<{pointer:#x}: outside the buffer>"
    return records


def _text_at(data: bytes, at: int, headers: list[tuple[int, int]]) -> str | None:
    """The NUL-terminated UTF-16 string at *at*, if it lies inside *data* outside *headers*."""
    if at < 0 or any(lo <= at < hi for lo, hi in headers):
        return None
    end = at
    while end + 2 <= len(data) and data[end : end + 2] != b"\0\0":
        end += 2
    if end + 2 > len(data) or any(at < hi and lo < end + 2 for lo, hi in headers):
        return None
    return data[at:end].decode("utf-16-le", "surrogatepass")
