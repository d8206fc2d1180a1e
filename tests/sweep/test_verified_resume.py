"""A sweep trusts nothing on disk it has not verified, never runs a condition twice at once, and never
writes a non-finite result.

* ``condition.json`` records the SHA-256 of every samples file; a samples file that lost its last line
  is refused by ``matrix`` (exit 2, one line) and redone by a resumed sweep, which restores the exact
  tables of an undamaged run.
* Two unsharded sweeps started at the same time into one folder both finish, run every condition
  exactly once between them (per-condition locks), leave no lock files and give the reference tables.
* A condition whose model outputs are NaN or inf is refused before it is written.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from lm_eval_values.core.errors import UserError
from lm_eval_values.sweep.runner import check_finite_outputs
from tests.sweep.test_crash_safety import N_CONDITIONS, _finished, _popen, run_in_process, small_sweep_config


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("verified")
    config = small_sweep_config(root, tiny_model_dir)
    assert run_in_process(config, root / "reference").n_run == N_CONDITIONS
    return {"root": root, "config": config, "reference": root / "reference"}


def test_every_samples_file_is_recorded_by_its_hash(env: dict[str, Path]) -> None:
    for rec_file in (env["reference"] / "conditions").glob("*/condition.json"):
        rec = json.loads(rec_file.read_text())
        for task, name in rec["sample_files"].items():
            data = (rec_file.parent / name).read_bytes()
            assert rec["sample_sha256"][task] == hashlib.sha256(data).hexdigest()
            assert data.count(b"\n") == len(rec["samples"][task])


def test_a_damaged_condition_is_refused_then_redone(env: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from lm_eval_values.cli import main as cli_main

    out = env["root"] / "damaged"
    shutil.copytree(env["reference"], out)
    victim = sorted((out / "conditions").glob("*/samples_*.jsonl"))[1]
    lines = victim.read_text().splitlines(keepends=True)
    victim.write_text("".join(lines[:-1]))  # lost its last line, as after a copy cut short
    capsys.readouterr()
    assert cli_main(["matrix", str(out), "--out", str(env["root"] / "tables")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SHA-256" in err and victim.parent.name in err
    assert not (env["root"] / "tables").exists()

    summary = run_in_process(env["config"], out)
    assert summary.n_run == 1 and summary.n_skipped == N_CONDITIONS - 1
    assert "is damaged" in capsys.readouterr().err
    for name in ("matrix.csv", "items.csv"):
        assert (out / name).read_bytes() == (env["reference"] / name).read_bytes(), name


def test_two_sweeps_into_one_folder_run_each_condition_once(env: dict[str, Path]) -> None:
    out = env["root"] / "together"
    procs = [_popen("sweep", str(env["config"]), "--out", str(out), "--no-progress") for _ in range(2)]
    errs = [p.communicate(timeout=600)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for e in errs]
    runs = [int(m.group(1)) for e in errs for m in re.finditer(r"sweep: (\d+) conditions run", e)]
    assert len(runs) == 2 and sum(runs) == N_CONDITIONS, errs  # no condition was computed twice
    assert len(_finished(out / "conditions")) == N_CONDITIONS
    assert not list((out / "conditions").glob(".lock-*")) and not list(out.rglob(".tmp-*"))
    for name in ("matrix.csv", "items.csv"):
        assert (out / name).read_bytes() == (env["reference"] / name).read_bytes(), name


def _cond(kind: str = "vector") -> SimpleNamespace:
    return SimpleNamespace(condition_id="c1", steering=SimpleNamespace(id="v", kind=kind, coefficient=5e4))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_model_outputs_are_refused(bad: float) -> None:
    ok = {"samples": {"t": [{"resps": [[[-1.2, False]], [[-0.3, True]]], "filtered_resps": [[-1.2, False]]}]}}
    check_finite_outputs(ok, _cond())
    broken = {"samples": {"t": [{"resps": [[[bad, False]]], "filtered_resps": [[bad, False]]}]}}
    with pytest.raises(UserError, match=r"steering\[v\]: the model's log-likelihoods became NaN or inf"):
        check_finite_outputs(broken, _cond())
    with pytest.raises(UserError, match="^model: "):
        check_finite_outputs(broken, _cond("none"))
    check_finite_outputs({"samples": {"t": [{"resps": [["a generated answer"]]}]}}, _cond())  # texts are fine
