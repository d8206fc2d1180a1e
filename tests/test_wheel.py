"""The wheel ships the task YAMLs + utils and the steering_hooks package (built offline)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_contains_tasks_and_steering_hooks(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
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
    assert "lm_eval_values/data/schwartz_pvq40_human.json" in names
    assert not any(n.startswith("tests/") for n in names)
    meta = next(n for n in names if n.endswith("entry_points.txt"))
    entry_points = zipfile.ZipFile(wheel).read(meta).decode()
    assert "[lm_eval.models]" in entry_points and "values_hf" in entry_points
    assert "lm-eval-values = lm_eval_values.cli:main" in entry_points
