"""Determinism: the same sweep config run twice from scratch on CPU gives byte-identical
``matrix.csv``, ``items.csv`` and ``manifest.json``; the manifest records the seeds and the
package versions. (``tests/sweep/test_sweep.py`` checks that a RE-run skipping finished conditions keeps
the bytes; here both runs compute every condition.)"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.sweep.test_crash_safety import N_CONDITIONS, run_in_process, small_sweep_config


def test_same_config_twice_gives_byte_identical_tables(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = small_sweep_config(tmp_path / "cfg", tiny_model_dir)
    first = run_in_process(config, tmp_path / "run1")
    second = run_in_process(config, tmp_path / "run2")
    assert first.n_run == second.n_run == N_CONDITIONS
    a, b = tmp_path / "run1", tmp_path / "run2"
    for name in ("matrix.csv", "items.csv", "manifest.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    # the per-condition lm-eval samples agree too (same items, same log-likelihoods)
    for cond in sorted((a / "conditions").iterdir()):
        for f in sorted(cond.glob("samples_*.jsonl")):
            assert f.read_bytes() == (b / "conditions" / cond.name / f.name).read_bytes(), f
    # the scores are not trivially constant (the test could not fail otherwise)
    rows = (a / "matrix.csv").read_text().splitlines()
    assert len(rows) == N_CONDITIONS + 1 and len(set(r.split(",", 6)[6] for r in rows[1:])) > 1

    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["seeds"] == {"run_seeds": [0], "sampling_seed": 7, "role_generator_seed": 3}
    for pkg in ("lm-eval-values", "lm_eval", "torch", "transformers"):
        assert manifest["versions"].get(pkg), pkg
    assert manifest["files"]["matrix.csv"] == hashlib.sha256((a / "matrix.csv").read_bytes()).hexdigest()
    assert manifest["complete"] is True


def test_another_sampling_seed_changes_the_items(tmp_path: Path, tiny_model_dir: Path) -> None:
    """The recorded seed matters: a different sampling seed picks other items (so the equality above is
    not an accident of a seed that is ignored)."""
    c1 = small_sweep_config(tmp_path / "a", tiny_model_dir)
    c2 = small_sweep_config(tmp_path / "b", tiny_model_dir, sampling={"fraction": 0.5, "seed": 8})
    run_in_process(c1, tmp_path / "run1", max_conditions=1)
    run_in_process(c2, tmp_path / "run2", max_conditions=1)

    def items(folder: Path) -> set[int]:
        cond = next(p for p in (folder / "conditions").iterdir() if not p.name.startswith(".tmp-"))
        return set(json.loads((cond / "condition.json").read_text())["samples"]["sweeptest_values"])

    assert items(tmp_path / "run1") != items(tmp_path / "run2")
