"""Property-based tests (hypothesis) of the inputs users hand to the commands.

For generated inputs, each command either succeeds with finite outputs or exits 2 with exactly one
``error:`` line, never a traceback, and never leaves a partial output:

* the sweep and study config readers, through ``lm-eval-values sweep`` / ``study`` (the run itself is
  replaced by a recorder: what is tested is everything the commands do before any model loads);
* the CSV / matrix readers, through ``lm-eval-values graph`` (strict CSV, value-matrix checks) and
  ``lm-eval-values matrix`` (per-condition sample files);
* the steering spec: parsed, compiled against a tiny model and run for one forward pass under
  :func:`steering_hooks.attach`: finite logits or one :class:`SpecError` line.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lm_eval_values.cli import main as cli_main
from lm_eval_values.core.errors import MAX_SEED
from steering_hooks.numbers import MAX_MAGNITUDE

EXAMPLES = 120
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))}


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``lm-eval-values argv`` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli_main(argv)
    return rc, out.getvalue(), err.getvalue()


def assert_refused_in_one_line(rc: int, err: str) -> None:
    event("refused in one line")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
    assert "Traceback" not in err


def strict_json(text: str) -> Any:
    """JSON without NaN / Infinity (a finite output)."""
    def refuse(name: str) -> Any:
        raise AssertionError(f"non-finite number {name} in an output")
    return json.loads(text, parse_constant=refuse)


# ----------------------------------------------------------------------------- shared pieces
odd_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["false", "no", "null", "~", "1e400", "-inf", "nan", "none", "NaN", "a,b", "", " ", "yes"]),
    st.text(max_size=8))
json_like = st.recursive(odd_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=8)
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10 ** 12), 10 ** 12),
                    st.sampled_from([1e7, -1e30, 1e300, 4.0, 0.5, "4", "1e400"]), st.floats(-10, 10))


# ============================================================================ sweep / study configs
@pytest.fixture(scope="module")
def config_assets(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict[str, Path]:
    import numpy as np

    from tests.sweep.test_sweep import write_task

    root = tmp_path_factory.mktemp("prop_cfg")
    np.save(root / "vec.npy", np.random.default_rng(0).standard_normal(64).astype("float32"))
    np.save(root / "vec_inf.npy", np.full(64, np.inf, dtype="float32"))
    return {"model": tiny_model_dir, "tasks": write_task(root / "tasks"), "vec": root / "vec.npy",
            "vec_inf": root / "vec_inf.npy"}


def steering_entry(assets: dict[str, Path], clean: bool = False) -> st.SearchStrategy[Any]:
    if clean:
        return st.one_of(
            st.just({"type": "none"}),
            st.fixed_dictionaries({"type": st.just("vector"), "vector": st.just(str(assets["vec"])),
                                   "id": st.sampled_from(["v", "w"]), "layer": st.integers(0, 1),
                                   "coefficients": st.lists(st.floats(-50, 50), min_size=1, max_size=2,
                                                            unique=True)}),
            st.fixed_dictionaries({"type": st.just("prompt"), "values": st.just(["Power"])}))
    vector = st.sampled_from([str(assets["vec"]), str(assets["vec_inf"]), "missing.npy"])
    return st.one_of(
        st.fixed_dictionaries({"type": st.just("none")}, optional={"id": st.one_of(st.just("none"), odd_scalars)}),
        st.fixed_dictionaries({"type": st.just("vector"), "vector": vector,
                               "coefficients": st.one_of(st.lists(numbers, max_size=3), numbers)},
                              optional={"id": st.one_of(st.sampled_from(["v", "none", "NaN", "a@b"]), odd_scalars),
                                        "layer": st.one_of(st.integers(-2, 4), odd_scalars),
                                        "positions": st.sampled_from(["prompt", "all", "last:2", "span:", "x"])}),
        st.fixed_dictionaries({"type": st.just("prompt"), "values": st.sampled_from([["Power"], ["Nope"], "Power"])},
                              optional={"directions": st.sampled_from([["inclined"], ["up"], "disinclined"])}),
        json_like)


def sweep_config(assets: dict[str, Path]) -> st.SearchStrategy[dict[str, Any]]:
    """Configs near the schema: two in three valid in type (values still vary), the rest anything."""
    return st.sampled_from([True, True, False]).flatmap(lambda clean: _sweep_config(assets, clean))


def _sweep_config(assets: dict[str, Path], clean: bool) -> st.SearchStrategy[dict[str, Any]]:
    def maybe(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return good if clean else st.one_of(good, json_like)

    seeds = st.integers(0, 2 ** 32 - 1) if clean else st.integers(-5, 2 ** 40)
    base = st.fixed_dictionaries({
        "model_args": maybe(st.just({"pretrained": str(assets["model"])})),
        "tasks": maybe(st.just(["sweeptest_values"])),
        "include_path": st.just([str(assets["tasks"])]),
        "steering": maybe(st.lists(steering_entry(assets, clean), min_size=1, max_size=3)),
    }, optional={
        "roles": maybe(st.fixed_dictionaries({}, optional={
            "no_role": st.booleans() if clean else st.one_of(st.booleans(), odd_scalars,
                                                             st.lists(st.sampled_from(["train", "test", "no"]))),
            "generate": st.fixed_dictionaries({}, optional={"train": st.integers(0 if clean else -1, 3),
                                                            "test": st.integers(0, 2), "seed": seeds})})),
        "sampling": st.fixed_dictionaries({}, optional={
            "fraction": st.floats(0.1, 1) if clean else numbers, "seed": seeds,
            "balance_keys": st.booleans() if clean else odd_scalars}),
        "seeds": st.lists(seeds, min_size=1, max_size=3, unique=True) if clean else st.one_of(
            st.lists(seeds, max_size=3), odd_scalars),
        "batch_size": st.integers(1, 16) if clean else st.one_of(st.integers(-1, 16), odd_scalars),
        "apply_chat_template": st.booleans() if clean else odd_scalars,
        "device": st.just("cpu") if clean else st.one_of(st.just("cpu"), odd_scalars),
        "format": st.sampled_from(["yesno", "likert"]) if clean else st.one_of(
            st.sampled_from(["yesno", "likert", "bogus"]), odd_scalars),
    })
    return base


def dump_yaml(cfg: dict[str, Any], mutation: int) -> str:
    text = yaml.safe_dump(cfg, sort_keys=False)
    lines = text.splitlines(keepends=True)
    if mutation == 1 and lines:  # a key written twice
        text += lines[0]
    elif mutation == 2:  # an alias bomb appended
        text += "bomb0: &b0 [x, x, x, x, x, x, x, x]\n" + "".join(
            f"bomb{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * 8) + "]\n" for i in range(1, 8))
    elif mutation == 3:  # a truncated document
        text = text[: len(text) // 2]
    return text


def check_parsed_sweep(cfg: Any) -> None:
    """What a sweep that passed every check hands to the run: finite numbers and valid seeds only."""
    for s in cfg.steering:
        assert math.isfinite(s.coefficient) and abs(s.coefficient) <= MAX_MAGNITUDE
        assert s.kind == "none" or s.id.lower() not in ("none", "nan", "")
    assert all(0 <= x <= MAX_SEED for x in cfg.seeds) and 0 <= cfg.sampling.seed <= MAX_SEED
    assert 0 < cfg.sampling.fraction <= 1
    assert all(isinstance(r.split, str) and r.split.lower() not in ("false", "true", "null") for r in cfg.roles)
    strict_json(json.dumps(cfg.result_identity(), default=str))
    ids = [c.condition_id for c in cfg.conditions()]
    assert len(set(ids)) == len(ids)


@SETTINGS
@given(data=st.data(), mutation=st.integers(0, 8))
def test_sweep_config_reader(config_assets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
                             data: st.DataObject, mutation: int) -> None:
    work = tmp_path_factory.mktemp("sweep_cfg")
    cfg = data.draw(sweep_config(config_assets))
    cfg["output_dir"] = str(work / "out")
    path = work / "sweep.yaml"
    path.write_text(dump_yaml(cfg, mutation))
    before = snapshot(work)
    seen: list[Any] = []

    def record(c: Any, **kw: Any) -> Any:
        seen.append(c)
        return mock.Mock(n_run=0, n_skipped=0, n_conditions=0)

    with mock.patch("lm_eval_values.cli.sweep.run_sweep", record):
        rc, _, err = run_cli(["sweep", str(path)])
    assert snapshot(work) == before  # nothing written before the run, whatever happened
    if rc == 0:
        event("accepted")
        assert len(seen) == 1 and "Traceback" not in err
        check_parsed_sweep(seen[0])
    else:
        assert_refused_in_one_line(rc, err)


@SETTINGS
@given(data=st.data(), mutation=st.integers(0, 8))
def test_study_config_reader(config_assets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
                             data: st.DataObject, mutation: int) -> None:
    work = tmp_path_factory.mktemp("study_cfg")
    sweep = data.draw(sweep_config(config_assets))
    sweep.pop("model_args", None)
    study = {"models": data.draw(st.one_of(
        st.just([{"id": "tiny", "model_args": {"pretrained": str(config_assets["model"])}}]), json_like)),
        "sweep": sweep}
    study.update(data.draw(st.fixed_dictionaries({}, optional={
        "seed": st.integers(-2, 2 ** 40), "name": odd_scalars, "graph": json_like, "bogus": odd_scalars})))
    path = work / "study.yaml"
    path.write_text(dump_yaml(study, mutation))
    before = snapshot(work)
    seen: list[Any] = []

    def record(c: Any, out: Path, **kw: Any) -> dict[str, Any]:
        seen.append(c)
        return {"report": str(out / "report.html"), "summary": []}

    with mock.patch("lm_eval_values.cli.study.run_study", record):
        rc, _, err = run_cli(["study", str(path), "--out", str(work / "run")])
    assert snapshot(work) == before
    if rc == 0:
        event("accepted")
        assert len(seen) == 1
        for m in seen[0].models:
            check_parsed_sweep(m.sweep)
    else:
        assert_refused_in_one_line(rc, err)


# ============================================================================ CSV / matrix readers
VALUE_NAMES = ["Power", "Benevolence", "Tradition", "Hedonism", "Security"]
META = ["condition_id", "role_id", "split", "steering_id", "coefficient", "seed"]
cells = st.one_of(st.floats(-3, 3, allow_nan=False).map(lambda x: f"{x:.4f}"), st.floats(-3, 3).map(str),
                  st.sampled_from(["", "inf", "-inf", "nan", "NA", "1e300", "1e400", "high", "0", "1", "none"]))
numeric_cells = st.integers(-30000, 30000).map(lambda i: f"{i / 10000:.4f}")


@st.composite
def value_csv(draw: st.DrawFn) -> str:
    noisy = draw(st.booleans())
    if noisy:
        names = draw(st.lists(st.sampled_from(VALUE_NAMES + [""]), min_size=2, max_size=5))
        n = draw(st.integers(0, 30))
    else:
        names = draw(st.lists(st.sampled_from(VALUE_NAMES), min_size=2, max_size=4, unique=True))
        n = draw(st.integers(len(names) + 2, 30))
    rows = []
    for i in range(n):
        steer = draw(st.sampled_from(["none", "none", "v", "NaN"])) if noisy else "none"
        coef = draw(st.sampled_from(["0", "4", "", "inf"])) if noisy else "0"
        cell = cells if noisy else st.one_of(*[numeric_cells] * 9, st.just(""))
        rows.append([f"c{i}", f"r{i}", "train", steer, coef, "0"] + [draw(cell) for _ in names])
    return ",".join(META + names) + "\n" + "".join(",".join(r) + "\n" for r in rows)


@SETTINGS
@given(text=value_csv())
def test_graph_reads_any_csv_to_finite_outputs_or_one_line(tmp_path_factory: pytest.TempPathFactory,
                                                            text: str) -> None:
    work = tmp_path_factory.mktemp("graph_csv")
    (work / "m.csv").write_text(text)
    with mock.patch("lm_eval_values.causal.stage_files.render_png", lambda *a, **k: b"png"):  # the reader is under test
        rc, _, err = run_cli(["graph", str(work / "m.csv"), "--out", str(work / "g"), "--jobs", "1"])
    if rc != 0:
        assert_refused_in_one_line(rc, err)
        assert not (work / "g").exists()
        return
    event("accepted")
    result = strict_json((work / "g" / "result.json").read_text())
    graph = strict_json((work / "g" / "graph.json").read_text())
    rows = result["rows"]
    assert rows["n_rows"] > len(result["values"]) and graph
    n_rows_in_file = text.count("\n") - 1
    dropped = [ln for ln in err.splitlines() if ln.startswith("note: INPUT: dropped")]
    n_dropped = int(dropped[0].split()[3]) if dropped else 0
    assert rows["n_rows"] + n_dropped == n_rows_in_file  # every row is used or counted as dropped
    assert rows["n_rows_dropped"] == n_dropped
    assert graph["graph"]["n_rows"] == rows["n_rows"]  # the record counts the rows the fit used


good_score = st.floats(-1, 1, allow_nan=False)
score = st.one_of(good_score, good_score, good_score, st.floats(allow_nan=True, allow_infinity=True),
                  st.sampled_from(["0.5", None, True, [0.1]]))
good_doc = st.fixed_dictionaries({"value": st.sampled_from(VALUE_NAMES)}, optional={"item_id": st.text(max_size=4)})
sample = st.fixed_dictionaries({"doc_id": st.one_of(st.integers(0, 50), st.integers(0, 50), odd_scalars),
                                "doc": st.one_of(good_doc, good_doc, good_doc, json_like),
                                "metrics": st.just(["score"]), "score": score})


clean_sample = st.fixed_dictionaries({"doc_id": st.integers(0, 50), "doc": good_doc, "metrics": st.just(["score"]),
                                      "score": good_score})
condition_sets = st.booleans().flatmap(lambda clean: st.lists(st.tuples(
    st.lists(clean_sample if clean else st.one_of(sample, sample, sample, json_like), max_size=5),
    st.integers(0, 4) if not clean else st.sampled_from([0, 2])), min_size=1, max_size=3))


@SETTINGS
@given(conditions=condition_sets)
def test_matrix_reads_any_condition_folder_to_finite_tables_or_one_line(tmp_path_factory: pytest.TempPathFactory,
                                                                        conditions: list[Any]) -> None:
    work = tmp_path_factory.mktemp("matrix_dir")
    for k, (samples, damage) in enumerate(conditions):
        d = work / "runs" / "conditions" / f"c{k}"
        d.mkdir(parents=True)
        data = "".join(json.dumps(s) + "\n" for s in samples).encode()
        rec = {"condition_id": f"c{k}", "role_id": f"r{k}", "split": "train", "steering_id": "none",
               "coefficient": 0, "seed": 0, "index": k, "identity_hash": "I", "sample_files": {"t": "samples_t.jsonl"},
               "samples": {"t": list(range(len(samples)))}, "n_items": len(samples),
               "sample_sha256": {"t": hashlib.sha256(data).hexdigest()}}
        if damage == 1 and samples:  # lost its last line
            data = data[: data.rstrip(b"\n").rfind(b"\n") + 1]
        elif damage == 2:  # an older sweep without content hashes
            del rec["sample_sha256"]
        (d / "samples_t.jsonl").write_bytes(data)
        (d / "condition.json").write_text(json.dumps(rec))
    rc, _, err = run_cli(["matrix", str(work / "runs"), "--out", str(work / "tables")])
    if rc != 0:
        assert_refused_in_one_line(rc, err)
        assert not (work / "tables").exists()
        return
    import csv

    event("accepted")
    for name in ("matrix.csv", "items.csv"):
        rows = list(csv.DictReader((work / "tables" / name).open()))
        for row in rows:
            for col in (VALUE_NAMES if name == "matrix.csv" else ["score"]):
                if row.get(col):
                    assert math.isfinite(float(row[col]))
    assert len(list(csv.DictReader((work / "tables" / "matrix.csv").open()))) == len(conditions)


# ============================================================================ steering spec
@pytest.fixture(scope="module")
def tiny_lm(tiny_model_dir: Path) -> tuple[Any, Any]:
    from lm_eval_values.model.loading import load_model

    model, tok = load_model(str(tiny_model_dir))
    return model, tok


vector_values = st.one_of(st.lists(st.floats(-2, 2, allow_nan=False), min_size=64, max_size=64),
                          st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=64, max_size=64),
                          st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=3))
intervention = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "clamp_projection", "ablate", "add"]),
     "layer": st.one_of(st.integers(-1, 3), st.sampled_from(["model.layers.1", "layers.0"])),
     "vector": vector_values},
    optional={"coeff": numbers, "value": numbers, "normalize": st.booleans(),
              "scale": st.sampled_from(["absolute", "resid_norm"]),
              "positions": st.sampled_from(["all", "prompt", "last:1", 'span:"values"', "span:zz"])})


@SETTINGS
@given(spec=st.one_of(st.lists(intervention, min_size=1, max_size=3), st.lists(intervention, max_size=2), json_like))
def test_steering_spec_gives_finite_logits_or_one_line(tiny_lm: tuple[Any, Any], spec: Any) -> None:
    import torch

    from steering_hooks import SpecError, attach, compile_spec

    model, tok = tiny_lm
    try:
        compiled = compile_spec(model, spec)
    except SpecError as exc:
        event("refused in one line")
        assert "\n" not in str(exc) and str(exc).strip()
        return
    enc = tok(["Question: what are your values? Answer:"], return_tensors="pt")
    try:
        with torch.no_grad(), attach(model, compiled, tokenizer=tok):
            logits = model(**enc).logits
    except SpecError as exc:  # e.g. a required span that the prompt does not contain
        assert "\n" not in str(exc)
        return
    event("accepted")
    assert bool(torch.isfinite(logits).all())
