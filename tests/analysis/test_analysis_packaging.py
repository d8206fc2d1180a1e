"""The analysis subpackage is listed for the wheel (setuptools uses an explicit package list)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed() -> None:
    tomllib = pytest.importorskip("tomllib")
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"lm_eval_values." + p.parent.relative_to(REPO / "lm_eval_values").as_posix().replace("/", ".")
             for p in (REPO / "lm_eval_values").glob("*/__init__.py")}
    assert "lm_eval_values.analysis" in found
    assert found <= listed, sorted(found - listed)
