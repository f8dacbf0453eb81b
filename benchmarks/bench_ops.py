"""Per-call cost of the Win32-shaped API, as a ratio to the floor measured in the same run.

Run ``python benchmarks/bench_ops.py`` (about 30 s) or ``--quick`` (a few seconds).

For each directory (default ``/dev/shm`` and ``/tmp``: tmpfs and ext4 here) and each of 3
repetitions, a fresh store is made there and every body below is timed round-robin with
the floor (:class:`_common.Floor`, in the same directory). Only the named call is inside
the timer; the calls that set it up or undo it are not.

* ``RmStartSession`` (then ``RmEndSession``, untimed). The store also holds two sessions
  of an owner process, so a start checks another process's liveness, as it would.
* ``RmJoinSession`` on a session whose owner is **another OS process** (a child started
  for the run), then the leave (``RmEndSession`` of the secondary), each timed alone.
* ``RmEndSession`` of a primary (after an untimed start).
* ``RmRegisterResources`` of 10 files into a session just started (the first call of a
  session creates its log, as an installer's would).
* ``RmGetList`` of a session with 10 files that 3 apps of the world hold.
* join + leave of the owner's session with 10,000 files registered, against the same
  pair on its session with none (the ratio should be flat).
* ``RmGetList`` with 10,000 files registered (10 calls of 1,000), 3 apps holding some.
* The same calls on ``Simulator(":memory:")`` (no file system: µs per call).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import _common
from _common import Floor, Row, X, clock, interleaved, stats, timing

import rmcore

FILES_SMALL = 10
FILES_LARGE = 10_000
BATCH = 1_000  # files per RmRegisterResources call when registering the large set
TIMEOUT = 30.0

OWNER_CODE = r"""
import ctypes, json, sys
import rmcore
store, sizes = sys.argv[1], [int(n) for n in sys.argv[2].split(",")]
sim = rmcore.Simulator(store, mutex_timeout=30.0)
keys = []
for size in sizes:
    handle, key = ctypes.c_uint32(), ctypes.create_unicode_buffer(33)
    assert sim.RmStartSession(ctypes.byref(handle), 0, key) == 0
    for first in range(0, size, 1000):
        last = min(size, first + 1000)
        names = [f"C:\\Owner\\{size}\\lib{i:05d}.dll" for i in range(first, last)]
        array = (ctypes.c_wchar_p * len(names))(*names)
        assert sim.RmRegisterResources(handle, len(names), array, 0, None, 0, None) == 0
    keys.append(key.value)
print(json.dumps(keys), flush=True)
sys.stdin.read()  # the run is over when the parent closes our stdin
"""


def file_names(tag: str, count: int) -> list[str]:
    return [f"C:\\Program Files\\Vendor\\{tag}\\bin\\module{i:05d}.dll" for i in range(count)]


class Calls:
    """ctypes-style calls on one Simulator, with their arguments made once."""

    def __init__(self, sim: rmcore.Simulator) -> None:
        self.sim = sim
        self.handle = ctypes.c_uint32()
        self.joined = ctypes.c_uint32()
        self.key = ctypes.create_unicode_buffer(33)
        self.p_handle = ctypes.byref(self.handle)
        self.p_joined = ctypes.byref(self.joined)
        self.needed, self.count, self.reasons = (
            ctypes.c_uint32(),
            ctypes.c_uint32(),
            ctypes.c_uint32(),
        )
        self.apps = (rmcore.win32.RM_PROCESS_INFO * 8)()
        self.small = self.array(file_names("Small", FILES_SMALL))

    @staticmethod
    def array(names: list[str]) -> ctypes.Array[ctypes.c_wchar_p]:
        return (ctypes.c_wchar_p * len(names))(*names)

    def check(self, code: int, what: str) -> None:
        if code != 0:
            raise RuntimeError(f"{what} returned {code}")

    def start(self) -> tuple[int, str]:
        self.check(self.sim.RmStartSession(self.p_handle, 0, self.key), "RmStartSession")
        return self.handle.value, self.key.value

    def register(self, handle: int, names: list[str]) -> None:
        for first in range(0, len(names), BATCH):
            chunk = self.array(names[first : first + BATCH])
            code = self.sim.RmRegisterResources(handle, len(chunk), chunk, 0, None, 0, None)
            self.check(code, "RmRegisterResources")

    def get_list(self, handle: int) -> int:
        self.count.value = 8
        sim = self.sim
        return sim.RmGetList(
            handle, byref(self.needed), byref(self.count), self.apps, byref(self.reasons)
        )


byref = ctypes.byref


def bodies_for(calls: Calls, join_key: str, extra: dict[str, str]) -> dict[str, Callable[[], int]]:
    """Each body does one timed call (plus untimed set-up/undo) and returns its ns."""
    sim = calls.sim
    p_handle, key, p_joined = calls.p_handle, calls.key, calls.p_joined
    handle, joined, small = calls.handle, calls.joined, calls.small

    def start() -> int:
        began = clock()
        code = sim.RmStartSession(p_handle, 0, key)
        took = clock() - began
        calls.check(code | sim.RmEndSession(handle.value), "start/end")
        return took

    def end() -> int:
        calls.check(sim.RmStartSession(p_handle, 0, key), "RmStartSession")
        began = clock()
        code = sim.RmEndSession(handle.value)
        took = clock() - began
        calls.check(code, "RmEndSession")
        return took

    def join() -> int:
        began = clock()
        code = sim.RmJoinSession(p_joined, join_key)
        took = clock() - began
        calls.check(code | sim.RmEndSession(joined.value), "join/leave")
        return took

    def leave() -> int:
        calls.check(sim.RmJoinSession(p_joined, join_key), "RmJoinSession")
        began = clock()
        code = sim.RmEndSession(joined.value)
        took = clock() - began
        calls.check(code, "RmEndSession")
        return took

    def register() -> int:
        calls.check(sim.RmStartSession(p_handle, 0, key), "RmStartSession")
        began = clock()
        code = sim.RmRegisterResources(handle.value, FILES_SMALL, small, 0, None, 0, None)
        took = clock() - began
        calls.check(code | sim.RmEndSession(handle.value), "register/end")
        return took

    listed = int(extra["small_handle"])

    def get_list() -> int:
        began = clock()
        code = calls.get_list(listed)
        took = clock() - began
        calls.check(code, "RmGetList")
        return took

    return {
        "start": start,
        "join": join,
        "leave": leave,
        "end": end,
        "register": register,
        "getlist": get_list,
    }


def pair_body(calls: Calls, join_key: str) -> Callable[[], int]:
    sim, p_joined, joined = calls.sim, calls.p_joined, calls.joined

    def join_leave() -> int:
        began = clock()
        code = sim.RmJoinSession(p_joined, join_key) | sim.RmEndSession(joined.value)
        took = clock() - began
        calls.check(code, "join+leave")
        return took

    return join_leave


def list_body(calls: Calls, handle: int) -> Callable[[], int]:
    def get_list() -> int:
        began = clock()
        code = calls.get_list(handle)
        took = clock() - began
        calls.check(code, "RmGetList")
        return took

    return get_list


def timed(bodies: dict[str, Callable[[], int]], samples: int) -> dict[str, list[int]]:
    return interleaved(bodies, samples)


def make_world(small: list[str], large: list[str]) -> rmcore.World:
    world = rmcore.World()
    for index in range(3):
        world.add_process(
            f"C:\\Apps\\app{index}\\app{index}.exe",
            files=[small[index * 3], large[index * (len(large) - 1) // 2]],
        )
    return world


class Owner:
    """Another OS process that owns sessions of the store (0 and 10,000 files)."""

    def __init__(self, store: str, sizes: list[int]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", OWNER_CODE, store, ",".join(map(str, sizes))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_common.child_env(),
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"owner process failed (exit {self.proc.wait()})")
        self.keys: list[str] = json.loads(line)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(TIMEOUT)


def ratio(op: list[int], base: list[int]) -> dict[str, float]:
    o, b = stats(op), stats(base)
    return {
        "p50": o.p50 / b.p50,
        "p90": o.p90 / b.p90,
        "op_p50_us": o.p50 / 1e3,
        "op_p90_us": o.p90 / 1e3,
        "base_p50_us": b.p50 / 1e3,
        "base_p90_us": b.p90 / 1e3,
    }


def make_rows() -> dict[str, Row]:
    rows = [
        Row("floor", "floor: flock + read + JSON + temp write + os.replace + unlock", "-", "us"),
        Row("start", "RmStartSession / floor", f"≤ 1.2{X}", "x", 1.2),
        Row("join", "RmJoinSession, owner in another process / floor", f"≤ 1.2{X}", "x", 1.2),
        Row("leave", "RmEndSession, secondary leaves / floor", "-", "x"),
        Row("end", "RmEndSession, primary ends / floor", "-", "x"),
        Row("register", "RmRegisterResources (10 files) / floor", f"≤ 1.2{X}", "x", 1.2),
        Row("getlist", "RmGetList (10 files, 3 apps) / floor", f"≤ 1.2{X}", "x", 1.2),
        Row("flat", "join + leave, 10,000 files vs 0 files", f"≤ 1.2{X} (flat)", "x", 1.2),
        Row(
            "getlist10k",
            "RmGetList, 10,000 files (3 apps)",
            f"≤ 1.3 ms (5{X} under 6.5)",
            "ms",
            1.3,
        ),
        Row("getlist10k_ratio", "RmGetList, 10,000 files / 10 files", "O(files)", "x"),
    ]
    for name, label in MEMORY_ROWS.items():
        rows.append(Row(f"mem_{name}", f"memory store: {label}", "≤ 10 µs", "us", 10.0))
    return {row.id: row for row in rows}


MEMORY_ROWS = {
    "start": "RmStartSession",
    "join": "RmJoinSession",
    "leave": "RmEndSession (leave)",
    "end": "RmEndSession (end)",
    "register": "RmRegisterResources (10 files)",
    "getlist": "RmGetList (10 files, 3 apps)",
    "mean": "mean of the six calls",
}


def run_fs(
    label: str, base: str, reps: int, samples: int, large_samples: int, rows: dict[str, Row]
) -> None:
    directory = _common.scratch_dir(base, "rmcore-bench-ops-")
    try:
        store = os.path.join(directory, "store")
        rmcore.Simulator(store).terminate()  # make the store before the owner uses it
        owner = Owner(store, [0, FILES_LARGE])
        try:
            small, large = file_names("Small", FILES_SMALL), file_names("Large", FILES_LARGE)
            sim = rmcore.Simulator(store, world=make_world(small, large), mutex_timeout=TIMEOUT)
            calls = Calls(sim)
            small_handle, _ = calls.start()
            calls.register(small_handle, small)
            large_handle, _ = calls.start()
            calls.register(large_handle, large)
            bodies = bodies_for(calls, owner.keys[0], {"small_handle": str(small_handle)})
            for _rep in range(reps):
                floor = Floor(directory)
                got = timed({"floor": timing(floor.op), **bodies}, samples)
                fl = stats(got["floor"])
                rows["floor"].add(label, p50=fl.p50 / 1e3, p90=fl.p90 / 1e3)
                for name in ("start", "join", "leave", "end", "register", "getlist"):
                    rows[name].add(label, **ratio(got[name], got["floor"]))
                pairs = timed(
                    {
                        "none": pair_body(calls, owner.keys[0]),
                        "many": pair_body(calls, owner.keys[1]),
                        "floor": timing(floor.op),
                    },
                    samples,
                )
                rows["flat"].add(label, **ratio(pairs["many"], pairs["none"]))
                lists = timed(
                    {"large": list_body(calls, large_handle), "small": bodies["getlist"]},
                    large_samples,
                )
                big = stats(lists["large"])
                rows["getlist10k"].add(label, p50=big.p50 / 1e6, p90=big.p90 / 1e6)
                rows["getlist10k_ratio"].add(label, **ratio(lists["large"], lists["small"]))
                floor.close()
                memory(label, samples, rows)
            sim.terminate()
        finally:
            owner.close()
    finally:
        _common.remove(directory)


def memory(label: str, samples: int, rows: dict[str, Row]) -> None:
    small = file_names("Small", FILES_SMALL)
    world = make_world(small, file_names("Large", 2))
    sim = rmcore.Simulator(":memory:", world=world)
    other = Calls(rmcore.Simulator(sim.store, world=world))
    _handle, owner_key = other.start()
    calls = Calls(sim)
    small_handle, _ = calls.start()
    calls.register(small_handle, small)
    got = timed(bodies_for(calls, owner_key, {"small_handle": str(small_handle)}), samples)
    p50s, p90s = [], []
    for name in MEMORY_ROWS:
        if name == "mean":
            continue
        s = stats(got[name])
        p50s.append(s.p50)
        p90s.append(s.p90)
        rows[f"mem_{name}"].add(label, p50=s.p50 / 1e3, p90=s.p90 / 1e3)
    rows["mem_mean"].add(label, p50=sum(p50s) / len(p50s) / 1e3, p90=sum(p90s) / len(p90s) / 1e3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    _common.add_common_arguments(parser)
    args = parser.parse_args(argv)
    reps = args.reps or (1 if args.quick else 3)
    samples, large_samples = (200, 30) if args.quick else (1000, 100)
    dirs = _common.bench_dirs(args.dirs)
    rows = make_rows()
    began = time.monotonic()
    for label, base in dirs:
        run_fs(label, base, reps, samples, large_samples, rows)
    return _common.print_report(
        "Per-call cost against the floor",
        dirs,
        (
            f"{reps} repetition(s) of {samples} samples per call ({large_samples} at 10,000 "
            "files); p50 is the median of the repetitions (their range in brackets)."
        ),
        list(rows.values()),
        "bench_ops",
        began,
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
