"""``--shard auto``: the shard of a job-array task from SLURM, Kubernetes or the generic variables."""

from __future__ import annotations

import json

import pytest

from lm_eval_values.core.errors import UserError
from lm_eval_values.sweep.conditions import resolve_shard, shard_from_environment
from tests.sweep.test_sweep import N_CONDITIONS, sweep_env  # noqa: F401  (module fixture)

SLURM = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "2", "SLURM_ARRAY_TASK_MAX": "9",
         "SLURM_ARRAY_TASK_COUNT": "8", "SLURM_ARRAY_JOB_ID": "4711", "SLURM_JOB_ID": "4714"}


def test_slurm_job_array_index_is_relative_to_the_array_minimum() -> None:
    assert resolve_shard("auto", SLURM) == ((3, 8), "SLURM job array ($SLURM_ARRAY_TASK_ID)")
    assert resolve_shard("auto/8", SLURM)[0] == (3, 8)
    # --array=0-14:2 -> ids 0, 2, ..., 14: shard = (id - min) / step
    stepped = {"SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_STEP": "2",
               "SLURM_ARRAY_TASK_COUNT": "8"}
    assert resolve_shard("auto", stepped)[0] == (3, 8)
    with pytest.raises(UserError, match="the scheduler says 8 shards"):
        resolve_shard("auto/4", SLURM)


def test_kubernetes_indexed_job_needs_the_count() -> None:
    k8s = {"JOB_COMPLETION_INDEX": "2"}
    with pytest.raises(UserError, match="gives this task's index \\(2\\) but not the number of shards"):
        resolve_shard("auto", k8s)
    assert resolve_shard("auto", {**k8s, "LM_EVAL_VALUES_SHARD_COUNT": "4"})[0] == (2, 4)
    assert resolve_shard("auto/4", k8s) == ((2, 4), "Kubernetes Indexed Job ($JOB_COMPLETION_INDEX)")


def test_generic_variables_win_and_are_checked() -> None:
    generic = {"LM_EVAL_VALUES_SHARD_INDEX": "1", "LM_EVAL_VALUES_SHARD_COUNT": "3"}
    assert resolve_shard("auto", {**SLURM, **generic}) == ((1, 3), "$LM_EVAL_VALUES_SHARD_INDEX")
    with pytest.raises(UserError, match="shard index 3 of 3 .* is out of range"):
        resolve_shard("auto", {**generic, "LM_EVAL_VALUES_SHARD_INDEX": "3"})
    with pytest.raises(UserError, match="not an integer"):
        shard_from_environment({"LM_EVAL_VALUES_SHARD_INDEX": "one"})
    # a SLURM list array (--array=1,3,7) is not contiguous: index 6 of 3
    with pytest.raises(UserError, match="out of range"):
        resolve_shard("auto", {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3"})


def test_auto_outside_a_job_array_is_an_error_not_a_full_run() -> None:
    with pytest.raises(UserError) as err:
        resolve_shard("auto", {"SLURM_JOB_ID": "12", "HOME": "/root"})  # a plain SLURM job, no array
    assert str(err.value).startswith("--shard: auto: not inside a job array") and "--shard i/N" in str(err.value)
    assert resolve_shard(None, {}) == ((0, 1), "") and resolve_shard("1/4", {}) == ((1, 4), "")


def test_sweep_cli_with_slurm_array_variables_then_merge(sweep_env, monkeypatch, capsys) -> None:  # noqa: F811
    """Two array tasks run `sweep CONFIG --shard auto` into one folder; `merge OUT` joins them."""
    from lm_eval_values.cli.merge import main as merge_main
    from lm_eval_values.cli.sweep import main as sweep_main

    out = sweep_env["root"] / "slurm"
    for task_id in ("10", "11"):  # sbatch --array=10-11
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", task_id)
        monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "10")
        monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
        assert sweep_main([str(sweep_env["config"]), "--shard", "auto", "--out", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "sweep: shard 0/2 from the SLURM job array" in err and "sweep: shard 1/2 from the SLURM job array" in err
    manifests = [json.loads((out / f"manifest.shard-{i}-of-2.json").read_text()) for i in range(2)]
    assert all(m["complete"] for m in manifests)
    assert merge_main([str(out)]) == 0
    merged = json.loads((out / "manifest.json").read_text())
    assert len(merged["conditions"]) == N_CONDITIONS
