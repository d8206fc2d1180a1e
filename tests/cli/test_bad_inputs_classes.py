"""The bad-input catalogue, part 2: one group of cases per class of defect, each through the real CLI.

Same contract as ``tests/cli/test_bad_inputs.py`` (exit 2, exactly one ``error:`` line naming the field
and a fix, no traceback, the case folder byte-for-byte unchanged). The classes, and the one mechanism
that handles each where the data enters:

* loose YAML: ``lm_eval_values.core.yaml_io`` (duplicate keys, size and alias limits), strict field types
  and seeds (``lm_eval_values.sweep.fields``), finite flags (``lm_eval_values.core.errors.ArgumentParser``);
* loose CSV: ``lm_eval_values.matrix.strict_csv`` and ``ValueMatrix.check`` / ``require_rows``;
* trusting what is on disk: ``lm_eval_values.matrix.condition_files.verify_condition`` and
  ``lm_eval_values.matrix.reading.verify_sweep_tables``;
* destroying input: ``lm_eval_values.core.inputs`` (the CLI guards every input; atomic writers refuse);
* reserved names: ``lm_eval_values.core.reserved``;
* non-finite or absurd numbers: ``steering_hooks.numbers`` (specs, vector files, SAE weights, ``.pt``);
* escaping exceptions: the loaders' one-line boundary (``core.inputs.reading``, ``steering_hooks.sources``);
* late validation: ``lm_eval_values.sweep.model_checks`` (model config and tokenizer only; weights never load).

``docs/BAD_INPUTS.md`` lists every case with its message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tests.cli.test_bad_inputs import (SCHWARTZ, Case, Env, _good_matrix, _matrix_csv, _sweep_cfg,  # noqa: F401
                                       assert_docs_list, assets, run_case)

REPO = Path(__file__).resolve().parents[2]
CASES: list[Case] = []


def _c(id_: str, area: str, field_: str, contains: str = "", patch: Any = None):
    def deco(fn: Any) -> Case:
        case = Case(id_, area, fn, field_, contains, patch)
        CASES.append(case)
        return case
    return deco


def _no_model_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if the sweep loads the model: these checks must come from the model's config alone."""
    def boom(*a: Any, **k: Any) -> None:
        raise AssertionError("the model was loaded before the config-only checks")
    monkeypatch.setattr("lm_eval_values.sweep.run.ConditionRunner", boom)


def _sweep(env: Env, **over: Any) -> list[str]:
    return ["sweep", str(_sweep_cfg(env, **over))]


def _vector_entry(path: Path, **over: Any) -> list[dict[str, Any]]:
    return [{"type": "vector", "id": "v", "vector": str(path), "layer": 1, "coefficients": [4], **over}]


def _graph(env: Env, matrix: Path, *extra: str) -> list[str]:
    return ["graph", str(matrix), "--out", str(env.work / "graph"), "--jobs", "1", *extra]


def _csv(env: Env, name: str, header: list[str], rows: list[list[Any]]) -> Path:
    return env.write(name, ",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))


def _rows(n: int, k: int, seed: int = 1) -> list[list[float]]:
    return np.random.default_rng(seed).standard_normal((n, k)).round(4).tolist()


def _meta(i: int, steering: str = "none", coef: float = 0) -> list[Any]:
    return [f"c{i}", f"r{i}", "train", steering, coef, 0]


META = ["condition_id", "role_id", "split", "steering_id", "coefficient", "seed"]
VALUES4 = ["Power", "Benevolence", "Tradition", "Hedonism"]


# ============================================================================ loose YAML
@_c("yaml-duplicate-key", "loose YAML", "CONFIG", "duplicate key 'tasks'")
def _(env: Env) -> list[str]:
    text = yaml.safe_dump(yaml.safe_load(_sweep_cfg(env).read_text())) + "tasks: [values_schwartz]\n"
    return ["sweep", str(env.write("sweep.yaml", text))]


@_c("yaml-duplicate-nested-key", "loose YAML", "CONFIG", "duplicate key 'layer'")
def _(env: Env) -> list[str]:
    cfg = _sweep_cfg(env, steering=_vector_entry(env.assets["vec"])).read_text()
    return ["sweep", str(env.write("sweep.yaml", cfg.replace("  layer: 1\n", "  layer: 1\n  layer: 0\n")))]


@_c("yaml-alias-bomb", "loose YAML", "CONFIG", "aliases")
def _(env: Env) -> list[str]:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    return ["sweep", str(env.write("sweep.yaml", "\n".join(lines) + "\ntasks: *a8\n"))]


@_c("yaml-recursive-alias", "loose YAML", "CONFIG", "alias refers to")
def _(env: Env) -> list[str]:
    return ["sweep", str(env.write("sweep.yaml", "tasks: &t [a, *t]\n"))]


@_c("yaml-too-large", "loose YAML", "CONFIG", "bytes")
def _(env: Env) -> list[str]:
    return ["sweep", str(env.write("sweep.yaml", "# " + "x" * (5 * 1024 * 1024) + "\ntasks: [a]\n"))]


@_c("study-duplicate-key", "loose YAML", "CONFIG", "duplicate key 'models'")
def _(env: Env) -> list[str]:
    models = yaml.safe_dump({"models": [{"id": "tiny", "model_args": {"pretrained": str(env.assets["model"])}}]})
    return ["study", str(env.write("study.yaml", models + models)), "--out", str(env.work / "run")]


@_c("spec-file-duplicate-key", "loose YAML", "steering[0].spec", "duplicate key 'coeff'")
def _(env: Env) -> list[str]:
    spec = env.write("spec.yaml", f"interventions:\n  - op: add\n    layer: 1\n    vector: {env.assets['vec']}\n"
                                  "    coeff: 2\n    coeff: 200\n")
    return _sweep(env, steering=[{"type": "spec", "id": "mine", "spec": str(spec)}])


@_c("sweep-no-role-quoted-false", "loose YAML", "roles.no_role", "'false'")
def _(env: Env) -> list[str]:
    return _sweep(env, roles={"no_role": "false"})


@_c("sweep-device-quoted-null", "loose YAML", "device", "'null'")
def _(env: Env) -> list[str]:
    return _sweep(env, device="null")


@_c("sweep-seed-beyond-numpy", "loose YAML", "seeds[0]", "outside 0..4294967295")
def _(env: Env) -> list[str]:
    return _sweep(env, seeds=[2 ** 40])


@_c("sweep-seed-negative", "loose YAML", "seeds[0]", "outside")
def _(env: Env) -> list[str]:
    return _sweep(env, seeds=[-1])


@_c("sweep-sampling-seed-beyond-numpy", "loose YAML", "sampling.seed", "outside")
def _(env: Env) -> list[str]:
    return _sweep(env, sampling={"fraction": 0.25, "seed": 2 ** 33})


@_c("sweep-role-generator-seed-negative", "loose YAML", "roles.generate.seed", "outside")
def _(env: Env) -> list[str]:
    return _sweep(env, roles={"generate": {"train": 2, "test": 0, "seed": -3}})


@_c("graph-seed-beyond-numpy", "flags", "--seed", "outside")
def _(env: Env) -> list[str]:
    return _graph(env, _good_matrix(env), "--seed", str(2 ** 40))


@_c("graph-alpha-nan", "flags", "--alpha", "not a finite number")
def _(env: Env) -> list[str]:
    return _graph(env, _good_matrix(env), "--alpha", "nan")


@_c("compare-human-seed-negative", "flags", "--seed", "outside")
def _(env: Env) -> list[str]:
    return ["compare-human", str(_good_matrix(env, values=SCHWARTZ)), "--out", str(env.work / "cmp"), "--seed", "-5"]


# ============================================================================ loose CSV
@_c("graph-duplicate-column", "loose CSV", "INPUT", "'Power' appears twice")
def _(env: Env) -> list[str]:
    return _graph(env, _csv(env, "m.csv", META + ["Power", "Benevolence", "Power"],
                            [_meta(i) + r for i, r in enumerate(_rows(20, 3))]))


@_c("graph-unnamed-column", "loose CSV", "INPUT", "has no name")
def _(env: Env) -> list[str]:
    return _graph(env, _csv(env, "m.csv", META + ["Power", "", "Tradition"],
                            [_meta(i) + r for i, r in enumerate(_rows(20, 3))]))


@_c("graph-infinite-cell", "loose CSV", "INPUT", "not a finite number")
def _(env: Env) -> list[str]:
    rows = [_meta(i) + r for i, r in enumerate(_rows(20, 3))]
    rows[4][7] = "inf"
    return _graph(env, _csv(env, "m.csv", META + VALUES4[:3], rows))


@_c("graph-huge-cell", "loose CSV", "INPUT", "beyond the limit")
def _(env: Env) -> list[str]:
    rows = [_meta(i) + r for i, r in enumerate(_rows(20, 3))]
    rows[2][6] = "1e300"
    return _graph(env, _csv(env, "m.csv", META + VALUES4[:3], rows))


@_c("graph-text-cell", "loose CSV", "INPUT", "'high' is not a number")
def _(env: Env) -> list[str]:
    rows = [_meta(i) + r for i, r in enumerate(_rows(20, 3))]
    rows[7][8] = "high"
    return _graph(env, _csv(env, "m.csv", META + VALUES4[:3], rows))


@_c("graph-too-few-rows-after-dropping", "loose CSV", "matrix", "rows with an empty value cell dropped")
def _(env: Env) -> list[str]:
    rows = [_meta(i) + r for i, r in enumerate(_rows(8, 4))]
    for r in rows[:4]:
        r[6] = ""
    return _graph(env, _csv(env, "m.csv", META + VALUES4, rows))


@_c("graph-linearly-dependent-columns", "loose CSV", "matrix", "linear combination")
def _(env: Env) -> list[str]:
    x = np.random.default_rng(3).standard_normal((30, 3))
    rows = np.column_stack([x, x[:, 0] + x[:, 1]]).round(6).tolist()
    return _graph(env, _matrix_csv(env, rows, VALUES4))


@_c("graph-steered-row-named-none", "reserved names", "INPUT", "'none' is reserved")
def _(env: Env) -> list[str]:
    rows = [_meta(i, "none", 4 if i == 3 else 0) + r for i, r in enumerate(_rows(20, 3))]
    return _graph(env, _csv(env, "m.csv", META + VALUES4[:3], rows))


@_c("graph-folder-matrix-edited", "trusting disk", "INPUT", "not the file the sweep wrote")
def _(env: Env) -> list[str]:
    m = _good_matrix(env, name="runs/matrix.csv")
    env.write("runs/manifest.json", json.dumps({"files": {"matrix.csv": "0" * 64}}))
    return _graph(env, m.parent)


@_c("compare-human-too-few-rows", "loose CSV", "INPUT", "3 complete rows for 10 values")
def _(env: Env) -> list[str]:
    return ["compare-human", str(_good_matrix(env, n=3, values=SCHWARTZ)), "--out", str(env.work / "cmp"),
            "--no-plots", "--permutations", "10"]


@_c("compare-human-duplicate-column", "loose CSV", "INPUT", "appears twice")
def _(env: Env) -> list[str]:
    return ["compare-human", str(_csv(env, "t.csv", SCHWARTZ + ["Power"], _rows(30, 11))), "--out",
            str(env.work / "cmp"), "--no-plots", "--permutations", "10"]


@_c("side-effects-changes-duplicate-column", "loose CSV", "--changes", "appears twice")
def _(env: Env) -> list[str]:
    g = env.write("g.json", json.dumps([["Power", "Tradition"]]))
    ch = _csv(env, "changes.csv", ["Power", "Tradition", "Power"], _rows(6, 3))
    return ["side-effects", "--graph", str(g), "--changes", str(ch), "--out", str(env.work / "se")]


@_c("side-effects-changes-infinite-cell", "loose CSV", "--changes", "not a finite number")
def _(env: Env) -> list[str]:
    g = env.write("g.json", json.dumps([["Power", "Tradition"]]))
    ch = env.write("changes.csv", "Power,Tradition\n0.1,0.2\n-inf,0.3\n0.2,0.1\n")
    return ["side-effects", "--graph", str(g), "--changes", str(ch), "--out", str(env.work / "se")]


@_c("side-effects-changes-empty-cell", "non-finite numbers", "--changes", "line 3, column 'Tradition' is empty")
def _(env: Env) -> list[str]:
    g = env.write("g.json", json.dumps([["Power", "Tradition"]]))
    ch = env.write("changes.csv", "Power,Tradition\n0.1,0.2\n0.3,nan\n0.2,0.1\n")
    return ["side-effects", "--graph", str(g), "--changes", str(ch), "--out", str(env.work / "se")]


@_c("side-effects-graph-over-other-values", "loose CSV", "--graph", "is a graph over other values")
def _(env: Env) -> list[str]:
    nodes = [{"id": v, "kind": "value"} for v in VALUES4]
    g = env.write("g.json", json.dumps({"nodes": nodes, "edges": []}))
    ch = _csv(env, "changes.csv", ["Power", "Benevolence", "Tradition", "Kindness"], _rows(3, 4))
    return ["side-effects", "--graph", str(g), "--changes", str(ch), "--out", str(env.work / "se")]


# ============================================================================ trusting what is on disk
def _condition(env: Env, scores: list[Any], hashed: bool = False) -> Path:
    """A finished sweep condition as the sweep writes it (``samples`` recorded; ``hashed``: SHA-256 too)."""
    import hashlib

    d = env.work / "runs" / "conditions" / "c1"
    d.mkdir(parents=True)
    lines = [{"doc_id": i, "doc": {"item_id": f"p{i}", "value": "Power", "agreement": 1}, "metrics": ["score"],
              "score": s} for i, s in enumerate(scores)]
    data = "".join(json.dumps(x) + "\n" for x in lines).encode()
    (d / "samples_t.jsonl").write_bytes(data)
    rec = {"condition_id": "c1", "role_id": "r", "split": "train", "steering_id": "none", "coefficient": 0,
           "seed": 0, "index": 0, "identity_hash": "I", "sample_files": {"t": "samples_t.jsonl"},
           "samples": {"t": list(range(len(scores)))}, "n_items": len(scores)}
    if hashed:
        rec["sample_sha256"] = {"t": hashlib.sha256(data).hexdigest()}
    (d / "condition.json").write_text(json.dumps(rec))
    return d


@_c("matrix-samples-lost-last-line", "trusting disk", "DIR", "has 2 samples, condition.json records 3")
def _(env: Env) -> list[str]:
    d = _condition(env, [0.1, 0.2, 0.3])
    lines = (d / "samples_t.jsonl").read_text().splitlines(keepends=True)
    (d / "samples_t.jsonl").write_text("".join(lines[:-1]))
    return ["matrix", str(env.work / "runs")]


@_c("matrix-samples-edited", "trusting disk", "DIR", "SHA-256")
def _(env: Env) -> list[str]:
    d = _condition(env, [0.1, 0.2, 0.3], hashed=True)
    (d / "samples_t.jsonl").write_text((d / "samples_t.jsonl").read_text().replace("0.2", "0.9"))
    return ["matrix", str(env.work / "runs")]


@_c("matrix-condition-record-not-an-object", "trusting disk", "DIR", "not a JSON object")
def _(env: Env) -> list[str]:
    d = _condition(env, [0.1])
    (d / "condition.json").write_text("[1, 2]")
    return ["matrix", str(env.work / "runs")]


@_c("matrix-nan-score", "non-finite numbers", "DIR", "not a finite number")
def _(env: Env) -> list[str]:
    _condition(env, [0.1, float("nan")])
    return ["matrix", str(env.work / "runs")]


@_c("matrix-samples-not-utf8", "escaping exceptions", "DIR", "cannot read")
def _(env: Env) -> list[str]:
    d = _condition(env, [0.1])
    (d / "samples_t.jsonl").write_bytes(b'{"doc_id": 0, "doc": {"value": "\xff\xfe"}}\n')
    return ["matrix", str(env.work / "runs")]


# ============================================================================ destroying input
def _inventory(env: Env, name: str = "inv/inv.csv", values: tuple[str, ...] = ("Power", "Tradition")) -> Path:
    rows = "".join(f"q,{v}{k},{v},{1 if k else -1},Do you value {v.lower()} {k}?\n" for v in values for k in range(2))
    return env.write(name, "questionnaire,item,value,agreement,question\n" + rows)


@_c("make-tasks-out-holds-the-source", "destroying input", "--out", "holds the input")
def _(env: Env) -> list[str]:
    src = _inventory(env)
    return ["make-tasks", str(src), "--prefix", "values_mine", "--out", str(src.parent), "--force"]


@_c("make-tasks-out-is-an-ancestor-of-the-source", "destroying input", "--out", "holds the input")
def _(env: Env) -> list[str]:
    src = _inventory(env)
    return ["make-tasks", str(src), "--prefix", "values_mine", "--out", ".", "--force"]


@_c("graph-out-overwrites-the-reference", "destroying input", "--out", "overwrite an input")
def _(env: Env) -> list[str]:
    ref = env.write("graph/graph.json", json.dumps([["Power", "Tradition"]]))
    return _graph(env, _good_matrix(env), "--reference", str(ref))


# ============================================================================ reserved names
@_c("sweep-steered-id-none", "reserved names", "steering[0].id", "reserved for unsteered")
def _(env: Env) -> list[str]:
    return _sweep(env, steering=_vector_entry(env.assets["vec"], id="none"))


@_c("sweep-steered-id-nan", "reserved names", "steering[0].id", "reserved for unsteered")
def _(env: Env) -> list[str]:
    return _sweep(env, steering=_vector_entry(env.assets["vec"], id="NaN"))


@_c("sweep-steering-id-with-comma", "reserved names", "steering[0].id", "split at commas")
def _(env: Env) -> list[str]:
    return _sweep(env, steering=_vector_entry(env.assets["vec"], id="a,b"))


@_c("make-tasks-prefix-shadows-stock-task", "reserved names", "--prefix", "arc_easy")
def _(env: Env) -> list[str]:
    src = _inventory(env, values=("Easy", "Power"))
    return ["make-tasks", str(src), "--prefix", "arc", "--out", str(env.work / "tasks")]


@_c("make-tasks-group-shadows-stock-task", "reserved names", "--prefix", "hellaswag")
def _(env: Env) -> list[str]:
    return ["make-tasks", str(_inventory(env)), "--prefix", "hellaswag", "--formats", "yesno",
            "--out", str(env.work / "tasks")]


# ============================================================================ non-finite or absurd numbers
def _npy(env: Env, name: str, arr: np.ndarray, **kw: Any) -> Path:
    path = env.work / name
    np.save(path, arr, **kw)
    return path


@_c("sweep-vector-infinite", "non-finite numbers", "steering[v].vector", "non-finite")
def _(env: Env) -> list[str]:
    return _sweep(env, steering=_vector_entry(_npy(env, "inf.npy", np.full(64, np.inf, dtype="float32"))))


@_c("sweep-vector-nan", "non-finite numbers", "steering[v].vector", "non-finite")
def _(env: Env) -> list[str]:
    v = np.ones(64, dtype="float32")
    v[5] = np.nan
    return _sweep(env, steering=_vector_entry(_npy(env, "nan.npy", v)))


@_c("sweep-vector-absurd-entry", "non-finite numbers", "steering[v].vector", "beyond the limit")
def _(env: Env) -> list[str]:
    return _sweep(env, steering=_vector_entry(_npy(env, "huge.npy", np.full(64, 1e30))))


@_c("sweep-coefficient-huge", "non-finite numbers", "coeff", "beyond the limit")
def _(env: Env) -> list[str]:
    return _sweep(env, steering=_vector_entry(env.assets["vec"], coefficients=[1e30]))


@_c("sweep-dose-overflows", "non-finite numbers", "steering[v].interventions[0].coeff", "this dose adds up to")
def _(env: Env) -> list[str]:
    return _sweep(env, steering=_vector_entry(_npy(env, "big.npy", np.full(64, 100.0, dtype="float32")),
                                              coefficients=[5e4]))


@_c("spec-clamp-value-infinite", "non-finite numbers", "steering[0].spec.interventions[0].value", "not a finite")
def _(env: Env) -> list[str]:
    return _sweep(env, steering=[{"type": "spec", "id": "c", "spec": {"interventions": [
        {"op": "clamp_projection", "layer": 1, "vector": str(env.assets["vec"]), "value": float("inf")}]}}])


@_c("spec-coefficient-text-overflows", "non-finite numbers", "steering[0].spec.interventions[0].coeff",
    "not a finite number")
def _(env: Env) -> list[str]:
    return _sweep(env, steering=[{"type": "spec", "id": "c", "spec": {"interventions": [
        {"op": "add", "layer": 1, "vector": str(env.assets["vec"]), "coeff": "1e400"}]}}])


@_c("sweep-sae-weights-nan", "non-finite numbers", "sae", "non-finite")
def _(env: Env) -> list[str]:
    import torch
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    sae = StandardSAE(StandardSAEConfig(d_in=64, d_sae=8, metadata=SAEMetadata(hook_name="blocks.1.hook_resid_post")))
    with torch.no_grad():
        sae.W_dec[3, 0] = float("nan")
    sae.save_model(str(env.work / "nan_sae"))
    return _sweep(env, steering=[{"type": "sae", "id": "sae", "sae": str(env.work / "nan_sae"), "layer": 1,
                                  "features": [3], "coefficients": [4]}])


@_c("spec-steered-pt-coefficient-nan", "non-finite numbers", "steering_coefficient", "not a finite number")
def _(env: Env) -> list[str]:
    import torch

    torch.save({"layers.1": {"steering_vector": torch.ones(64), "steering_coefficient": float("nan"),
                             "action": "add"}}, env.work / "steer.pt")
    return _sweep(env, steering=[{"type": "spec", "id": "pt", "spec": str(env.work / "steer.pt")}])


# ============================================================================ escaping exceptions
@_c("sweep-vector-pickled-npy", "escaping exceptions", "steering[v].vector", "cannot read the vector file")
def _(env: Env) -> list[str]:
    return _sweep(env, steering=_vector_entry(_npy(env, "obj.npy", np.array([{"a": 1}], dtype=object),
                                                   allow_pickle=True)))


@_c("sweep-vector-truncated-npy", "escaping exceptions", "steering[v].vector", "cannot read the vector file")
def _(env: Env) -> list[str]:
    path = _npy(env, "cut.npy", np.ones(64, dtype="float32"))
    path.write_bytes(path.read_bytes()[:150])
    return _sweep(env, steering=_vector_entry(path))


@_c("sweep-vector-corrupt-safetensors", "escaping exceptions", "steering[v].vector", "cannot read the vector file")
def _(env: Env) -> list[str]:
    return _sweep(env, steering=_vector_entry(env.write("v.safetensors", "\x08" + "\x00" * 7 + "{not json}")))


@_c("sweep-vector-text-npy", "escaping exceptions", "steering[v].vector", "cannot read the vector file")
def _(env: Env) -> list[str]:
    return _sweep(env, steering=_vector_entry(_npy(env, "text.npy", np.array(["a", "b"]))))


@_c("sweep-output-manifest-not-an-object", "escaping exceptions", "output_dir", "is not a sweep manifest")
def _(env: Env) -> list[str]:
    env.write("out/manifest.json", "[1, 2, 3]")
    return _sweep(env)


# ============================================================================ late validation (config only)
@_c("sweep-vector-width-before-load", "late validation", "steering[v].vector", "48 dims", patch=_no_model_load)
def _(env: Env) -> list[str]:
    return _sweep(env, steering=_vector_entry(_npy(env, "v48.npy", np.ones(48, dtype="float32"))))


@_c("sweep-role-beyond-context", "late validation", "roles", "tokens", patch=_no_model_load)
def _(env: Env) -> list[str]:
    roles = env.write("roles.json", json.dumps({"talker": {"text": "I talk a lot about values. " * 400}}))
    return _sweep(env, roles={"files": [{"path": str(roles), "split": "train"}], "template": "text"})


@_c("sweep-role-beyond-character-limit", "late validation", "roles", "characters", patch=_no_model_load)
def _(env: Env) -> list[str]:
    roles = env.write("roles.json", json.dumps({"novel": {"text": "word " * 220_000}}))
    return _sweep(env, roles={"files": [{"path": str(roles), "split": "train"}], "template": "text"})


@_c("sweep-hookpoint-beyond-model", "late validation", "steering[v].hookpoint", "beyond", patch=_no_model_load)
def _(env: Env) -> list[str]:
    entry = _vector_entry(env.assets["vec"])
    del entry[0]["layer"]
    entry[0]["hookpoint"] = "model.layers.9"
    return _sweep(env, steering=entry)


# ----------------------------------------------------------------------------- the checks
def test_catalogue_part_two_is_large_and_ids_unique() -> None:
    from tests.cli.test_bad_inputs import CASES as FIRST

    assert len(CASES) >= 40
    ids = [c.id for c in CASES] + [c.id for c in FIRST]
    assert len(set(ids)) == len(ids)
    assert len({c.area for c in CASES}) >= 8


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, assets: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    run_case(case, tmp_path, assets, monkeypatch, capsys)


def test_docs_list_every_case() -> None:
    assert_docs_list(CASES)
