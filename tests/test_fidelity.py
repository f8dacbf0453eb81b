"""docs/fidelity.md and the code agree: one decision table, every decision labelled."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path

import pytest

import rmcore
from rmcore.session import _decisions, _fidelity
from rmcore.testing import conformance

DOC = Path(__file__).resolve().parent.parent / "docs" / "fidelity.md"
BEGIN, END = "<!-- decisions:begin", "<!-- decisions:end -->"


def _generated_section(text: str) -> str:
    start = text.index("\n", text.index(BEGIN)) + 1
    return text[start : text.index(END)]


def test_the_decision_table_in_the_docs_is_generated_from_the_code() -> None:
    """Rewrite the section with RMCORE_WRITE_DOCS=1; a stale doc fails here."""
    text = DOC.read_text(encoding="utf-8")
    expected = _decisions.decisions_markdown()
    if os.environ.get("RMCORE_WRITE_DOCS"):
        start = text.index("\n", text.index(BEGIN)) + 1
        DOC.write_text(text[:start] + expected + text[text.index(END) :], encoding="utf-8")
        text = DOC.read_text(encoding="utf-8")
    assert _generated_section(text) == expected


def test_every_constant_of_the_module_is_a_decision_row() -> None:
    constants = {name for name in _fidelity.__all__ if name.isupper()}
    rows = {decision.name for decision in _decisions.DECISIONS}
    assert constants <= rows, constants - rows
    assert len(rows) == len(_decisions.DECISIONS), "a decision is listed twice"


@pytest.mark.parametrize(
    "decision", [d for d in _decisions.DECISIONS if d.test], ids=lambda d: d.name
)
def test_each_checked_decision_has_its_conformance_test_marked(
    decision: _decisions.Decision,
) -> None:
    test = getattr(conformance, str(decision.test))
    marks = [m.args[0] for m in getattr(test, "pytestmark", []) if m.name == "rm_decision"]
    assert decision.name in marks


def test_decision_rows_name_real_exports() -> None:
    from rmcore.win32._exports import BY_NAME
    from rmcore.win32._kernel32 import Kernel32
    from rmcore.win32._psapi import Psapi

    neighbours = {"kernel32": Kernel32, "psapi": Psapi}
    for decision in _decisions.DECISIONS:
        assert decision.exports, decision.name
        for export in decision.exports:
            dll, _, function = export.rpartition(".")
            assert hasattr(neighbours[dll], function) if dll else function in BY_NAME, export


def test_a_decision_constant_outside_the_module_is_where_its_row_says() -> None:
    for decision in _decisions.DECISIONS:
        if decision.name.isupper() and decision.name not in _fidelity.__all__:
            module, _, name = decision.code.rpartition(".")
            assert name == decision.name, decision.name
            assert hasattr(importlib.import_module(f"rmcore.{module}"), name), decision.code


def test_decisions_are_written_in_the_table_only() -> None:
    """A '# Decision:' comment elsewhere would be a second, drifting list."""
    package = Path(rmcore.__file__).parent
    for path in package.rglob("*.py"):
        if path.name != "_decisions.py":
            assert "# Decision:" not in path.read_text(encoding="utf-8"), path


def test_the_docs_cite_no_file_outside_the_repository() -> None:
    for path in [DOC, *DOC.parent.glob("*.md"), DOC.parent.parent / "README.md"]:
        text = path.read_text(encoding="utf-8")
        assert "shared/" not in text and not re.search(r"spec §", text), path.name
