"""Crash safety of the condition sweep.

* A sweep SIGKILLed at seeded random points, several times in a row (each kill lands at a
  different moment: before the first condition, inside a forward pass, while a condition folder
  is being written...), always leaves only complete condition folders, and resuming gives the
  byte-identical ``matrix.csv`` / ``items.csv`` of an uninterrupted run. This extends
  ``tests/sweep/test_sweep.py::test_sigkill_mid_run_then_resume_gives_identical_matrix`` (one kill after
  three finished conditions) with random kill points.
* Two shards running AT THE SAME TIME into one output folder never clobber each other: both
  finish, the merge equals the unsharded run.
* Hook hygiene: a failure in the middle of a steered sweep condition (inside the forward pass)
  leaves no forward hook on the model; finished conditions are kept, no table is written.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
N_CONDITIONS = 4  # 2 roles x (no steering, a vector)
KILL_SEEDS = (1, 7, 5)  # seeded kill points: start (mid first condition), writing a condition, after one


def small_sweep_config(root: Path, model: Path, **over: Any) -> Path:
    """A 4-condition sweep of the tiny model on a 3-value x 4-item task (written under ``root``)."""
    import numpy as np

    from tests.sweep.test_sweep import write_task

    root.mkdir(parents=True, exist_ok=True)
    tasks = write_task(root / "tasks")
    np.save(root / "vec.npy", np.random.default_rng(0).standard_normal(64).astype("float32"))
    cfg: dict[str, Any] = {
        "model": "values_hf", "model_args": {"pretrained": str(model)}, "device": "cpu",
        "tasks": ["sweeptest_values"], "include_path": [str(tasks)],
        "roles": {"generate": {"train": 2, "test": 0, "seed": 3}, "no_role": False},
        "steering": [{"type": "none"},
                     {"type": "vector", "id": "rnd", "vector": "vec.npy", "layer": 1, "coefficients": [4],
                      "positions": "prompt"}],
        "sampling": {"fraction": 0.5, "seed": 7}, "seeds": [0], "batch_size": 4, "output_dir": "out",
    }
    cfg.update(over)
    path = root / "sweep.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_in_process(config: Path, out: Path, **kw: Any):
    """``run_sweep`` on ``config`` into ``out`` (no progress bar)."""
    from lm_eval_values.sweep.run import run_sweep
    from lm_eval_values.sweep.config import load_config

    return run_sweep(load_config(config), out=out, progress=False, **kw)


def _popen(*args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "lm_eval_values.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True, env=env)


def _finished(cdir: Path) -> list[str]:
    if not cdir.is_dir():
        return []
    return sorted(p.parent.name for p in cdir.glob("*/condition.json") if not p.parent.name.startswith(".tmp-"))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Path]:
    """The config and an uninterrupted, unsharded reference run."""
    root = tmp_path_factory.mktemp("crash")
    config = small_sweep_config(root, tiny_model_dir)
    summary = run_in_process(config, root / "reference")
    assert summary.n_run == N_CONDITIONS
    return {"root": root, "config": config, "reference": root / "reference"}


def _kill_point_reached(mode: str, out: Path, done_before: list[str]) -> bool:
    cdir = out / "conditions"
    if not (out / "manifest.json").is_file():
        return False
    if mode == "start":  # the model is loaded and the first condition is under way
        return True
    more = len(_finished(cdir)) > len(done_before)
    if mode == "writing":  # a condition folder is being written (or, if that was too quick, was just written)
        return more or (cdir.is_dir() and any(p.name.startswith(".tmp-") for p in cdir.iterdir()))
    return more  # "after": a condition has just finished


def test_sigkill_at_seeded_random_points_then_resume_gives_identical_matrix(env: dict[str, Path]) -> None:
    from lm_eval_values.matrix.condition_files import read_conditions

    out = env["root"] / "killed"
    cdir = out / "conditions"
    kills: list[tuple[str, int]] = []
    for seed in KILL_SEEDS:
        rng = random.Random(seed)
        mode = rng.choice(["start", "writing", "after"])
        delay = rng.uniform(0.0, 0.3)
        done_before = _finished(cdir)
        proc = _popen("sweep", str(env["config"]), "--out", str(out), "--no-progress")
        try:
            deadline = time.time() + 300
            while time.time() < deadline and proc.poll() is None and not _kill_point_reached(mode, out, done_before):
                time.sleep(0.005)
            time.sleep(delay)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=60)
            err = proc.stderr.read().decode()[-2000:]
            proc.stderr.close()
        done = _finished(cdir)
        if proc.returncode == 0:  # it finished before the kill: nothing left to interrupt
            assert len(done) == N_CONDITIONS, err
            break
        assert proc.returncode == -signal.SIGKILL, err
        kills.append((mode, len(done)))
        assert set(done_before) <= set(done)
        if done:  # every visible condition folder is complete and readable
            assert len(read_conditions(out, done)) == len(done)
        if (out / "matrix.csv").exists():  # killed after the last condition: the table is whole or absent
            assert (out / "matrix.csv").read_bytes() == (env["reference"] / "matrix.csv").read_bytes()
        if len(done) == N_CONDITIONS:
            break
    assert len(kills) >= 2, kills
    summary = run_in_process(env["config"], out)
    assert summary.n_skipped == len(done) and summary.n_skipped + summary.n_run == N_CONDITIONS
    assert not [p for p in cdir.iterdir() if p.name.startswith(".tmp-")]
    for name in ("matrix.csv", "items.csv"):
        assert (out / name).read_bytes() == (env["reference"] / name).read_bytes(), name


def test_concurrent_shards_in_one_folder_do_not_clobber(env: dict[str, Path]) -> None:
    from lm_eval_values.cli.merge import main as merge_main

    out = env["root"] / "shared"
    procs = [_popen("sweep", str(env["config"]), "--out", str(out), "--no-progress", "--shard", f"{i}/2")
             for i in range(2)]
    errs = []
    for p in procs:
        _, err = p.communicate(timeout=600)
        errs.append(err.decode()[-2000:])
    assert [p.returncode for p in procs] == [0, 0], errs
    assert len(_finished(out / "conditions")) == N_CONDITIONS
    assert (out / "manifest.shard-0-of-2.json").is_file() and (out / "manifest.shard-1-of-2.json").is_file()
    assert not [p for p in out.rglob(".tmp-*")]
    assert merge_main([str(out)]) == 0
    for name in ("matrix.csv", "items.csv"):
        assert (out / name).read_bytes() == (env["reference"] / name).read_bytes(), name


def _hooks(model: Any) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.mark.parametrize("failure", ["span-absent", "runtime-error"])
def test_failure_inside_a_steered_condition_leaves_no_hooks(env: dict[str, Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    """The steered condition fails inside its forward pass; the unsteered one before it is kept."""
    import lm_eval_values.sweep.run as sweep_mod
    from lm_eval_values.core.errors import UserError
    from steering_hooks.errors import SpecError

    steer: dict[str, Any] = {"type": "vector", "id": "rnd", "vector": str(env["root"] / "vec.npy"), "layer": 1,
                             "coefficients": [4], "positions": "prompt"}
    if failure == "span-absent":  # a required span scope whose text no prompt contains
        steer["positions"] = 'span:" zebra crossing"'
    config = small_sweep_config(tmp_path / "cfg", Path(yaml.safe_load(env["config"].read_text())["model_args"]
                                                         ["pretrained"]),
                                roles={"generate": {"train": 1, "test": 0, "seed": 3}, "no_role": False},
                                steering=[{"type": "none"}, steer])
    runners: list[Any] = []
    original_init = sweep_mod.ConditionRunner.__init__

    def init(self: Any, *a: Any, **k: Any) -> None:
        original_init(self, *a, **k)
        runners.append(self)
        self.baseline_hooks = _hooks(self.lm.model)  # hooks the model itself carries (none for these models)
        if failure == "runtime-error":  # an out-of-memory style error inside a steered forward pass
            model = self.lm.model
            mlp = model.model.layers[1].mlp
            real_forward = mlp.forward

            def forward(*args: Any, **kwargs: Any) -> Any:
                if _hooks(model) > self.baseline_hooks:  # only while steering hooks are attached
                    raise RuntimeError("simulated out of memory")
                return real_forward(*args, **kwargs)

            monkeypatch.setattr(mlp, "forward", forward)

    monkeypatch.setattr(sweep_mod.ConditionRunner, "__init__", init)
    out = tmp_path / "out"
    with pytest.raises((RuntimeError, SpecError, UserError)) as exc:
        run_in_process(config, out)
    assert ("zebra" in str(exc.value)) if failure == "span-absent" else ("simulated" in str(exc.value))
    assert len(runners) == 1
    assert _hooks(runners[0].lm.model) == runners[0].baseline_hooks == 0
    assert len(_finished(out / "conditions")) == 1  # the unsteered condition ran first and is kept
    assert not (out / "matrix.csv").exists()
    assert not [p for p in (out / "conditions").iterdir() if p.name.startswith(".tmp-")]


def test_disk_full_during_a_condition_keeps_finished_work_and_resumes(env: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The disk fills while the second condition folder is written: one line, exit 2, the first
    condition kept, no temporary debris; after space is freed the re-run gives the identical matrix."""
    import errno

    from lm_eval_values.cli import main as cli_main

    out = env["root"] / "diskfull"
    real_write_text = Path.write_text
    written: list[str] = []

    def write_text(self: Path, data: str, *a: Any, **k: Any) -> int:
        if self.parent.name.startswith(".tmp-") and self.name == "condition.json":
            written.append(self.parent.name)
            if len(written) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_write_text(self, data, *a, **k)

    monkeypatch.setattr(Path, "write_text", write_text)
    capsys.readouterr()
    rc = cli_main(["sweep", str(env["config"]), "--out", str(out), "--no-progress"])
    monkeypatch.undo()
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip() and "it/s]" not in ln]
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("error: output_dir: cannot write condition ") and "(fix: " in err[0]
    assert "No space left on device" in err[0] and "Traceback" not in err[0]
    assert len(_finished(out / "conditions")) == 1
    assert not [p for p in out.rglob(".tmp-*")]
    assert not (out / "matrix.csv").exists()
    summary = run_in_process(env["config"], out)
    assert (summary.n_skipped, summary.n_run) == (1, N_CONDITIONS - 1)
    for name in ("matrix.csv", "items.csv"):
        assert (out / name).read_bytes() == (env["reference"] / name).read_bytes(), name
