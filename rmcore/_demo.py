"""``rmcore demo``: Microsoft's primary/secondary installer flow, then the failure modes.

The secondary installer and the process that holds the registry mutex are real OS
processes (``python -m rmcore._demo secondary|hold``), sharing the store with the primary.
Every step prints the call, its code and the code's name; the exit status is 0 only if
every code is the one Windows documents.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
import time
import warnings

from . import winerror
from ._api import hold_registry_mutex
from ._errors import RmUsageWarning
from .win32._rstrtmgr import Simulator
from .win32._types import CCH_RM_SESSION_KEY, RM_PROCESS_INFO
from .world._world import World

__all__ = ["run_demo"]

_DEMO_MUTEX_TIMEOUT = 0.25
_SHARED_DLL = "C:\\Program Files\\Contoso\\contoso.dll"


class _Steps:
    """Prints each call with its code and remembers whether every code was as expected."""

    def __init__(self) -> None:
        self.all_as_expected = True

    def heading(self, text: str) -> None:
        print(f"\n{text}")

    def note(self, text: str) -> None:
        print(f"    {text}")

    def call(self, text: str, code: int, expected: int, extra: str = "") -> None:
        if code != expected:
            self.all_as_expected = False
            extra = f"UNEXPECTED, Windows documents {expected} {winerror.name(expected)}"
        print(f"  {text:<46} -> {code:>4} {winerror.name(code):<34} {extra}".rstrip())


def _start(sim: Simulator) -> tuple[int, ctypes.c_uint32, str]:
    handle = ctypes.c_uint32(0xFFFFFFFF)
    key = ctypes.create_unicode_buffer(CCH_RM_SESSION_KEY + 1)
    code = sim.RmStartSession(ctypes.byref(handle), 0, key)
    return code, handle, key.value


def _child(*args: str) -> list[str]:
    return [sys.executable, "-m", "rmcore._demo", *args]


def run_demo(store: str | None = None) -> int:
    """Run the walkthrough on *store* (default: a fresh temporary store); return 0 or 1."""
    with tempfile.TemporaryDirectory(prefix="rmcore-demo-") as scratch:
        return _walkthrough(store or scratch)


def _walkthrough(store: str) -> int:
    steps = _Steps()
    print("rmcore demo: the Restart Manager session model, on this OS")
    print(f"store: {store}")
    world = World()  # the simulated machine: one editor has the installer's DLL loaded
    world.add_process("C:\\Program Files\\Contoso\\editor.exe", files=[_SHARED_DLL])
    world.add_service("ContosoSvc", display_name="Contoso Service", files=[_SHARED_DLL])
    primary = Simulator(store, mutex_timeout=_DEMO_MUTEX_TIMEOUT, world=world)

    steps.heading(f"Primary installer (pid {os.getpid()})")
    code, handle, key = _start(primary)
    steps.call("RmStartSession(&hSession, 0, szKey)", code, 0, f"handle={handle.value} key={key}")

    steps.heading("Secondary installer: a separate OS process, given the key")
    child = subprocess.run(_child("secondary", store, key), capture_output=True, text=True)
    sys.stdout.write(child.stdout)
    if child.returncode != 0:
        steps.all_as_expected = False
        sys.stdout.write(child.stderr)

    steps.heading("The emulated registry key, as Windows writes it")
    for key, values in primary.sessions.hive().items():
        steps.note(key)
        for value_name, value in values.items():
            if not value_name.endswith("Hash"):  # rmcore's placeholder digests: long, opaque
                steps.note(f"  {value_name:<13} {value.display()}")

    steps.heading("Primary installer: who uses the registered file, stop them, restart them")
    needed, count, reasons = ctypes.c_uint32(), ctypes.c_uint32(0), ctypes.c_uint32()
    code = primary.RmGetList(
        handle, ctypes.byref(needed), ctypes.byref(count), None, ctypes.byref(reasons)
    )
    steps.call("RmGetList(h, &needed, &n=0, NULL, &reasons)", code, 234, f"needed={needed.value}")
    apps = (RM_PROCESS_INFO * needed.value)()
    count.value = needed.value
    code = primary.RmGetList(
        handle, ctypes.byref(needed), ctypes.byref(count), apps, ctypes.byref(reasons)
    )
    names = ", ".join(f"{app.app_name} (pid {app.Process.dwProcessId})" for app in apps)
    steps.call(f"RmGetList(h, &needed, &n={count.value}, apps, &reasons)", code, 0, names)
    progress: list[int] = []
    code = primary.RmShutdown(handle, 0, progress.append)
    steps.call("RmShutdown(h, 0, OnProgress)", code, 0, f"progress {progress}")
    code = primary.RmRestart(handle, 0, None)
    running = [str(app.pid) for app in world.apps if app.running]
    steps.call(
        "RmRestart(h, 0, NULL)",
        code,
        0,
        f"{len(running)} of {len(world.apps)} running again, new PIDs {', '.join(running)}",
    )

    steps.heading("Failure modes")
    bad = ctypes.c_uint32()
    code = primary.RmJoinSession(ctypes.byref(bad), "0" * CCH_RM_SESSION_KEY)
    steps.call('RmJoinSession(&h, "0000...0000")  unknown key', code, 1219)
    code = primary.RmJoinSession(ctypes.byref(bad), "not-a-key")
    steps.call('RmJoinSession(&h, "not-a-key")  malformed key', code, 1219)
    code = primary.RmStartSession(None, 0, ctypes.create_unicode_buffer(33))
    steps.call("RmStartSession(NULL, 0, szKey)", code, 160)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RmUsageWarning)
        code = primary.RmStartSession(ctypes.byref(bad), 0, ctypes.create_unicode_buffer(32))
    steps.call("RmStartSession(&h, 0, szKey[32])  1 short", code, 0, "Windows overruns it by 1")
    steps.note(f"rmcore wrote what fits and warned: {len(caught)} RmUsageWarning")
    if code == 0:
        primary.RmEndSession(bad)

    extra = [_start(primary) for _ in range(63)]
    codes = sorted({result[0] for result in extra}, reverse=True)
    steps.call("RmStartSession x 63 more  (64 live)", codes[0], 0, f"{len(extra)} calls")
    code, _, _ = _start(primary)
    steps.call("RmStartSession  the 65th", code, 353)

    other = Simulator(store, mutex_timeout=_DEMO_MUTEX_TIMEOUT)
    steps.call("RmEndSession  x 1 (session 64 freed)", primary.RmEndSession(extra.pop()[1]), 0)
    code, other_handle, _ = _start(other)
    steps.call("process B: RmStartSession", code, 0, f"handle={other_handle.value}")
    abandoned = other.handles()[other_handle.value].name if code == 0 else "?"
    other.terminate()
    steps.note(f"process B exits without RmEndSession: {abandoned} is abandoned")
    code, reused, _ = _start(primary)
    name = primary.handles()[reused.value].name if code == 0 else "-"
    steps.call("RmStartSession  at the limit", code, 0, f"reclaimed {name}")
    if name != abandoned:
        steps.all_as_expected = False
    for _, extra_handle, _ in [*extra, (0, reused, "")]:
        primary.RmEndSession(extra_handle)

    holder = subprocess.Popen(
        _child("hold", store), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdin is not None
    holder.stdout.readline()
    steps.note(f"process {holder.pid} now holds the registry write mutex")
    began = time.monotonic()
    code, _, _ = _start(primary)
    waited = time.monotonic() - began
    steps.call("RmStartSession", code, 121, f"gave up after {waited:.2f} s")
    code = primary.RmEndSession(handle)
    steps.call(f"RmEndSession({handle.value})", code, 121, "the session is untouched")
    holder.stdin.close()
    holder.wait()
    steps.note("the holder exits and the mutex is free again")

    steps.heading("Primary installer ends the session")
    steps.call(f"RmEndSession({handle.value})", primary.RmEndSession(handle), 0)
    steps.call(f"RmEndSession({handle.value})  again", primary.RmEndSession(handle), 6)

    verdict = "every code as documented" if steps.all_as_expected else "UNEXPECTED codes above"
    print(f"\n{verdict}")
    return 0 if steps.all_as_expected else 1


def _secondary(store: str, key: str) -> int:
    steps = _Steps()
    sim = Simulator(store, mutex_timeout=_DEMO_MUTEX_TIMEOUT)
    steps.note(f"(pid {os.getpid()})")
    handle = ctypes.c_uint32(0xFFFFFFFF)
    code = sim.RmJoinSession(ctypes.byref(handle), key)
    steps.call(f'RmJoinSession(&hSession, "{key[:8]}...")', code, 0, f"handle={handle.value}")
    files = (ctypes.c_wchar_p * 1)(_SHARED_DLL)
    code = sim.RmRegisterResources(handle, 1, files, 0, None, 0, None)
    steps.call("RmRegisterResources(h, 1, {contoso.dll}, ...)", code, 0)
    steps.call(
        f"RmEndSession({handle.value})  leaves; the session stays", sim.RmEndSession(handle), 0
    )
    return 0 if steps.all_as_expected else 1


def _hold(store: str) -> int:
    with hold_registry_mutex(store):
        print("holding", flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    role, store_arg, *rest = sys.argv[1:]
    sys.exit(_secondary(store_arg, rest[0]) if role == "secondary" else _hold(store_arg))
