"""Every example in the docs runs: each ```python block of the testing guide is a test
module, run here through pytester with the plugin active."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "testing-guide.md"
BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)


def test_the_guide_has_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_guide_example_runs(pytester: pytest.Pytester, index: int) -> None:
    source = BLOCKS[index]
    tests = len(re.findall(r"^def test_", source, flags=re.M))
    pytester.makepyfile(**{f"test_example_{index}": source})
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=tests)


README = GUIDE.parent.parent / "README.md"
README_BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("index", range(len(README_BLOCKS)))
def test_readme_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rmcore

    monkeypatch.setenv("RMCORE_STORE", str(tmp_path / "store"))
    monkeypatch.setattr(rmcore._backends, "_default", None)
    exec(compile(README_BLOCKS[index], f"README.md block {index}", "exec"), {})
