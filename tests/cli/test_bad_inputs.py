"""The bad-input catalogue: every case goes through the real console entry point.

Each case builds its inputs in a fresh folder, runs ``lm_eval_values.cli.main(argv)`` in-process
and checks the contract every command promises for bad input:

* exit status 2;
* exactly ONE line on stderr, ``error: <field>: <problem> (fix: <fix>)``, naming the field;
* no traceback;
* no partial or corrupt output: the case's folder (inputs and any output folder) is byte-for-byte
  unchanged, i.e. nothing was created, modified or left behind (no ``.tmp-`` debris either).

A few cases also run as real subprocesses to prove the process exit status and that only
``--debug`` shows a traceback. ``docs/BAD_INPUTS.md`` lists the catalogue with example messages.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from lm_eval_values.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
SCHWARTZ = ["Self-Direction", "Stimulation", "Hedonism", "Achievement", "Power", "Security", "Conformity",
            "Tradition", "Benevolence", "Universalism"]
META = ["condition_id", "role_id", "split", "steering_id", "coefficient", "seed"]


# ----------------------------------------------------------------------------- shared inputs
@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Path]:
    """Read-only inputs shared by the cases: a tiny model, SAEs, a task folder, a vector."""
    import numpy as np
    import torch
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    from tests.sweep.test_sweep import write_task

    root = tmp_path_factory.mktemp("bad_inputs_assets")
    torch.manual_seed(0)
    sae = StandardSAE(StandardSAEConfig(d_in=64, d_sae=32, metadata=SAEMetadata(hook_name="blocks.1.hook_resid_post")))
    sae.save_model(str(root / "sae64"))
    sae48 = StandardSAE(StandardSAEConfig(d_in=48, d_sae=16))
    sae48.save_model(str(root / "sae48"))
    not_sae = root / "not_an_sae"
    not_sae.mkdir()
    (not_sae / "cfg.json").write_text('{"hello": "world"}')
    (not_sae / "sae_weights.safetensors").write_bytes(b"this is not a safetensors file")
    np.save(root / "vec.npy", np.random.default_rng(0).standard_normal(64).astype("float32"))
    return {"model": tiny_model_dir, "sae": root / "sae64", "sae48": root / "sae48", "not_sae": not_sae,
            "tasks": write_task(root / "tasks"), "vec": root / "vec.npy"}


@dataclass
class Env:
    """What a case's setup gets: its own empty folder and the shared assets."""

    work: Path
    assets: dict[str, Path]

    def write(self, name: str, text: str) -> Path:
        p = self.work / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p

    def blocked(self) -> Path:
        """An output path that cannot be created (it lies under a regular file; chmod does not stop root)."""
        self.write("a_file", "x")
        return self.work / "a_file" / "out"


def _sweep_cfg(env: Env, **over: Any) -> Path:
    cfg: dict[str, Any] = {
        "model": "values_hf", "model_args": {"pretrained": str(env.assets["model"])},
        "tasks": ["sweeptest_values"], "include_path": [str(env.assets["tasks"])],
        "roles": {"no_role": True}, "steering": [{"type": "none"}], "sampling": {"fraction": 0.25, "seed": 0},
        "batch_size": 4, "output_dir": str(env.work / "out"), "device": "cpu",
    }
    cfg.update(over)
    return env.write("sweep.yaml", yaml.safe_dump(cfg))


def _matrix_csv(env: Env, rows: list[list[Any]], values: list[str], name: str = "matrix.csv") -> Path:
    import pandas as pd

    df = pd.DataFrame(rows, columns=values)
    meta = pd.DataFrame({"condition_id": [f"c{i}" for i in range(len(df))],
                         "role_id": [f"r{i}" for i in range(len(df))], "split": "train",
                         "steering_id": "none", "coefficient": 0, "seed": 0})
    path = env.work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.concat([meta, df], axis=1).to_csv(path, index=False)
    return path


def _good_matrix(env: Env, n: int = 30, values: list[str] | None = None, name: str = "matrix.csv") -> Path:
    import numpy as np

    values = values or ["Power", "Benevolence", "Tradition", "Hedonism"]
    rows = np.random.default_rng(1).standard_normal((n, len(values))).round(4).tolist()
    return _matrix_csv(env, rows, values, name)


def _sweep_condition(root: Path, cid: str, index: int, identity: str = "I") -> None:
    """A finished sweep condition folder (the files `matrix` reads), as in tests/matrix/test_matrix.py."""
    from tests.matrix.test_matrix import _sample, write_condition

    write_condition(root, cid, index, {"t": [_sample(0, "Power", 0.3), _sample(1, "Tradition", -0.2)]},
                    role=f"r{index}", identity=identity)


def _plain_lm_eval_folder(root: Path, name: str, model: str) -> None:
    """A folder as written by stock ``lm_eval --output_path root/name --log_samples``."""
    from tests.matrix.test_matrix import _plain, _sample

    _plain(root, name, "2026-01-01T00-00-00.1", {"model_args": f"pretrained={model}", "random_seed": 0},
           [_sample(0, "Power", 0.5)])


def _disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every atomic file write fails as on a full disk (after the temporary file is created)."""
    import lm_eval_values.core.atomic as atomic

    real_fdopen = os.fdopen

    class _Full:
        def __init__(self, fd: int, *a: Any, **k: Any) -> None:
            self._fh = real_fdopen(fd, *a, **k)

        def __enter__(self) -> "_Full":
            return self

        def __exit__(self, *exc: Any) -> None:
            self._fh.close()

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def flush(self) -> None:  # pragma: no cover - never reached
            pass

        def fileno(self) -> int:  # pragma: no cover - never reached
            return self._fh.fileno()

    monkeypatch.setattr(atomic.os, "fdopen", _Full)


# ----------------------------------------------------------------------------- the catalogue
@dataclass(frozen=True)
class Case:
    """One bad input: ``setup`` builds the inputs and returns argv; ``field`` must appear in the message."""

    id: str
    area: str
    setup: Callable[[Env], list[str]]
    field: str
    contains: str = ""
    patch: Callable[[pytest.MonkeyPatch], None] | None = None


def _c(id_: str, area: str, field_: str, contains: str = "", patch: Callable[[pytest.MonkeyPatch], None] | None = None):
    def deco(fn: Callable[[Env], list[str]]) -> Case:
        case = Case(id_, area, fn, field_, contains, patch)
        CASES.append(case)
        return case
    return deco


CASES: list[Case] = []


# -- sweep configs
@_c("sweep-unknown-key", "sweep config", "colour")
def _(env: Env) -> list[str]:
    return ["sweep", str(_sweep_cfg(env, colour="red"))]


@_c("sweep-wrong-type", "sweep config", "batch_size")
def _(env: Env) -> list[str]:
    return ["sweep", str(_sweep_cfg(env, batch_size="four"))]


@_c("sweep-not-yaml", "sweep config", "CONFIG", "not valid YAML")
def _(env: Env) -> list[str]:
    return ["sweep", str(env.write("sweep.yaml", "model: [unclosed\n"))]


@_c("sweep-python-yaml-tag", "sweep config", "CONFIG", "not valid YAML")
def _(env: Env) -> list[str]:
    return ["sweep", str(env.write("sweep.yaml", "model: !!python/object/apply:os.system ['touch PWNED']\n"))]


@_c("sweep-missing-config", "sweep config", "CONFIG", "does not exist")
def _(env: Env) -> list[str]:
    return ["sweep", str(env.work / "nope.yaml")]


@_c("sweep-bad-shard", "sweep config", "--shard")
def _(env: Env) -> list[str]:
    return ["sweep", str(_sweep_cfg(env)), "--shard", "3/2"]


@_c("sweep-layer-beyond-model", "steering spec", "layer", "beyond")
def _(env: Env) -> list[str]:
    return ["sweep", str(_sweep_cfg(env, steering=[{"type": "vector", "id": "v", "vector": str(env.assets["vec"]),
                                                     "layer": 7, "coefficients": [4]}]))]


@_c("sweep-sae-feature-beyond-sae", "steering spec", "feature", "32")
def _(env: Env) -> list[str]:
    return ["sweep", str(_sweep_cfg(env, steering=[{"type": "sae", "sae": str(env.assets["sae"]), "layer": 1,
                                                     "features": [99], "coefficients": [4]}]))]


@_c("sweep-sae-d_in-mismatch", "steering spec", "sae", "48")
def _(env: Env) -> list[str]:
    return ["sweep", str(_sweep_cfg(env, steering=[{"type": "sae", "sae": str(env.assets["sae48"]), "layer": 1,
                                                     "features": [3], "coefficients": [4]}]))]


@_c("sweep-sae-folder-not-an-sae", "steering spec", "sae")
def _(env: Env) -> list[str]:
    return ["sweep", str(_sweep_cfg(env, steering=[{"type": "sae", "sae": str(env.assets["not_sae"]), "layer": 1,
                                                     "features": [3], "coefficients": [4]}]))]


@_c("sweep-vector-width-mismatch", "steering spec", "vector", "48")
def _(env: Env) -> list[str]:
    import numpy as np

    np.save(env.work / "v48.npy", np.ones(48, dtype="float32"))
    return ["sweep", str(_sweep_cfg(env, steering=[{"type": "vector", "id": "v", "vector": str(env.work / "v48.npy"),
                                                     "layer": 1, "coefficients": [4]}]))]


@_c("sweep-spec-unknown-op", "steering spec", "op", "unknown op")
def _(env: Env) -> list[str]:
    spec = env.write("spec.yaml", yaml.safe_dump({"interventions": [{"op": "nudge", "layer": 1}]}))
    return ["sweep", str(_sweep_cfg(env, steering=[{"type": "spec", "id": "s", "spec": str(spec),
                                                     "coefficients": [1]}]))]


@_c("sweep-role-file-duplicate-ids", "role file", "roles", "duplicate")
def _(env: Env) -> list[str]:
    roles = env.write("roles.jsonl", "\n".join(json.dumps({"id": i, "text": f"You are {i}."})
                                               for i in ("sam", "kim", "sam")) + "\n")
    return ["sweep", str(_sweep_cfg(env, roles={"files": [{"path": str(roles)}], "no_role": False}))]


@_c("sweep-role-file-no-id", "role file", "roles", "no id")
def _(env: Env) -> list[str]:
    roles = env.write("roles.json", json.dumps([{"text": "You are nobody."}]))
    return ["sweep", str(_sweep_cfg(env, roles={"files": [{"path": str(roles)}]}))]


@_c("sweep-role-file-not-json", "role file", "roles", "not valid JSON")
def _(env: Env) -> list[str]:
    roles = env.write("roles.json", "{'id': 'single quotes'}")
    return ["sweep", str(_sweep_cfg(env, roles={"files": [{"path": str(roles)}]}))]


@_c("sweep-output-not-writable", "output", "output_dir", "is a file, not a folder")
def _(env: Env) -> list[str]:
    return ["sweep", str(_sweep_cfg(env)), "--out", str(env.blocked())]


@_c("sweep-output-holds-another-sweep", "output", "output_dir", "another")
def _(env: Env) -> list[str]:
    env.write("out/manifest.json", json.dumps({"identity_hash": "0" * 64, "conditions": []}))
    return ["sweep", str(_sweep_cfg(env))]


# -- inventories (make-tasks)
INVENTORY_HEADER = "questionnaire,item,value,agreement,question\n"


@_c("inventory-missing-columns", "inventory", "question")
def _(env: Env) -> list[str]:
    src = env.write("inv.csv", "questionnaire,item,value\nq,1,Power\n")
    return ["make-tasks", str(src), "--prefix", "values_mine", "--out", str(env.work / "tasks")]


@_c("inventory-agreement-not-pm1", "inventory", "agreement", "+1")
def _(env: Env) -> list[str]:
    src = env.write("inv.csv", INVENTORY_HEADER + "q,1,Power,1,Do you like power?\nq,2,Power,2,Is power good?\n")
    return ["make-tasks", str(src), "--prefix", "values_mine", "--out", str(env.work / "tasks")]


@_c("inventory-empty", "inventory", "inv.csv", "is empty")
def _(env: Env) -> list[str]:
    src = env.write("inv.csv", "")
    return ["make-tasks", str(src), "--prefix", "values_mine", "--out", str(env.work / "tasks")]


@_c("inventory-unknown-format", "inventory", "--formats", "essay")
def _(env: Env) -> list[str]:
    src = env.write("inv.csv", INVENTORY_HEADER + "q,1,Power,1,Do you like power?\n")
    return ["make-tasks", str(src), "--prefix", "values_mine", "--formats", "yesno,essay",
            "--out", str(env.work / "tasks")]


@_c("inventory-output-not-writable", "output", "--out")
def _(env: Env) -> list[str]:
    src = env.write("inv.csv", INVENTORY_HEADER + "q,1,Power,1,Do you like power?\n")
    return ["make-tasks", str(src), "--prefix", "values_mine", "--out", str(env.blocked())]


# -- result folders (matrix, merge)
@_c("matrix-empty-folder", "result folders", "DIR", "no finished conditions")
def _(env: Env) -> list[str]:
    (env.work / "runs").mkdir()
    return ["matrix", str(env.work / "runs")]


@_c("matrix-corrupt-samples-file", "result folders", "DIR", "not valid JSON")
def _(env: Env) -> list[str]:
    _sweep_condition(env.work / "runs", "c1", 0)
    with open(env.work / "runs" / "conditions" / "c1" / "samples_t.jsonl", "a") as fh:
        fh.write('{"doc_id": 2, "doc": {"val\n')  # a run killed mid-write by a tool without atomic writes
    return ["matrix", str(env.work / "runs")]


@_c("matrix-mixed-sweeps", "result folders", "DIR", "different sweeps")
def _(env: Env) -> list[str]:
    _sweep_condition(env.work / "runs", "c1", 0, identity="sweep-A")
    _sweep_condition(env.work / "runs", "c2", 1, identity="sweep-B")
    return ["matrix", str(env.work / "runs")]


@_c("matrix-mixed-models", "result folders", "DIR", "models")
def _(env: Env) -> list[str]:
    _plain_lm_eval_folder(env.work / "runs", "base", "org/model-a")
    _plain_lm_eval_folder(env.work / "runs", "role", "org/model-b")
    return ["matrix", str(env.work / "runs")]


@_c("matrix-output-not-writable", "output", "--out")
def _(env: Env) -> list[str]:
    _plain_lm_eval_folder(env.work / "runs", "base", "org/model-a")
    return ["matrix", str(env.work / "runs"), "--out", str(env.blocked())]


@_c("matrix-disk-full", "output", "--out", "No space left", patch=_disk_full)
def _(env: Env) -> list[str]:
    _plain_lm_eval_folder(env.work / "runs", "base", "org/model-a")
    return ["matrix", str(env.work / "runs"), "--out", str(env.work / "tables")]


@_c("merge-no-shards", "result folders", "merge", "no manifest.shard")
def _(env: Env) -> list[str]:
    (env.work / "shards").mkdir()
    return ["merge", str(env.work / "shards")]


@_c("merge-not-a-manifest", "result folders", "merge", "not a sweep manifest")
def _(env: Env) -> list[str]:
    env.write("shards/manifest.shard-0-of-1.json", json.dumps(["not", "a", "manifest"]))
    return ["merge", str(env.work / "shards")]


# -- graph inputs (graph, compare-human, side-effects)
def _graph(env: Env, matrix: Path, *extra: str) -> list[str]:
    return ["graph", str(matrix), "--out", str(env.work / "graph"), "--jobs", "1", *extra]


@_c("graph-empty-matrix", "graph input", "matrix", "no rows")
def _(env: Env) -> list[str]:
    return _graph(env, _matrix_csv(env, [], ["Power", "Benevolence"]))


@_c("graph-constant-column", "graph input", "matrix", "constant")
def _(env: Env) -> list[str]:
    import numpy as np

    rows = np.random.default_rng(0).standard_normal((20, 3))
    rows[:, 1] = 0.25
    return _graph(env, _matrix_csv(env, rows.tolist(), ["Power", "Benevolence", "Tradition"]))


@_c("graph-all-nan-column", "graph input", "matrix", "empty or not numeric")
def _(env: Env) -> list[str]:
    import numpy as np

    rows = np.random.default_rng(0).standard_normal((20, 3))
    rows[:, 2] = np.nan
    return _graph(env, _matrix_csv(env, rows.tolist(), ["Power", "Benevolence", "Tradition"]))


@_c("graph-fewer-rows-than-columns", "graph input", "matrix", "complete rows")
def _(env: Env) -> list[str]:
    import numpy as np

    rows = np.random.default_rng(0).standard_normal((3, 6)).tolist()
    return _graph(env, _matrix_csv(env, rows, ["Power", "Benevolence", "Tradition", "Hedonism", "Security",
                                               "Conformity"]))


@_c("graph-not-a-matrix", "graph input", "matrix", "neither a sweep matrix")
def _(env: Env) -> list[str]:
    return _graph(env, env.write("table.csv", "a,b\n1,2\n3,4\n"))


@_c("graph-reference-unknown-nodes", "graph input", "reference", "unknown node")
def _(env: Env) -> list[str]:
    ref = env.write("ref.json", json.dumps([["Power", "Kindness"], ["Benevolence", "Tradition"]]))
    return _graph(env, _good_matrix(env), "--reference", str(ref))


@_c("graph-unknown-column", "graph input", "columns", "Kindness")
def _(env: Env) -> list[str]:
    return _graph(env, _good_matrix(env), "--columns", "Power,Kindness")


@_c("graph-background-unknown-key", "graph input", "background", "unknown key")
def _(env: Env) -> list[str]:
    bg = env.write("bg.json", json.dumps({"forbiden": [["Power", "Tradition"]]}))
    return _graph(env, _good_matrix(env), "--background", str(bg))


@_c("graph-output-not-writable", "output", "--out")
def _(env: Env) -> list[str]:
    return ["graph", str(_good_matrix(env)), "--out", str(env.blocked()), "--jobs", "1"]


@_c("graph-disk-full", "output", "--out", "No space left", patch=_disk_full)
def _(env: Env) -> list[str]:
    return _graph(env, _good_matrix(env))


@_c("compare-human-missing-schwartz-columns", "graph input", "Benevolence", "missing Schwartz")
def _(env: Env) -> list[str]:
    m = _good_matrix(env, values=[v for v in SCHWARTZ if v != "Benevolence"])
    return ["compare-human", str(m), "--out", str(env.work / "cmp"), "--no-plots", "--permutations", "10"]


@_c("side-effects-graph-unknown-values", "graph input", "--graph", "unknown node")
def _(env: Env) -> list[str]:
    g = env.write("g.json", json.dumps([["Power", "Tradition"]]))
    ch = env.write("changes.csv", "Kindness,Greed\n0.1,0.2\n0.3,-0.1\n")
    return ["side-effects", "--graph", str(g), "--changes", str(ch), "--out", str(env.work / "se")]


# -- models, SAEs, studies
@_c("fetch-model-unknown-name", "fetch-model", "model", "gpt-5")
def _(env: Env) -> list[str]:
    return ["fetch-model", "gpt-5"]


@_c("train-sae-layer-beyond-model", "train-sae", "layer")
def _(env: Env) -> list[str]:
    return ["train-sae", "--model", str(env.assets["model"]), "--layer", "9", "--width", "16", "--k", "4", "--tokens", "256",
            "--out", str(env.work / "sae")]


@_c("train-sae-zero-width", "train-sae", "width")
def _(env: Env) -> list[str]:
    return ["train-sae", "--model", str(env.assets["model"]), "--layer", "0", "--width", "0", "--tokens", "256",
            "--out", str(env.work / "sae")]


@_c("discover-features-not-an-sae", "discover-features", "sae")
def _(env: Env) -> list[str]:
    return ["discover-features", "--model", str(env.assets["model"]), "--sae", str(env.assets["not_sae"]),
            "--out", str(env.work / "features.json")]


@_c("discover-features-span-not-in-prompt", "discover-features", "span", "zebra")
def _(env: Env) -> list[str]:
    return ["discover-features", "--model", str(env.assets["model"]), "--sae", str(env.assets["sae"]),
            "--span", " zebra crossing", "--prompt", "Question: Should I help my friends? Answer:",
            "--out", str(env.work / "features.json")]


@_c("discover-features-sae-d_in-mismatch", "discover-features", "sae", "48")
def _(env: Env) -> list[str]:
    return ["discover-features", "--model", str(env.assets["model"]), "--sae", str(env.assets["sae48"]),
            "--layer", "1", "--out", str(env.work / "features.json")]


@_c("study-unknown-key", "study", "colour")
def _(env: Env) -> list[str]:
    cfg = env.write("study.yaml", yaml.safe_dump({"model": str(env.assets["model"]), "colour": "red",
                                                  "output_dir": str(env.work / "study")}))
    return ["study", str(cfg)]


@_c("study-sae-release-not-in-registry", "study", "steering[sae].sae", "not in the installed sae-lens")
def _(env: Env) -> list[str]:
    cfg = env.write("study.yaml", yaml.safe_dump({
        "models": [{"id": "tiny", "model_args": {"pretrained": str(env.assets["model"])}}],
        "sweep": {"tasks": ["sweeptest_values"], "include_path": [str(env.assets["tasks"])],
                  "steering": [{"type": "none"}, {"type": "sae", "sae": "no-such-release::blocks.1.hook_resid_post",
                                                  "features": [1], "coefficients": [4]}]}}))
    return ["study", str(cfg), "--out", str(env.work / "run")]


# -- check (offline preflight of a study or sweep config)
@_c("check-old-sae-reference-unresolvable", "check", "steering[jh].sae", "llama-3-8b-it-res-jh::")
def _(env: Env) -> list[str]:
    return ["check", str(_sweep_cfg(env, steering=[{"type": "sae", "id": "jh", "features": [1], "coefficients": [4],
                                                    "sae": "Juliushanhanhan/llama-3-8b-it-res/blocks.25.hook_resid_post"}]))]


@_c("check-sae-layer-mismatch", "check", "steering[sae].layer", "the SAE reads blocks.1.hook_resid_post")
def _(env: Env) -> list[str]:
    return ["check", str(_sweep_cfg(env, steering=[{"type": "sae", "sae": str(env.assets["sae"]), "layer": 0,
                                                    "features": [3], "coefficients": [4]}]))]


@_c("check-gpu-too-small", "check", "batch_size", "GPU memory")
def _(env: Env) -> list[str]:
    return ["check", str(_sweep_cfg(env, device="cuda")), "--gpu-memory", "0.4GiB"]


@_c("check-bad-gpu-memory-flag", "check", "--gpu-memory")
def _(env: Env) -> list[str]:
    return ["check", str(_sweep_cfg(env)), "--gpu-memory", "lots"]


@_c("report-not-a-study-folder", "report", "RUN_DIR")
def _(env: Env) -> list[str]:
    env.write("run/notes.txt", "hello")
    return ["report", str(env.work / "run")]


# ----------------------------------------------------------------------------- the checks
def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with the sha256 of its bytes ('dir' for folders)."""
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


#: a tqdm progress bar line (model loading prints one before validation can fail); not a message
PROGRESS_BAR = re.compile(r"\|\s*\d+/\d+ \[")


def run_case(case: Case, work: Path, assets: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> str:
    """Run one catalogue case in-process; assert the contract; return the error line."""
    env = Env(work, assets)
    argv = case.setup(env)
    before = snapshot(work)
    capsys.readouterr()
    monkeypatch.chdir(work)
    if case.patch is not None:
        case.patch(monkeypatch)
    rc = cli_main(argv)
    monkeypatch.undo()
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and not PROGRESS_BAR.search(ln)]
    assert rc == 2, f"{case.id}: exit status {rc}; stderr:\n{err[-3000:]}"
    assert len(lines) == 1, f"{case.id}: expected one line on stderr, got:\n{err[-3000:]}"
    line = lines[0]
    assert "Traceback" not in err
    assert line.startswith("error: "), line
    assert case.field in line, f"{case.id}: field {case.field!r} not named: {line}"
    assert "(fix: " in line, f"{case.id}: no fix in: {line}"
    if case.contains:
        assert case.contains in line, f"{case.id}: {case.contains!r} not in: {line}"
    after = snapshot(work)
    assert after == before, f"{case.id}: output changed: {sorted(set(after.items()) ^ set(before.items()))}"
    log = os.environ.get("LM_EVAL_VALUES_BAD_INPUTS_LOG")  # docs/BAD_INPUTS.md examples are collected this way
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": case.id, "area": case.area, "message": line}) + "\n")
    return line


def assert_docs_list(cases: list[Case]) -> None:
    """docs/BAD_INPUTS.md names every case of ``cases``."""
    text = (REPO / "docs" / "BAD_INPUTS.md").read_text()
    missing = [c.id for c in cases if f"`{c.id}`" not in text]
    assert not missing, f"docs/BAD_INPUTS.md lacks: {missing}"


def test_catalogue_is_large_and_ids_unique() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({c.area for c in CASES}) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, assets: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    run_case(case, tmp_path, assets, monkeypatch, capsys)


def test_docs_list_every_case() -> None:
    assert_docs_list(CASES)


# ----------------------------------------------------------------------------- real processes
def _proc(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "lm_eval_values.cli", *argv], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=300)


def test_subprocess_exit_status_and_debug_traceback(tmp_path: Path) -> None:
    """The real process exits 2 with one line; ``--debug`` shows the traceback instead."""
    env = Env(tmp_path, {})
    ref = env.write("ref.json", json.dumps([["Power", "Kindness"]]))
    m = _good_matrix(env)
    argv = ["graph", str(m), "--out", str(tmp_path / "g"), "--reference", str(ref), "--jobs", "1"]
    plain = _proc(argv, tmp_path)
    assert plain.returncode == 2, plain.stderr
    assert plain.stderr.count("\n") == 1 and plain.stderr.startswith("error: reference: unknown node")
    assert "Traceback" not in plain.stderr and plain.stdout == ""
    debug = _proc([*argv, "--debug"], tmp_path)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr and "UserError" in debug.stderr
    assert not (tmp_path / "g").exists()


def test_subprocess_sweep_bad_config(tmp_path: Path) -> None:
    """A bad sweep config in a real process: exit 2, one line, no output folder."""
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(yaml.safe_dump({"model_args": {"pretrained": str(tmp_path / "nowhere")}, "tasks": ["values"],
                                   "output_dir": str(tmp_path / "out")}))
    res = _proc(["sweep", str(cfg)], tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: model_args.pretrained:")
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, field", [
    (["plan", "--target", "A:+", "--graph", "g", "--candidates", "roles", "--matrix", "m", "--out", "o",
      "--centering", "bogus"], "--centering"),
    (["side-effects", "--graph", "g", "--out", "o", "--policy", "bogus"], "--policy"),
    (["graph", "m.csv", "--out", "o", "--alpha", "x"], "--alpha"),
    (["study", "cfg.yaml", "--bogus"], "lm-eval-values study"),
    (["sweep"], "lm-eval-values sweep"),
    (["train-sae", "--model", "m", "--layer", "one", "--width", "8", "--tokens", "8"], "--layer"),
])
def test_bad_flags_of_every_command_are_one_line(argv: list[str], field: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """argparse's own errors (invalid choice, bad type, missing or unknown flag) are one line naming the
    flag, exit 2, no usage text and nothing written."""
    from lm_eval_values.cli import main as cli_main

    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {field}") and "--help" in err, err
    assert list(tmp_path.iterdir()) == []
