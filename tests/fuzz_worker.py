"""The child process of the fuzz suite: builds arguments from picklable specs and calls an
export of the simulated rstrtmgr.dll (or a Pythonic method), reporting what came back.

A crash kills only this process; the parent sees it and names the input. Specs are tuples
(``("int", 5)``, ``("array", "c_uint16", 3)``, ...) so that the parent never holds the
objects whose memory the call touches.
"""

from __future__ import annotations

import ctypes
import sys
import traceback
import warnings
from multiprocessing.connection import Connection
from typing import Any

import rmcore
from rmcore.win32 import RM_PROCESS_INFO, RM_UNIQUE_PROCESS, RM_WRITE_STATUS_CALLBACK

CTYPES: dict[str, Any] = {
    "c_uint8": ctypes.c_uint8,
    "c_uint16": ctypes.c_uint16,
    "c_uint32": ctypes.c_uint32,
    "c_uint64": ctypes.c_uint64,
    "c_ulong": ctypes.c_ulong,
    "c_wchar": ctypes.c_wchar,
    "c_char": ctypes.c_char,
    "c_wchar_p": ctypes.c_wchar_p,
    "c_void_p": ctypes.c_void_p,
    "RM_PROCESS_INFO": RM_PROCESS_INFO,
    "RM_UNIQUE_PROCESS": RM_UNIQUE_PROCESS,
}


class Context:
    """One simulated process with a session open (handle 0) and a world with holders."""

    def __init__(self) -> None:
        self.world = rmcore.World()
        self.world.add_process("C:\\a.exe", files=["C:\\a"])
        self.world.add_service("svc", files=["C:\\a"])
        self.sim = rmcore.Simulator(":memory:", world=self.world, mutex_timeout=0.5)
        handle = ctypes.c_uint32()
        key = ctypes.create_unicode_buffer(33)
        assert self.sim.RmStartSession(ctypes.byref(handle), 0, key) == 0
        self.key = key.value
        files = (ctypes.c_wchar_p * 1)("C:\\a")
        assert self.sim.RmRegisterResources(handle, 1, files, 0, None, 0, None) == 0
        self.keep: list[object] = []


def build(spec: Any, context: Context) -> Any:
    """The argument a spec describes (kept alive in the context for the call)."""
    kind, *rest = spec
    value: Any
    if kind == "none":
        value = None
    elif kind in ("int", "bool", "float", "str", "bytes"):
        value = rest[0]
    elif kind == "key":
        value = context.key if not rest[0] else context.key.upper()
    elif kind == "scalar":
        value = CTYPES[rest[0]](rest[1])
    elif kind == "byref":
        target = CTYPES[rest[0]]() if rest[1] is None else CTYPES[rest[0]](rest[1])
        context.keep.append(target)
        value = ctypes.byref(target)
    elif kind == "pointer":
        target = CTYPES[rest[0]]()
        context.keep.append(target)
        value = ctypes.pointer(target)
    elif kind == "array":
        element, length = CTYPES[rest[0]], rest[1]
        value = (element * length)()
        if rest[0] == "c_wchar_p":
            for index in range(length):
                value[index] = rest[2][index % len(rest[2])] if rest[2] else None
    elif kind == "unicode_buffer":
        value = ctypes.create_unicode_buffer(rest[0][: rest[1]], rest[1])  # may lack its NUL
    elif kind == "wchar_p_int":
        value = ctypes.c_wchar_p(rest[0])
    elif kind == "void_p":
        value = ctypes.c_void_p(rest[0])
    elif kind == "wchar_p_array_of_ints":
        value = (ctypes.c_void_p * len(rest[0]))(*rest[0])
    elif kind == "list":
        value = [build(item, context) for item in rest[0]]
    elif kind == "callback":
        value = _callback(rest[0], context)
    elif kind == "object":
        value = object()
    else:
        raise AssertionError(f"unknown spec {spec!r}")
    context.keep.append(value)
    return value


def _callback(behaviour: str, context: Context) -> Any:
    def raises(percent: int) -> None:
        raise KeyError(percent)

    def reenter(percent: int) -> None:
        needed, count, reasons = ctypes.c_uint32(), ctypes.c_uint32(0), ctypes.c_uint32()
        context.sim.RmGetList(
            0, ctypes.byref(needed), ctypes.byref(count), None, ctypes.byref(reasons)
        )
        context.sim.RmShutdown(0, 0, None)
        context.sim.RmCancelCurrentTask(0)

    functions = {
        "ok": lambda percent: None,
        "raises": raises,
        "wrong_arity": lambda: None,
        "reenter": reenter,
    }
    if behaviour.startswith("ctypes_"):
        return RM_WRITE_STATUS_CALLBACK(functions[behaviour[7:]])
    if behaviour == "null_ctypes":
        return RM_WRITE_STATUS_CALLBACK()
    return functions[behaviour]


ACCEPTED = (ctypes.ArgumentError,)


def run(request: tuple[str, str, Any], context: Context) -> tuple[str, Any]:
    """One call: ``("code", n)``, ``("raised", description)`` or ``("bad", traceback)``."""
    target, name, specs = request
    context.keep.clear()
    sys.unraisablehook = lambda args: None  # callbacks that raise are reported, not fatal
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rmcore.RmUsageWarning)
            if target == "dll":
                arguments = [build(spec, context) for spec in specs]
                result = getattr(context.sim, name)(*arguments)
            else:
                options = {key: build(spec, context) for key, spec in specs.items()}
                session = rmcore.Session(context.sim, 0, context.key, primary=True)
                getattr(session, name)(**options)
                result = 0
    except ctypes.ArgumentError as exc:
        return "raised", f"ArgumentError: {exc}"
    except OSError as exc:
        if str(exc).startswith("exception: access violation"):
            return "raised", f"AccessViolation: {exc}"
        return "bad", traceback.format_exc()
    except (TypeError, ValueError, rmcore.RmError) as exc:
        if target == "session":  # the Pythonic layer refuses bad input in Python terms
            return "raised", f"{type(exc).__name__}: {exc}"
        return "bad", traceback.format_exc()
    except BaseException:
        return "bad", traceback.format_exc()
    if not isinstance(result, int):
        return "bad", f"returned {result!r}"
    return "code", result


def serve(connection: Connection) -> None:
    """Answer requests until the pipe closes."""
    context = Context()
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        connection.send(run(request, context))
