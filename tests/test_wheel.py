"""The wheel ships the task YAMLs + utils and the steering_hooks package (built offline)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _source_copy(dest: Path) -> Path:
    """The files a build reads, copied without build leftovers (a stale ``build/`` would ship deleted modules)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("lm_eval_values", "steering_hooks", "tasks"):
        shutil.copytree(REPO / folder, dest / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    return dest


def test_wheel_contains_tasks_and_steering_hooks(tmp_path):
    src = _source_copy(tmp_path / "src")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("lm_eval_values-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "lm_eval_values/tasks/__init__.py" in names
    repo_yamls = sorted(str(p.relative_to(REPO / "tasks")) for p in (REPO / "tasks").rglob("*.yaml"))
    assert repo_yamls, "the repository has task YAMLs"
    for rel in repo_yamls:
        assert f"lm_eval_values/tasks/{rel}" in names, rel
    for rel in sorted(str(p.relative_to(REPO / "tasks")) for p in (REPO / "tasks").rglob("utils.py")):
        assert f"lm_eval_values/tasks/{rel}" in names, rel
    assert "steering_hooks/__init__.py" in names
    modules = sorted(p.relative_to(REPO).as_posix() for root in ("lm_eval_values", "steering_hooks")
                     for p in (REPO / root).rglob("*.py") if "__pycache__" not in p.parts)
    missing = [m for m in modules if m not in names]
    assert not missing, f"modules missing from the wheel (add their package to pyproject.toml): {missing}"
    shipped = sorted(n for n in names if n.endswith(".py") and not n.startswith("lm_eval_values/tasks/"))
    assert shipped == modules, sorted(set(shipped) ^ set(modules))
    assert "lm_eval_values/data/schwartz_pvq40_human.json" in names
    assert not any(n.startswith("tests/") for n in names)
    meta = next(n for n in names if n.endswith("entry_points.txt"))
    entry_points = zipfile.ZipFile(wheel).read(meta).decode()
    assert "[lm_eval.models]" in entry_points and "values_hf = lm_eval_values.model.values_hf:ValuesHFLM" in entry_points
    assert "lm-eval-values = lm_eval_values.cli:main" in entry_points
