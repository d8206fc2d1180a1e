"""The job scripts of docs/CLUSTER.md work: the SLURM array script and the merge script are run
with the variables SLURM sets for two array tasks; the Kubernetes manifests are checked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.sweep.test_sweep import N_CONDITIONS, sweep_env  # noqa: F401  (module fixture)

DOC = Path(__file__).resolve().parents[2] / "docs" / "CLUSTER.md"


def _block(name: str) -> str:
    """The fenced block that follows ``<!-- name -->`` in docs/CLUSTER.md."""
    match = re.search(rf"<!-- {re.escape(name)} -->\n```[a-z]*\n(.*?)```", DOC.read_text(), re.S)
    assert match, f"no block {name} in {DOC}"
    return match.group(1)


def test_sbatch_array_and_merge_scripts_run(sweep_env, tmp_path: Path) -> None:  # noqa: F811
    sweep_script, merge_script = tmp_path / "sweep.sbatch", tmp_path / "merge.sbatch"
    sweep_script.write_text(_block("sweep.sbatch"))
    merge_script.write_text(_block("merge.sbatch"))
    assert "#SBATCH --array=0-7" in sweep_script.read_text() and "--shard auto" in sweep_script.read_text()
    out = tmp_path / "runs"
    env = dict(os.environ, CONFIG=str(sweep_env["config"]), OUT=str(out), VENV=sys.prefix, HF_HUB_OFFLINE="1")
    for task_id in ("4", "5"):  # what SLURM sets for `sbatch --array=4-5`
        slurm = dict(env, SLURM_ARRAY_JOB_ID="77", SLURM_ARRAY_TASK_ID=task_id, SLURM_ARRAY_TASK_MIN="4",
                     SLURM_ARRAY_TASK_MAX="5", SLURM_ARRAY_TASK_COUNT="2", SLURM_ARRAY_TASK_STEP="1")
        run = subprocess.run(["bash", str(sweep_script)], env=slurm, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        assert f"sweep: shard {int(task_id) - 4}/2 from the SLURM job array" in run.stderr
    run = subprocess.run(["bash", str(merge_script)], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    merged = json.loads((out / "manifest.json").read_text())
    assert len(merged["conditions"]) == N_CONDITIONS and (out / "matrix.csv").is_file()


def test_kubernetes_indexed_job_manifests() -> None:
    job = yaml.safe_load(_block("sweep-job.yaml"))
    spec = job["spec"]
    assert job["kind"] == "Job" and spec["completionMode"] == "Indexed"
    container = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert int(env["LM_EVAL_VALUES_SHARD_COUNT"]) == spec["completions"]
    assert container["command"][:2] == ["lm-eval-values", "sweep"] and "auto" in container["command"]
    out = container["command"][container["command"].index("--out") + 1]
    merge = yaml.safe_load(_block("merge-job.yaml"))["spec"]["template"]["spec"]["containers"][0]
    assert merge["command"] == ["lm-eval-values", "merge", out]
