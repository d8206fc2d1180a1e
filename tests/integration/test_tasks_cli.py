"""End to end through the real console scripts: stock ``lm_eval`` and ``lm-eval-values``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("LM_EVAL_VALUES_VALUEBENCH", None)
    env.update(HF_DATASETS_CACHE=str(tmp_path / "ds"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", **extra)
    return env


def _run(args: list[str], env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)


def test_stock_lm_eval_umbrella_group(tmp_path, tiny_model_dir) -> None:
    """`lm_eval --include_path "$(lm-eval-values tasks-dir)" --tasks values` works offline with no CSV."""
    env = _env(tmp_path)
    tdir = _run([str(BIN / "lm-eval-values"), "tasks-dir"], env).stdout.strip()
    out = _run([str(BIN / "lm_eval"), "--model", "hf", "--model_args", f"pretrained={tiny_model_dir}", "--device", "cpu",
                "--include_path", tdir, "--tasks", "values", "--limit", "2"], env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "values_schwartz_tradition" in out.stdout and "score" in out.stdout


def test_glob_run_logs_item_level_samples(tmp_path, tiny_model_dir) -> None:
    """`lm-eval-values run --tasks 'values_schwartz*'`: a glob over groups and their members, no duplicate error."""
    env = _env(tmp_path)
    out = _run([str(BIN / "lm-eval-values"), "run", "--model", "hf", "--model_args",
                f"pretrained={tiny_model_dir}", "--device", "cpu", "--tasks", "values_schwartz*", "--limit", "1",
                "--gen_kwargs", "max_gen_toks=2", "--batch_size", "64", "--output_path", str(tmp_path / "res"),
                "--log_samples"], env)
    assert out.returncode == 0, out.stderr[-3000:]
    sample_files = sorted((tmp_path / "res").rglob("samples_*.jsonl"))
    assert len(sample_files) == 50  # 10 values x 5 formats, each evaluated once
    fmts = set()
    for f in sample_files:
        for line in f.read_text().splitlines():
            doc = json.loads(line)["doc"]
            assert {"item_id", "value", "agreement", "format", "inventory"} <= set(doc)
            fmts.add(doc["format"])
    assert fmts == {"yesno", "yesno_rev", "likert", "likert_rev", "generate"}


def test_unreadable_valuebench_source_is_one_line_exit_2(tmp_path) -> None:
    env = _env(tmp_path, LM_EVAL_VALUES_VALUEBENCH=str(tmp_path / "missing.csv"))
    out = _run([str(BIN / "lm-eval-values"), "run", "--model", "dummy", "--tasks", "valuebench_vcg17", "--limit", "1"], env)
    assert out.returncode == 2
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ValueBench source") and "missing.csv" in last and "LM_EVAL_VALUES_VALUEBENCH" in last


@pytest.mark.slow
def test_all_values_tasks_glob_end_to_end(tmp_path, tiny_model_dir, valuebench_csv) -> None:
    """`lm-eval-values run --tasks 'values_*' --limit 2`: every family and format (1220 tasks)."""
    env = _env(tmp_path, LM_EVAL_VALUES_VALUEBENCH=str(valuebench_csv))
    out = _run([str(BIN / "lm-eval-values"), "run", "--model", "hf", "--model_args",
                f"pretrained={tiny_model_dir}", "--device", "cpu", "--tasks", "values_*", "--limit", "2",
                "--batch_size", "64", "--output_path", str(tmp_path / "res")], env, timeout=3600)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(next((tmp_path / "res").rglob("results_*.json")).read_text())["results"]
    for name in ("values_schwartz", "valuebench_vcg17_gen", "valuebench_pvq40_likert_rev", "valuebench_religious"):
        assert name in results
