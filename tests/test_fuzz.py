"""Fuzz every entry point: no input may crash, hang, or raise anything but what ctypes on
Windows raises (``ctypes.ArgumentError``; ``OSError: exception: access violation ...``).

Each call runs in a child process (tests/fuzz_worker.py), so that a segfault fails the test
with the input that caused it instead of killing the run; a call that does not answer in
time is a hang. The argument strategies come from the export table: every parameter gets
the values callers get wrong (None, bools, tiny/huge/negative ints, floats, strings, bytes,
ctypes objects of other types and sizes, pointers to small objects, lists, callbacks that
raise or re-enter).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from typing import Any

import fuzz_worker
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmcore import winerror
from rmcore.win32._exports import EXPORTS, Kind

EXAMPLES = int(os.environ.get("RMCORE_FUZZ_EXAMPLES", "250"))
TIMEOUT = 20.0  # seconds for one call: far beyond any real call (a hang otherwise)
KNOWN_CODES = set(winerror.NAMES)


class Worker:
    """A forked child answering calls; restarted after it dies."""

    def __init__(self) -> None:
        self.context = multiprocessing.get_context("fork")
        self._start()

    def _start(self) -> None:
        self.history: list[Any] = []  # since this child started (a crash may come late)
        self.parent, child = self.context.Pipe()
        self.process = self.context.Process(target=fuzz_worker.serve, args=(child,), daemon=True)
        self.process.start()
        child.close()

    def call(self, request: tuple[str, str, Any]) -> tuple[str, Any]:
        self.history.append(request)
        self.parent.send(request)
        if not self.parent.poll(TIMEOUT):
            self.process.kill()
            self.process.join()
            self._start()
            return "hang", f"no answer within {TIMEOUT} s"
        try:
            return self.parent.recv()  # type: ignore[no-any-return]
        except EOFError:
            self.process.join()
            code, history = self.process.exitcode, self.history
            self._start()
            if os.environ.get("RMCORE_FUZZ_HISTORY"):
                with open(os.environ["RMCORE_FUZZ_HISTORY"], "w") as out:
                    out.write(repr(history))
            return "crash", f"the child died (exit code {code}) after {len(history)} calls"

    def close(self) -> None:
        self.parent.close()
        self.process.join(5)


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    child = Worker()
    yield child
    child.close()


_SMALL_INTS = st.sampled_from([0, 1, -1, 2, 16, 0xFFFF, 0x10000, 0xFFFFFFFF, 2**31, 2**32 + 1])
_HUGE_INTS = st.sampled_from([2**47, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**64)])
_WIDTHS = st.sampled_from(["c_uint8", "c_uint16", "c_uint32", "c_uint64", "c_ulong"])
_SCALARS = st.one_of(
    st.just(("none",)),
    st.tuples(st.just("bool"), st.booleans()),
    st.tuples(st.just("int"), st.one_of(_SMALL_INTS, _HUGE_INTS, st.integers(-(2**70), 2**70))),
    st.tuples(st.just("float"), st.floats(allow_nan=True)),
    st.tuples(st.just("str"), st.text(max_size=40)),
    st.tuples(st.just("bytes"), st.binary(max_size=40)),
    st.tuples(st.just("scalar"), _WIDTHS, st.integers(0, 255)),
    st.just(("object",)),
)
_POINTERS = st.one_of(
    st.tuples(st.just("byref"), _WIDTHS, st.none() | st.integers(0, 70)),
    st.tuples(st.just("pointer"), st.sampled_from(["c_uint8", "c_uint32", "RM_PROCESS_INFO"])),
    st.tuples(
        st.just("array"),
        st.sampled_from(
            ["c_uint8", "c_uint16", "c_wchar", "c_char", "RM_PROCESS_INFO", "RM_UNIQUE_PROCESS"]
        ),
        st.integers(1, 40),
    ),
    st.tuples(
        st.just("array"),
        st.just("c_wchar_p"),
        st.integers(1, 3),
        st.lists(st.text(min_size=0, max_size=10), max_size=3),
    ),
    st.tuples(st.just("unicode_buffer"), st.text(max_size=40), st.integers(1, 70)),
    st.tuples(st.just("wchar_p_int"), st.one_of(_SMALL_INTS, st.integers(0x10000, 2**48))),
    st.tuples(st.just("void_p"), st.one_of(_SMALL_INTS, st.integers(0x10000, 2**48))),
    st.tuples(st.just("wchar_p_array_of_ints"), st.lists(_SMALL_INTS, min_size=1, max_size=3)),
    st.tuples(
        st.just("list"), st.lists(st.tuples(st.just("str"), st.text(max_size=5)), max_size=3)
    ),
    st.tuples(st.just("key"), st.booleans()),
)
_CALLBACKS = st.tuples(
    st.just("callback"),
    st.sampled_from(
        [
            "ok",
            "raises",
            "wrong_arity",
            "reenter",
            "ctypes_ok",
            "ctypes_raises",
            "ctypes_wrong_arity",
            "ctypes_reenter",
            "null_ctypes",
        ]
    ),
)
_COUNTS = st.one_of(st.integers(0, 4), _SMALL_INTS)
_HANDLES = st.one_of(
    st.integers(0, 3), st.tuples(st.just("scalar"), st.just("c_uint32"), st.integers(0, 3))
)


def _argument(kind: Kind, name: str) -> st.SearchStrategy[Any]:
    if kind is Kind.CALLBACK:
        return st.one_of(_CALLBACKS, _SCALARS, _POINTERS)
    if kind in (Kind.DWORD, Kind.ENUM):
        if name == "dwSessionHandle":
            return st.one_of(
                _HANDLES.map(lambda h: h if isinstance(h, tuple) else ("int", h)), _SCALARS
            )
        return st.one_of(_COUNTS.map(lambda n: ("int", n)), _SCALARS, _POINTERS)
    return st.one_of(_POINTERS, _SCALARS)


@pytest.mark.parametrize("export", EXPORTS, ids=lambda export: export.name)
def test_no_input_crashes_hangs_or_raises_out_of_an_export(worker: Worker, export: Any) -> None:
    arguments = st.tuples(*(_argument(p.kind, p.name) for p in export.params)).map(list)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(arguments)
    def check(specs: list[Any]) -> None:
        outcome, detail = worker.call(("dll", export.name, specs))
        assert outcome in ("code", "raised"), f"{export.name}{tuple(specs)}: {outcome}: {detail}"
        if outcome == "code":
            assert detail in KNOWN_CODES, f"{export.name}{tuple(specs)} returned {detail}"

    check()


def _spec(value: Any) -> Any:
    if value is None:
        return ("none",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, bytes):
        return ("bytes", value)
    if isinstance(value, (list, tuple)):
        return ("list", [_spec(item) for item in value])
    raise AssertionError(value)


_ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**65), 2**65),
    st.floats(),
    st.text(max_size=6),
    st.binary(max_size=4),
)
PYTHONIC: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "register": st.fixed_dictionaries(
        {},
        optional={
            "files": st.one_of(st.lists(_ANYTHING, max_size=3), _ANYTHING),
            "processes": st.one_of(
                st.lists(st.one_of(st.tuples(_ANYTHING, _ANYTHING), _ANYTHING), max_size=2),
                _ANYTHING,
            ),
            "services": st.one_of(st.lists(_ANYTHING, max_size=3), _ANYTHING),
        },
    ),
    "shutdown": st.fixed_dictionaries(
        {}, optional={"force": _ANYTHING, "only_registered": _ANYTHING, "progress": _ANYTHING}
    ),
    "restart": st.fixed_dictionaries({}, optional={"progress": _ANYTHING}),
    "affected_apps": st.fixed_dictionaries({}, optional={"attempts": _ANYTHING}),
    "add_filter": st.fixed_dictionaries(
        {"action": _ANYTHING},
        optional={
            "path": _ANYTHING,
            "process": st.one_of(_ANYTHING, st.tuples(_ANYTHING, _ANYTHING)),
            "service": _ANYTHING,
        },
    ),
}


@pytest.mark.parametrize("method", list(PYTHONIC))
def test_the_pythonic_layer_refuses_bad_input_in_python_terms(worker: Worker, method: str) -> None:
    """``Session.register(files=[1])``, ``shutdown(progress=5)``...: TypeError, ValueError
    or an RmError naming the argument, never a crash."""

    @settings(
        max_examples=EXAMPLES // 2,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(PYTHONIC[method])
    def check(values: dict[str, Any]) -> None:
        specs = {name: _spec(value) for name, value in values.items()}
        outcome, detail = worker.call(("session", method, specs))
        assert outcome in ("code", "raised"), f"{method}({values}): {outcome}: {detail}"

    check()


# The inputs the robustness review found crashing the interpreter, one by one.
REPORTED: list[tuple[str, str, Any]] = [
    *(
        ("dll", "RmStartSession", [v, ("int", 0), ("unicode_buffer", "", 33)])
        for v in (("bool", True), ("int", 1), ("int", -1), ("int", 2**63), ("int", 2**64))
    ),
    ("dll", "RmJoinSession", [("bool", True), ("key", False)]),
    (
        "dll",
        "RmGetList",
        [("int", 0), ("int", 1), ("byref", "c_uint32", 0), ("none",), ("byref", "c_uint32", 0)],
    ),
    ("dll", "RmGetFilterList", [("int", 0), ("int", 16), ("int", 4096), ("byref", "c_uint32", 0)]),
    (
        "dll",
        "RmRegisterResources",
        [
            ("int", 0),
            ("int", 1),
            ("wchar_p_array_of_ints", [1]),
            ("int", 0),
            ("none",),
            ("int", 0),
            ("none",),
        ],
    ),
    ("dll", "RmJoinSession", [("byref", "c_uint32", 0), ("wchar_p_int", 1)]),
    ("dll", "RmAddFilter", [("int", 0), ("wchar_p_int", 1), ("none",), ("none",), ("int", 1)]),
    (
        "dll",
        "RmGetList",
        [
            ("int", 0),
            ("byref", "c_uint32", 0),
            ("byref", "c_uint32", 64),
            ("pointer", "RM_PROCESS_INFO"),
            ("byref", "c_uint32", 0),
        ],
    ),
    ("dll", "RmShutdown", [("int", 0), ("int", 1), ("callback", "ctypes_reenter")]),
    ("dll", "RmShutdown", [("int", 0), ("int", 1), ("callback", "raises")]),
    ("dll", "RmRestart", [("int", 0), ("int", 0), ("callback", "wrong_arity")]),
    ("session", "register", {"files": ("list", [("int", 1)])}),
    ("session", "register", {"files": ("str", "C:\\one.dll")}),
    ("session", "shutdown", {"progress": ("int", 5)}),
    ("session", "shutdown", {"progress": ("bool", True)}),
    ("session", "restart", {"progress": ("int", 7)}),
]


@pytest.mark.parametrize("request_", REPORTED, ids=[f"{r[1]}-{i}" for i, r in enumerate(REPORTED)])
def test_reported_crashers(worker: Worker, request_: tuple[str, str, Any]) -> None:
    outcome, detail = worker.call(request_)
    assert outcome in ("code", "raised"), detail
