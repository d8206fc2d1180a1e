"""The condition sweep on the tiny fixture model.

A tiny value task (3 values x 4 items, yes/no log-likelihood) lives in a temporary task folder;
the sweep runs 3 roles x 3 steering settings (none, a random vector, a value-definition prompt)
through the real ``values_hf`` model and ``lm_eval.simple_evaluate``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

TASK_YAML = """task: sweeptest_values
custom_dataset: !function utils.load_docs
output_type: multiple_choice
test_split: test
doc_to_text: "Question: {{question}}\\nAnswer:"
doc_to_choice: ["yes", "no"]
doc_to_target: 0
process_results: !function utils.process
metric_list:
  - metric: score
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1
"""

TASK_UTILS = '''import math
VALUES = ["Power", "Benevolence", "Tradition"]
QUESTIONS = ["Should I seek {}?", "Is {} important to me?", "Should I avoid {}?", "Do I like {}?"]


def load_docs(**kwargs):
    import datasets
    rows = []
    for v in VALUES:
        for j, q in enumerate(QUESTIONS):
            rows.append({"item_id": f"{v[:3].lower()}{j}", "value": v, "agreement": -1 if j == 2 else 1,
                         "format": "yesno", "inventory": "sweeptest", "question": q.format(v.lower())})
    return {"test": datasets.Dataset.from_list(rows)}


def process(doc, results):
    ly, ln = results[0][0], results[1][0]
    m = max(ly, ln)
    py, pn = math.exp(ly - m), math.exp(ln - m)
    return {"score": doc["agreement"] * (py - pn) / (py + pn)}
'''

N_CONDITIONS = 9


def write_task(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sweeptest.yaml").write_text(TASK_YAML)
    (folder / "utils.py").write_text(TASK_UTILS)
    return folder


@pytest.fixture(scope="module")
def sweep_env(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Path]:
    """Task folder, a steering vector and a config file (3 roles x 3 settings)."""
    import numpy as np

    root = tmp_path_factory.mktemp("sweep")
    tasks = write_task(root / "tasks")
    np.save(root / "vec.npy", np.random.default_rng(0).standard_normal(64).astype("float32"))
    cfg = {
        "model": "values_hf",
        "model_args": {"pretrained": str(tiny_model_dir)},
        "tasks": ["sweeptest_values"],
        "include_path": [str(tasks)],
        "roles": {"generate": {"train": 3, "test": 0, "seed": 1}, "no_role": False},
        "steering": [
            {"type": "none"},
            {"type": "vector", "id": "rnd", "vector": "vec.npy", "layer": 1, "coefficients": [4],
             "positions": "prompt"},
            {"type": "prompt", "values": ["Power"], "directions": ["inclined"]},
        ],
        "sampling": {"fraction": 0.5, "seed": 0},
        "seeds": [0],
        "batch_size": 4,
        "output_dir": "out",
    }
    path = root / "sweep.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return {"root": root, "config": path, "tasks": tasks}


@pytest.fixture(scope="module")
def full_run(sweep_env: dict[str, Path]) -> Path:
    """An uninterrupted, unsharded run (in-process)."""
    from lm_eval_values.sweep.run import run_sweep
    from lm_eval_values.sweep.config import load_config

    out = sweep_env["root"] / "full"
    summary = run_sweep(load_config(sweep_env["config"]), out=out, progress=False)
    assert summary.n_run == N_CONDITIONS and summary.n_skipped == 0
    return out


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "lm_eval_values.cli", *args]


def test_full_run_outputs(full_run: Path) -> None:
    import pandas as pd

    matrix = pd.read_csv(full_run / "matrix.csv", keep_default_na=False)
    assert list(matrix.columns) == ["condition_id", "role_id", "split", "steering_id", "coefficient", "seed",
                                    "Power", "Benevolence", "Tradition"]
    assert len(matrix) == N_CONDITIONS
    assert matrix["condition_id"].is_unique
    assert list(matrix["role_id"]) == [r for r in ("train-000", "train-001", "train-002") for _ in range(3)]
    assert list(matrix["steering_id"])[:3] == ["none", "rnd", "prompt:Power"]
    assert list(matrix["coefficient"])[:3] == [0, 4, 1]
    for v in ("Power", "Benevolence", "Tradition"):
        assert matrix[v].between(-1, 1).all()
    # the vector steering and the roles change the scores
    assert matrix.loc[0, "Power"] != matrix.loc[1, "Power"]
    assert matrix["Power"].nunique() > 3
    items = pd.read_csv(full_run / "items.csv", keep_default_na=False)
    assert len(items) == N_CONDITIONS * 6  # 50% of 4 items x 3 values
    # a value score is the mean of its item scores (to the 6 printed decimals)
    first = items[items["condition_id"] == matrix.loc[0, "condition_id"]]
    assert abs(first[first["value"] == "Power"]["score"].mean() - matrix.loc[0, "Power"]) < 2e-6
    # the same items for every steering setting of a role, different items across roles
    by_cond = items.groupby("condition_id")["item_id"].apply(lambda s: tuple(sorted(s)))
    ids = list(matrix["condition_id"])
    assert by_cond[ids[0]] == by_cond[ids[1]] == by_cond[ids[2]]
    assert len({by_cond[ids[0]], by_cond[ids[3]], by_cond[ids[6]]}) > 1
    manifest = json.loads((full_run / "manifest.json").read_text())
    assert manifest["complete"] is True
    for pkg in ("lm-eval-values", "lm_eval", "torch", "transformers"):
        assert manifest["versions"][pkg]
    assert manifest["seeds"] == {"run_seeds": [0], "sampling_seed": 0, "role_generator_seed": 1}
    assert manifest["files"]["matrix.csv"] == __import__("hashlib").sha256(
        (full_run / "matrix.csv").read_bytes()).hexdigest()
    assert [c["condition_id"] for c in manifest["conditions"]] == ids
    cond = json.loads((full_run / "conditions" / ids[1] / "condition.json").read_text())
    assert cond["model_condition"]["steer"]["name"] == "rnd"
    assert cond["model_condition"]["receipt"]["interventions"][0]["positions_steered"] > 0
    assert (full_run / "conditions" / ids[1] / "results.json").is_file()
    assert (full_run / "conditions" / ids[1] / "samples_sweeptest_values.jsonl").is_file()


def test_rerun_skips_everything_and_is_byte_identical(full_run: Path, sweep_env: dict[str, Path]) -> None:
    from lm_eval_values.sweep.run import run_sweep
    from lm_eval_values.sweep.config import load_config

    before = (full_run / "matrix.csv").read_bytes()
    summary = run_sweep(load_config(sweep_env["config"]), out=full_run, progress=False)
    assert summary.n_run == 0 and summary.n_skipped == N_CONDITIONS
    assert (full_run / "matrix.csv").read_bytes() == before


def test_sigkill_mid_run_then_resume_gives_identical_matrix(full_run: Path, sweep_env: dict[str, Path]) -> None:
    out = sweep_env["root"] / "killed"
    cdir = out / "conditions"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(_cli("sweep", str(sweep_env["config"]), "--out", str(out), "--no-progress"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, env=env)
    deadline = time.time() + 240
    finished: list[Path] = []
    try:
        while time.time() < deadline and proc.poll() is None:
            finished = sorted(p for p in cdir.glob("*/condition.json")) if cdir.is_dir() else []
            if len(finished) >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep ended before it could be killed: " + proc.stderr.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    done = sorted(p for p in cdir.glob("*/condition.json"))
    assert 3 <= len(done) < N_CONDITIONS
    assert not (out / "matrix.csv").exists()  # tables are written only at the end
    stamps = {p.parent.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in done}
    # resume (in-process, to keep the test fast; the CLI path is the same run_sweep)
    from lm_eval_values.sweep.run import run_sweep
    from lm_eval_values.sweep.config import load_config

    summary = run_sweep(load_config(sweep_env["config"]), out=out, progress=False)
    assert summary.n_skipped == len(done)
    assert summary.n_run == N_CONDITIONS - len(done)
    assert not set(summary.computed) & set(stamps)
    for name, stamp in stamps.items():  # finished conditions were not recomputed
        p = cdir / name / "condition.json"
        assert (p.stat().st_ino, p.stat().st_mtime_ns) == stamp
    assert not [p for p in cdir.iterdir() if p.name.startswith(".tmp-")]
    assert (out / "matrix.csv").read_bytes() == (full_run / "matrix.csv").read_bytes()
    assert (out / "items.csv").read_bytes() == (full_run / "items.csv").read_bytes()


def test_two_shards_merged_equal_unsharded(full_run: Path, sweep_env: dict[str, Path]) -> None:
    from lm_eval_values.core.errors import UserError
    from lm_eval_values.sweep.run import run_sweep
    from lm_eval_values.sweep.config import load_config
    from lm_eval_values.cli.merge import main as merge_main
    from lm_eval_values.sweep.merge import merge_shards

    cfg = load_config(sweep_env["config"])
    shared = sweep_env["root"] / "shards"
    s0 = run_sweep(cfg, shard=(0, 2), out=shared, progress=False)
    with pytest.raises(UserError, match="shard\\(s\\) 1/2 not found"):
        merge_shards(shared)
    s1 = run_sweep(cfg, shard=(1, 2), out=shared, progress=False)
    assert s0.n_run + s1.n_run == N_CONDITIONS
    assert not set(s0.computed) & set(s1.computed)
    assert (shared / "matrix.shard-0-of-2.csv").is_file() and (shared / "matrix.shard-1-of-2.csv").is_file()
    assert not (shared / "matrix.csv").exists()
    assert merge_main([str(shared)]) == 0
    assert (shared / "matrix.csv").read_bytes() == (full_run / "matrix.csv").read_bytes()
    assert (shared / "items.csv").read_bytes() == (full_run / "items.csv").read_bytes()
    merged = json.loads((shared / "manifest.json").read_text())
    unsharded = json.loads((full_run / "manifest.json").read_text())
    assert merged == unsharded
    # shards in separate folders, merged into a third one
    import shutil

    a, b = sweep_env["root"] / "sep0", sweep_env["root"] / "sep1"
    for d, i in ((a, 0), (b, 1)):
        d.mkdir()
        shutil.copy(shared / f"manifest.shard-{i}-of-2.json", d)
        for row in json.loads((shared / f"manifest.shard-{i}-of-2.json").read_text())["conditions"]:
            shutil.copytree(shared / "conditions" / row["condition_id"], d / "conditions" / row["condition_id"])
    target = sweep_env["root"] / "merged"
    merge_shards(target, [a, b])
    assert (target / "matrix.csv").read_bytes() == (full_run / "matrix.csv").read_bytes()


def test_matrix_command_rebuilds_tables_from_condition_files(full_run: Path, sweep_env: dict[str, Path]) -> None:
    from lm_eval_values.cli.matrix import main as matrix_main
    from lm_eval_values.matrix.reading import matrix_from_results_dir
    from lm_eval_values.matrix.reading import read_value_matrix

    out = sweep_env["root"] / "rebuilt"
    assert matrix_main([str(full_run), "--out", str(out)]) == 0
    assert (out / "matrix.csv").read_bytes() == (full_run / "matrix.csv").read_bytes()
    assert (out / "items.csv").read_bytes() == (full_run / "items.csv").read_bytes()
    vm = matrix_from_results_dir(full_run)
    assert vm.n_rows == N_CONDITIONS and vm.values == ["Power", "Benevolence", "Tradition"]
    assert vm.meta["steering_id"].tolist()[:3] == ["none", "rnd", "prompt:Power"]
    # a folder without matrix.csv goes through matrix_from_results_dir
    import shutil

    bare = sweep_env["root"] / "bare"
    shutil.copytree(full_run / "conditions", bare / "conditions")
    vm2 = read_value_matrix(bare, check=False)
    assert vm2.scores.round(6).equals(vm.scores.round(6))


def test_plain_lm_eval_output_folders(sweep_env: dict[str, Path], tiny_model_dir: Path) -> None:
    """Folders written by lm-eval's own tracker (`--output_path X --log_samples`), one per condition."""
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    from lm_eval_values import register_models
    from lm_eval_values.cli.matrix import main as matrix_main
    from lm_eval_values.matrix.condition_files import read_conditions
    from lm_eval_values.sweep.items import make_task_manager
    from lm_eval_values.sweep.config import load_config

    register_models()
    root = sweep_env["root"] / "plain"
    tm = make_task_manager(load_config(sweep_env["config"]))
    for name, args in (("no_role", f"pretrained={tiny_model_dir}"),
                       ("mbti_role", f"pretrained={tiny_model_dir},role=You are an ENFJ.,role_id=enfj")):
        tracker = EvaluationTracker(output_path=str(root / name))
        res = lm_eval.simple_evaluate(model="values_hf", model_args=args, tasks=["sweeptest_values"], limit=4,
                                      task_manager=tm, log_samples=True, evaluation_tracker=tracker,
                                      bootstrap_iters=0, device="cpu")
        samples = res.pop("samples")
        tracker.save_results_aggregated(results=res, samples=samples)
        for task in res["configs"]:
            tracker.save_results_samples(task_name=task, samples=samples[task])
    conds = read_conditions(root)
    assert [c.meta["condition_id"] for c in conds] == ["mbti_role", "no_role"]
    assert [c.meta["role_id"] for c in conds] == ["enfj", ""]
    assert matrix_main([str(root)]) == 0
    text = (root / "matrix.csv").read_text().splitlines()
    assert text[0] == "condition_id,role_id,split,steering_id,coefficient,seed,Power"
    assert text[1].startswith("mbti_role,enfj,,none,0,0,") and text[2].startswith("no_role,,,none,0,0,")
