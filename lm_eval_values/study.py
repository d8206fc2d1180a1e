"""``lm-eval-values study CONFIG [--out DIR]``: the end-to-end value study, resumable, with a report.

For every model of the config the study runs five stages, each into its own folder of the run
directory, then writes the report::

    RUN/study.json                  # resolved config, versions, stage status and timings
    RUN/<model>/vectors/            # 1. diff-of-means steering vectors (only if `vectors:` is set)
    RUN/<model>/sweep/              # 2. roles x steering settings on the value tasks (lm_eval_values.sweep):
                                    #    matrix.csv, items.csv, manifest.json, conditions/<id>/...
    RUN/<model>/graph/              # 3. causal graph of the TRAIN rows with a role bootstrap (lm_eval_values.causal)
    RUN/<model>/human/              # 4. comparison with the human Schwartz structure (lm_eval_values.circumplex)
    RUN/<model>/side_effects/       # 5. the study's expected/unexpected metric and the held-out side-effect
                                    #    evaluation vs baselines (lm_eval_values.side_effects)
    RUN/report.html, RUN/figures/   # the report (lm_eval_values.report; `lm-eval-values report RUN` redraws it)

Resuming: a stage folder appears only when the stage is complete (it is built in a temporary
sibling and renamed), with a ``stage.json`` holding the hash of everything it depends on (its
config section and the files it read). A re-run skips stages whose hash still matches and redoes
those whose inputs changed. The sweep resumes per condition (see :mod:`lm_eval_values.sweep`).

The config (YAML, ``yaml.safe_load``) is validated completely before anything runs or is written;
unknown keys raise :class:`~lm_eval_values.errors.UserError`::

    name: SmolLM2 value study          # report title
    output_dir: runs/study             # --out overrides; default runs/<config file name>; relative to the cwd
    seed: 0                            # bootstrap / permutation / random-graph seed
    models:                            # one or more; ids name the sub-folders
      - id: smollm2
        label: SmolLM2-135M-Instruct
        model_args: {pretrained: smollm2-135m-instruct, dtype: float32}
        apply_chat_template: true      # any sweep key here overrides `sweep:` for this model
    sweep:                             # sweep config keys shared by all models (lm_eval_values.sweep_config),
      tasks: [values_schwartz]         # except model_args and output_dir
      roles: {generate: {train: 10, test: 5, seed: 0}, no_role: [train, test]}
      steering: [{type: none}, {type: prompt, values: [Power], directions: [inclined, disinclined]}]
      sampling: {max_items_per_value: 3, seed: 0}
      batch_size: 16
    vectors:                           # optional: one diff-of-means vector per value, steered with
      values: [Power]                  # scale resid_norm (coefficient x residual norm x unit direction)
      layer: null                      # null: the middle decoder layer
      coefficients: [-0.5, 0.5]
      positions: prompt
    graph: {algo: pc, alpha: 0.05, indep_test: fisherz, bootstrap: 100, threshold: 0.5, policy: study,
            split: train}
    human: {centering: mrat, permutations: 2000, bootstrap: 500, alpha: 0.05}
    side_effects: {fdr: 0.05, n_random: 100, policy: study, heldout_split: test,
                   centering: none, tol: 0}   # median|mrat, tol > 0: value-specific changes only (side_effects.py)
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from lm_eval_values.atomic import atomic_directory, atomic_write_json, atomic_write_text, check_writable_dir
from lm_eval_values.errors import ArgumentParser, UserError
from lm_eval_values.preflight_checks import CheckSettings, check_parsed
from lm_eval_values.yaml_io import read_yaml_file

STUDY_FILE = "study.json"
STAGE_FILE = "stage.json"
STAGES = ("vectors", "sweep", "graph", "human", "side_effects")
#: Analysis stages that ``--redo`` can force, and the version of each stage's method: bumped when the
#: same inputs give different outputs (a finished stage of an older version is redone on resume).
ANALYSIS_STAGE_VERSIONS = {"graph": 1, "human": 2, "side_effects": 2}
FORMAT = "lm-eval-values/study"
VERSION = 1

_TOP_KEYS = {"name", "output_dir", "seed", "models", "sweep", "vectors", "graph", "human", "side_effects"}
_MODEL_KEYS = {"id", "label", "model", "model_args", "apply_chat_template", "fewshot_as_multiturn", "batch_size",
               "device", "steering", "format", "gen_kwargs", "num_fewshot", "task_metadata"}
_VECTOR_KEYS = {"values", "layer", "coefficients", "positions", "texts"}
_GRAPH_KEYS = {"algo", "alpha", "indep_test", "bootstrap", "threshold", "policy", "split", "keep_steer", "jobs"}
_HUMAN_KEYS = {"centering", "permutations", "bootstrap", "alpha", "rows", "convention"}
_SIDE_KEYS = {"fdr", "n_random", "policy", "heldout_split", "tol", "centering"}

#: Neutral requests the value-definition prompts are paired with to build steering vectors
#: (written for this project; deliberately not questionnaire items, so no item leaks into a vector).
VECTOR_TEXTS: tuple[str, ...] = (
    "How should I spend my free weekend?",
    "What should I look for in a new job?",
    "A friend asks me for advice about moving to another city. What do I say?",
    "How do I decide what to do with some extra money?",
    "What matters most when choosing where to live?",
    "How should I plan the next five years of my life?",
    "My neighbour needs help on the day I planned to rest. What should I do?",
    "What kind of person do I want to become?",
)


# ----------------------------------------------------------------------------- config
@dataclass
class ModelSpec:
    """One model of the study: its id (folder name), label, and its validated sweep config."""

    id: str
    label: str
    sweep_raw: dict[str, Any]
    sweep: Any  # SweepConfig without the study's vector settings


@dataclass
class VectorSpec:
    """Diff-of-means steering vectors built by the study (one per value)."""

    values: list[str]
    layer: int | None
    coefficients: list[float]
    positions: str
    texts: list[str]

    def record(self) -> dict[str, Any]:
        return {"values": self.values, "layer": self.layer, "coefficients": self.coefficients,
                "positions": self.positions, "texts": self.texts}


@dataclass
class StudyConfig:
    """A validated study config (see the module docstring)."""

    name: str
    seed: int
    models: list[ModelSpec]
    vectors: VectorSpec | None
    graph: dict[str, Any]
    human: dict[str, Any]
    side_effects: dict[str, Any]
    output_dir: Path | None
    raw: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    base: Path = Path(".")


def _mapping(x: Any, where: str) -> dict[str, Any]:
    if x is None:
        return {}
    if not isinstance(x, dict):
        raise UserError(where, f"must be a mapping, got {type(x).__name__}", "write key: value pairs")
    return dict(x)


def _unknown(d: dict[str, Any], allowed: set[str], where: str) -> None:
    for k in d:
        if k not in allowed:
            raise UserError(f"{where}{k}", "unknown key", f"remove it; allowed keys here: {', '.join(sorted(allowed))}")


def _int(x: Any, where: str, minimum: int = 0) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < minimum:
        raise UserError(where, f"must be an integer >= {minimum}, got {x!r}", f"give a whole number >= {minimum}")
    return int(x)


def _prob(x: Any, where: str, closed: bool = False) -> float:
    ok = isinstance(x, (int, float)) and not isinstance(x, bool) and (0 < x < 1 or (closed and x == 1))
    if not ok:
        raise UserError(where, f"must be a number in (0, 1{']' if closed else ')'}, got {x!r}", "e.g. 0.05")
    return float(x)


def _choice(x: Any, options: tuple[str, ...], where: str) -> str:
    if x not in options:
        raise UserError(where, f"unknown value {x!r}", f"use one of: {', '.join(options)}")
    return str(x)


def _parse_graph(x: Any) -> dict[str, Any]:
    from lm_eval_values.causal.discovery import ALGOS, INDEP_TESTS
    from lm_eval_values.causal.graph import POLICIES

    d = _mapping(x, "graph")
    _unknown(d, _GRAPH_KEYS, "graph.")
    keep = d.get("keep_steer")
    if keep is not None and (not isinstance(keep, list) or not all(isinstance(s, (str, int)) for s in keep)):
        raise UserError("graph.keep_steer", f"must be a list of steering ids, got {keep!r}", "e.g. [none, 'prompt:Power']")
    jobs = d.get("jobs")
    return {
        "algo": _choice(d.get("algo", "pc"), ALGOS, "graph.algo"),
        "alpha": _prob(d.get("alpha", 0.05), "graph.alpha"),
        "indep_test": _choice(d.get("indep_test", "fisherz"), INDEP_TESTS, "graph.indep_test"),
        "bootstrap": _int(d.get("bootstrap", 100), "graph.bootstrap"),
        "threshold": _prob(d.get("threshold", 0.5), "graph.threshold", closed=True),
        "policy": _choice(d.get("policy", "study"), tuple(POLICIES), "graph.policy"),
        "split": None if d.get("split", "train") is None else str(d.get("split", "train")),
        "keep_steer": None if keep is None else [str(s) for s in keep],
        "jobs": None if jobs is None else _int(jobs, "graph.jobs", 1),
    }


def _parse_human(x: Any) -> dict[str, Any]:
    from lm_eval_values.circumplex import CENTERINGS, CONVENTIONS

    d = _mapping(x, "human")
    _unknown(d, _HUMAN_KEYS, "human.")
    return {
        "centering": _choice(d.get("centering", "mrat"), CENTERINGS, "human.centering"),
        "permutations": _int(d.get("permutations", 2000), "human.permutations", 1),
        "bootstrap": _int(d.get("bootstrap", 500), "human.bootstrap"),
        "alpha": _prob(d.get("alpha", 0.05), "human.alpha"),
        "rows": _choice(d.get("rows", "unsteered"), ("unsteered", "all"), "human.rows"),
        "convention": _choice(d.get("convention", "separate"), CONVENTIONS, "human.convention"),
    }


def _parse_side(x: Any) -> dict[str, Any]:
    from lm_eval_values.side_effects import CENTERINGS

    d = _mapping(x, "side_effects")
    _unknown(d, _SIDE_KEYS, "side_effects.")
    tol = d.get("tol", 0.0)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or tol < 0:
        raise UserError("side_effects.tol", f"must be a number >= 0, got {tol!r}", "e.g. 0 (the study) or 0.01")
    return {
        "fdr": _prob(d.get("fdr", 0.05), "side_effects.fdr"),
        "n_random": _int(d.get("n_random", 100), "side_effects.n_random"),
        "policy": _choice(d.get("policy", "study"), ("study", "possible", "directed"), "side_effects.policy"),
        "heldout_split": str(d.get("heldout_split", "test")),
        "tol": float(tol),
        "centering": _choice(d.get("centering", "none"), CENTERINGS, "side_effects.centering"),
    }


def _parse_vectors(x: Any) -> VectorSpec | None:
    if x is None:
        return None
    from lm_eval_values.sweep_config import VALUE_DEFINITIONS

    d = _mapping(x, "vectors")
    _unknown(d, _VECTOR_KEYS, "vectors.")
    values = d.get("values")
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not values:
        raise UserError("vectors.values", "must be a non-empty list of value names", "e.g. [Power, Universalism]")
    for v in values:
        if v not in VALUE_DEFINITIONS:
            raise UserError("vectors.values", f"no value definition for {v!r}",
                            f"use some of: {', '.join(VALUE_DEFINITIONS)}")
    if len(set(values)) != len(values):
        raise UserError("vectors.values", "has duplicates", "list each value once")
    layer = d.get("layer")
    layer = None if layer is None else _int(layer, "vectors.layer")
    coefs = d.get("coefficients", [-0.5, 0.5])
    if not isinstance(coefs, list) or not coefs or not all(
            isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) and c != 0 for c in coefs):
        raise UserError("vectors.coefficients", f"must be a list of non-zero numbers, got {coefs!r}", "e.g. [-0.5, 0.5]")
    positions = d.get("positions", "prompt")
    from steering_hooks.errors import SpecError
    from steering_hooks.spec import parse_positions

    try:
        parse_positions(positions, "vectors.positions")
    except SpecError as exc:
        raise UserError("vectors.positions", exc.problem, exc.fix) from None
    texts = d.get("texts", list(VECTOR_TEXTS))
    if not isinstance(texts, list) or len(texts) < 2 or not all(isinstance(t, str) and t.strip() for t in texts):
        raise UserError("vectors.texts", "must be a list of at least two non-empty strings", "or leave it out")
    return VectorSpec([str(v) for v in values], layer, [float(c) for c in coefs], str(positions), list(texts))


def parse_study_config(data: Any, base: Path, source: str = "") -> StudyConfig:
    """Validate a parsed study YAML (see the module docstring); nothing is run or written."""
    from lm_eval_values.sweep_config import parse_config

    d = _mapping(data, "config")
    if not d:
        raise UserError("config", "is empty", "give at least models and sweep")
    _unknown(d, _TOP_KEYS, "")
    name = d.get("name", "Value study")
    if not isinstance(name, str) or not name.strip():
        raise UserError("name", f"must be a non-empty string, got {name!r}", "e.g. name: SmolLM2 value study")
    seed = _int(d.get("seed", 0), "seed")
    shared = _mapping(d.get("sweep"), "sweep")
    for k in ("model_args", "output_dir", "model"):
        if k in shared:
            raise UserError(f"sweep.{k}", "is set per model in this config", f"move {k} under models[i]")
    models_raw = d.get("models")
    if not isinstance(models_raw, list) or not models_raw:
        raise UserError("models", "must be a non-empty list", "e.g. [{id: smollm2, model_args: {pretrained: smollm2-135m-instruct}}]")
    vectors = _parse_vectors(d.get("vectors"))
    models: list[ModelSpec] = []
    for i, m in enumerate(models_raw):
        m = _mapping(m, f"models[{i}]")
        _unknown(m, _MODEL_KEYS, f"models[{i}].")
        mid = m.get("id")
        if not isinstance(mid, str) or not mid or not all(c.isalnum() or c in "-_." for c in mid) or mid.startswith("."):
            raise UserError(f"models[{i}].id", f"must be a folder-safe name, got {mid!r}", "use letters, digits, - _ .")
        if any(x.id == mid for x in models):
            raise UserError(f"models[{i}].id", f"duplicate id {mid!r}", "give each model its own id")
        merged = copy.deepcopy(shared)
        merged.update({k: copy.deepcopy(v) for k, v in m.items() if k not in ("id", "label")})
        try:
            cfg = parse_config(merged, base=base, source=source)
        except UserError as exc:
            raise UserError(f"models[{mid}].{exc.field}", exc.problem, exc.fix) from None
        if vectors is not None and cfg.model != "values_hf":
            raise UserError(f"models[{mid}].model", "steering vectors need model values_hf", "drop vectors: or use values_hf")
        if vectors is not None and any(s.id == f"vec:{v}" for s in cfg.steering for v in vectors.values):
            raise UserError("vectors", "a sweep steering id clashes with the study's vec:<Value> ids", "rename it")
        label = m.get("label", mid)
        models.append(ModelSpec(mid, str(label), merged, cfg))
    graph = _parse_graph(d.get("graph"))
    human = _parse_human(d.get("human"))
    side = _parse_side(d.get("side_effects"))
    for ms in models:
        _check_graph_rows(ms, vectors, graph)
    out = d.get("output_dir")
    if out is not None and (not isinstance(out, str) or not out.strip()):
        raise UserError("output_dir", f"must be a folder path, got {out!r}", "e.g. runs/study")
    return StudyConfig(name=name.strip(), seed=seed, models=models, vectors=vectors, graph=graph, human=human,
                       side_effects=side, output_dir=Path(out) if out else None, raw=d, source=source, base=base)


def _check_graph_rows(ms: ModelSpec, vectors: VectorSpec | None, graph: dict[str, Any]) -> None:
    """Refuse configs whose graph stage cannot have more rows than the 10 Schwartz values."""
    cfg = ms.sweep
    if not all(str(t).startswith("values_schwartz") for t in cfg.tasks):
        return
    n_settings = len(cfg.steering) + (len(vectors.values) * len(vectors.coefficients) if vectors else 0)
    if graph["keep_steer"] is not None:
        n_settings = len([s for s in cfg.steering if s.id in graph["keep_steer"]]) or 1
    n_roles = len([r for r in cfg.roles if graph["split"] is None or r.split == graph["split"]])
    rows = n_roles * n_settings * len(cfg.seeds)
    if rows <= 10:
        raise UserError(f"models[{ms.id}].roles", f"the graph stage would get {rows} rows for 10 values",
                        "add roles or steering settings (causal discovery needs more rows than values)")


def load_study_config(path: str | Path) -> StudyConfig:
    """Read and validate a study YAML file."""
    p = Path(path)
    data = read_yaml_file(p, "CONFIG", "a study YAML file, e.g. lm_eval_values/configs/study_smollm2.yaml")
    return parse_study_config(data, base=p.resolve().parent, source=str(p))


# ----------------------------------------------------------------------------- hashing and stages
def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def stage_hash(stage: str, settings: Any, inputs: dict[str, Path]) -> str:
    """Hash of a stage's settings and the bytes of the files it reads."""
    files = {k: file_sha256(p) for k, p in sorted(inputs.items())}
    return hashlib.sha256(_canon({"stage": stage, "v": VERSION, "settings": settings, "files": files}).encode()).hexdigest()


def _banner(text: str) -> None:
    print(f"\n=== {text}", file=sys.stderr, flush=True)


def read_stage(folder: Path) -> dict[str, Any] | None:
    """The ``stage.json`` of a finished stage folder, or None."""
    p = folder / STAGE_FILE
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def run_stage(label: str, folder: Path, inputs_hash: str, fn: Callable[[Path], dict[str, Any]],
              force: bool = False) -> dict[str, Any]:
    """Run ``fn(tmp_folder) -> info`` into ``folder`` atomically unless it is complete with the same hash
    (``force``: run it anyway)."""
    old = read_stage(folder)
    if old is not None and old.get("inputs_hash") == inputs_hash and not force:
        _banner(f"{label}: complete in {folder}, skipped")
        return {**old, "skipped": True}
    _banner(f"{label} ...")
    t0 = time.time()
    with atomic_directory(folder) as tmp:
        info = fn(tmp)
        info = {**info, "inputs_hash": inputs_hash, "elapsed_s": round(time.time() - t0, 3)}
        atomic_write_json(tmp / STAGE_FILE, _jsonable(info))
    print(f"    done in {info['elapsed_s']:.1f} s", file=sys.stderr, flush=True)
    return {**info, "skipped": False}


def _jsonable(obj: Any) -> Any:
    from lm_eval_values.circumplex import json_ready

    return json_ready(obj, 6)


def _write_bytes(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / name).write_bytes(data)


# ----------------------------------------------------------------------------- stage 1: vectors
def middle_layer(model: Any) -> int:
    """The middle decoder layer of a HF causal LM."""
    from steering_hooks.hookpoints import decoder_layers

    _, layers = decoder_layers(model)
    return len(layers) // 2


def build_vectors(ms: ModelSpec, spec: VectorSpec, folder: Path) -> dict[str, Any]:
    """Diff-of-means vectors: inclined minus disinclined value-definition prompts, each followed by
    the same neutral requests, mean over tokens at the residual stream after ``layer``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lm_eval_values.embedded_models import resolve_model_path
    from lm_eval_values.sweep_config import value_definition_prompt
    from lm_eval_values.value_names import slugify
    from steering_hooks.vectors import diff_of_means, save_vector

    path = resolve_model_path(str(ms.sweep.model_args["pretrained"]))
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32)
    model.eval()
    torch.manual_seed(0)
    layer = spec.layer if spec.layer is not None else middle_layer(model)
    from steering_hooks.hookpoints import decoder_layers

    n_layers = len(decoder_layers(model)[1])
    if layer >= n_layers:
        raise UserError("vectors.layer", f"layer {layer} is beyond the model's {n_layers} layers", f"use 0..{n_layers - 1}")
    out: dict[str, Any] = {"layer": layer, "n_layers": n_layers, "vectors": {}}
    for v in spec.values:
        pos = [f"{value_definition_prompt(v, 'inclined')} {t}" for t in spec.texts]
        neg = [f"{value_definition_prompt(v, 'disinclined')} {t}" for t in spec.texts]
        vec = diff_of_means(model, tok, pos, neg, layer)
        name = f"{slugify(v)}.safetensors"
        save_vector(folder / name, vec, {"value": v, "layer": layer, "n_texts": len(spec.texts),
                                         "method": "diff of means, inclined - disinclined definition prompts"})
        out["vectors"][v] = {"file": name, "norm": float(vec.norm())}
        print(f"    vec:{v}: layer {layer}, norm {float(vec.norm()):.3f}", file=sys.stderr, flush=True)
    return out


def vector_entries(spec: VectorSpec, folder: Path, layer: int) -> list[dict[str, Any]]:
    """Sweep steering entries for the study's vectors (ids ``vec:<Value>``)."""
    from lm_eval_values.value_names import slugify

    return [{"type": "vector", "id": f"vec:{v}", "vector": str((folder / f"{slugify(v)}.safetensors").resolve()),
             "layer": layer, "coefficients": spec.coefficients, "positions": spec.positions,
             "options": {"scale": "resid_norm"}} for v in spec.values]


# ----------------------------------------------------------------------------- stage 3: graph
#: Errors an analysis stage reports as "skipped: <reason>" (data too small or degenerate) instead of failing.
_ANALYSIS_ERRORS: tuple[type[BaseException], ...] = (UserError, ValueError, ArithmeticError)


def _reason(exc: BaseException) -> str:
    """One line describing why an analysis was skipped."""
    if isinstance(exc, UserError):
        return exc.one_line()
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _study_matrix(matrix_csv: Path):
    from lm_eval_values.value_matrix import read_value_matrix

    return read_value_matrix(matrix_csv, check=False, field="matrix.csv")


def graph_stage(matrix_csv: Path, g: dict[str, Any], seed: int, folder: Path) -> dict[str, Any]:
    """PC/FCI/GES on the chosen rows, role bootstrap, exports and drawing."""
    from lm_eval_values.causal.bootstrap import bootstrap
    from lm_eval_values.causal.discovery import discover
    from lm_eval_values.causal.draw import render_png
    from lm_eval_values.causal.export import to_dot_text, to_graphml_text, to_json_text
    from lm_eval_values.causal.metrics import json_safe

    vm = _study_matrix(matrix_csv)
    vm = vm.filter(keep_steering=g["keep_steer"], split=g["split"])
    kw = {"algo": g["algo"], "alpha": g["alpha"], "indep_test": g["indep_test"]}
    info: dict[str, Any] = {"stage": "graph", "settings": g, "n_rows": vm.n_rows, "n_roles": len(vm.role_ids),
                            "values": vm.values, "steering_ids": vm.steering_ids}
    try:
        vm.check("matrix")
        graph = discover(vm, **kw)
    except _ANALYSIS_ERRORS as exc:
        info["skipped_reason"] = _reason(exc)
        print(f"    graph skipped: {info['skipped_reason']}", file=sys.stderr)
        return info
    if g["bootstrap"]:
        jobs = g["jobs"] or min(2, os.cpu_count() or 1)
        boot = bootstrap(vm, n_boot=g["bootstrap"], seed=seed, n_jobs=jobs, **kw)
        graph = boot.annotate(graph)
        (folder / "bootstrap.csv").write_text(boot.table().to_csv(index=False, float_format="%.4f"))
        atomic_write_json(folder / "bootstrap.json", json_safe(boot.to_json()))
        (folder / "consensus.json").write_text(to_json_text(boot.consensus(g["threshold"])))
        info["bootstrap"] = {"n_boot": boot.n_boot, "n_ok": boot.n_ok, "unit": boot.unit,
                             "elapsed_s": round(boot.elapsed_s, 2)}
    (folder / "graph.json").write_text(to_json_text(graph))
    (folder / "graph.graphml").write_text(to_graphml_text(graph))
    (folder / "graph.dot").write_text(to_dot_text(graph))
    title = (f"{g['algo'].upper()} ({g['indep_test']}, alpha={g['alpha']:g}), {vm.n_rows} rows"
             + (f"; width = bootstrap frequency ({g['bootstrap']} role resamples)" if g["bootstrap"] else ""))
    (folder / "graph.png").write_bytes(render_png(graph, title=title))
    ds = graph.descendant_sets(policy=g["policy"]) if _policy_ok(graph, g["policy"]) else None
    if ds is not None:
        atomic_write_json(folder / "descendants.json",
                          {"policy": g["policy"], "descendants": {k: sorted(v) for k, v in ds.items()}})
    info.update({"n_edges": graph.n_edges, "counts": graph.count_by_kind(),
                 "edges": [{"u": e.u, "v": e.v, "kind": e.kind, **{k: graph.edge_attrs(e.u, e.v).get(k)
                                                                    for k in ("freq", "orient_freq")}}
                           for e in graph.edges()],
                 "descendants_policy": g["policy"] if ds is not None else None})
    return info


def _policy_ok(graph: Any, policy: str) -> bool:
    try:
        graph.descendant_sets(policy=policy)
        return True
    except UserError:
        return False


# ----------------------------------------------------------------------------- stage 4: human
def human_stage(matrix_csv: Path, h: dict[str, Any], seed: int, folder: Path) -> dict[str, Any]:
    """Circumplex comparison with the human PVQ-40 reference (roles as respondents)."""
    from lm_eval_values import circumplex as cx
    from lm_eval_values.circumplex_cli import render_plots

    vm = _study_matrix(matrix_csv)
    if h["rows"] == "unsteered":
        vm = vm.filter(keep_steering=["none"]) if "none" in vm.steering_ids else vm
    info: dict[str, Any] = {"stage": "human", "settings": h, "n_rows": vm.n_rows}
    missing = [v for v in cx.SCHWARTZ_VALUES if v not in vm.values]
    if missing:
        info["skipped_reason"] = f"the matrix lacks Schwartz value columns {missing} (use values_schwartz tasks)"
        return info
    scores = vm.respondent_scores()[list(cx.SCHWARTZ_VALUES)].dropna()   # a role in both splits counts once
    info["n_rows"] = int(len(scores))
    try:
        ref = cx.load_human_reference()
        res = cx.compare_with_human(scores, h["centering"], h["permutations"], seed, reference=ref,
                                    convention=h["convention"], bootstrap=h["bootstrap"])
    except _ANALYSIS_ERRORS as exc:
        info["skipped_reason"] = _reason(exc)
        print(f"    human comparison skipped: {info['skipped_reason']}", file=sys.stderr)
        return info
    payload = res.to_dict()
    raw_corr = cx.value_correlations(scores, "none", order=ref.values)
    payload["causal"] = cx.json_ready(cx.compare_causal_with_human(raw_corr, res.n_rows, h["alpha"], ref), 6)
    atomic_write_json(folder / "compare_human.json", payload)
    (folder / "model_correlation.csv").write_text(res.correlation.round(6).to_csv())
    _write_bytes(folder, render_plots(res, ref.abbrev))
    human_graph = cx.human_pc_graph(h["alpha"], ref)
    from lm_eval_values.causal.export import to_json_text

    (folder / "human_graph.json").write_text(to_json_text(human_graph))
    info.update({"rthor_ci": res.rthor.ci, "rthor_p": res.rthor.p_value, "human_rthor_ci": res.human_rthor.ci,
                 "similarity": res.similarity})
    return info


# ----------------------------------------------------------------------------- stage 5: side effects
def _with_dose_ids(vm: Any) -> Any:
    """A copy whose steered rows have steering id ``<id>@<coefficient>`` (each dose one intervention)."""
    from lm_eval_values.matrix import fmt_coef
    from lm_eval_values.value_matrix import NO_STEERING, ValueMatrix

    meta = vm.meta.copy()
    ids = meta["steering_id"].astype(str)
    coefs = meta["coefficient"]
    meta["steering_id"] = [s if s == NO_STEERING else f"{s}@{fmt_coef(c)}" for s, c in zip(ids, coefs)]
    return ValueMatrix(vm.scores.copy(), meta, vm.source)


def side_effects_stage(matrix_csv: Path, graph_json: Path, human_graph_json: Path | None, s: dict[str, Any],
                       seed: int, train_split: str | None, folder: Path) -> dict[str, Any]:
    """The study's Expected/Unexpected metric and the held-out side-effect evaluation."""
    from lm_eval_values import side_effects as se
    from lm_eval_values.causal.reference import load_reference
    from lm_eval_values.value_matrix import NO_ROLE

    vm = _with_dose_ids(_study_matrix(matrix_csv))
    values = vm.values
    info: dict[str, Any] = {"stage": "side_effects", "settings": s}
    graph = load_reference(graph_json, nodes=values)
    graphs = {"learned graph": graph}
    if human_graph_json is not None and human_graph_json.is_file():
        graphs["human PC graph"] = load_reference(human_graph_json, nodes=values)
    held = vm.filter(split=s["heldout_split"])
    train = vm.filter(split=train_split) if train_split else vm
    study: dict[str, Any] = {}
    # role prompting: each held-out role minus the first held-out role, unsteered (the study's test)
    try:
        rc = se.center_changes(se.role_changes(held if held.n_rows else train), s["centering"])
        study["role prompting"] = {"n_rows": int(rc.shape[0]), "graphs": {
            name: se.study_side_effects(rc, se.descendant_sets(gr, values, s["policy"]), s["tol"]).to_json()
            for name, gr in graphs.items()}}
    except _ANALYSIS_ERRORS as exc:
        study["role prompting"] = {"skipped_reason": _reason(exc)}
    # steering: the no-role condition under each steered setting minus unsteered (the study used one role)
    try:
        src = held if held.n_rows and NO_ROLE in held.role_ids else train
        sc = se.center_changes(se.steering_changes(src, NO_ROLE), s["centering"])
        study["steering (no role)"] = {"n_rows": int(sc.shape[0]), "graphs": {
            name: se.study_side_effects(sc, se.descendant_sets(gr, values, s["policy"]), s["tol"]).to_json()
            for name, gr in graphs.items()}}
    except _ANALYSIS_ERRORS as exc:
        study["steering (no role)"] = {"skipped_reason": _reason(exc)}
    info["study_metric"] = study
    atomic_write_json(folder / "study_metric.json", _jsonable(study))
    try:
        if not held.n_rows:
            raise UserError("side_effects.heldout_split", f"no rows in split {s['heldout_split']!r}",
                            "add test roles (roles.generate.test)")
        refs = {k: g.to_digraph(s["policy"]) for k, g in graphs.items() if k != "learned graph"}
        ho = se.heldout_evaluation(graph.to_digraph(s["policy"]), train, held, reference=refs, q=s["fdr"],
                                   n_random=s["n_random"], seed=seed, centering=s["centering"], tol=s["tol"])
    except _ANALYSIS_ERRORS as exc:
        info["heldout_skipped_reason"] = _reason(exc)
        print(f"    held-out evaluation skipped: {info['heldout_skipped_reason']}", file=sys.stderr)
        return info
    atomic_write_json(folder / "heldout.json", _jsonable(ho.to_json()))
    (folder / "heldout_auroc.csv").write_text(ho.table.to_csv(index=False, float_format="%.4f"))
    (folder / "heldout_pairs.csv").write_text(ho.per_condition.to_csv(index=False, float_format="%.4f"))
    (folder / "heldout_pvalues.csv").write_text(ho.pvalues.to_csv(float_format="%.6g"))
    info["heldout"] = _jsonable(ho.to_json())
    return info


# ----------------------------------------------------------------------------- the study
def _versions() -> dict[str, str]:
    from importlib import metadata
    import platform

    out = {"python": platform.python_version()}
    for dist in ("lm-eval-values", "lm_eval", "torch", "transformers", "causal-learn", "networkx", "numpy",
                 "pandas", "matplotlib", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _check_sweep_compatible(cfg: StudyConfig, out: Path) -> None:
    """Refuse, before writing anything, a run folder that holds another sweep for a model id."""
    from lm_eval_values.sweep import identity_hash

    for ms in cfg.models:
        m = out / ms.id / "sweep" / "manifest.json"
        if m.is_file():
            try:
                old = json.loads(m.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if old.get("identity_hash") not in (None, identity_hash(ms.sweep)):
                raise UserError("--out", f"{out / ms.id / 'sweep'} holds a sweep with another model/tasks/sampling",
                                "use a new output folder for this config")


def sweep_stage(ms: ModelSpec, cfg: StudyConfig, mdir: Path, vec_info: dict[str, Any] | None,
                progress: bool) -> dict[str, Any]:
    """Run (or resume) the model's sweep into ``mdir/sweep``; returns the stage info."""
    from lm_eval_values.sweep import run_sweep
    from lm_eval_values.sweep_config import parse_config

    raw = copy.deepcopy(ms.sweep_raw)
    if cfg.vectors is not None and vec_info is not None:
        steering = raw.get("steering") or [{"type": "none"}]
        raw["steering"] = list(steering) + vector_entries(cfg.vectors, mdir / "vectors", int(vec_info["layer"]))
    scfg = parse_config(raw, base=cfg.base, source=cfg.source)
    folder = mdir / "sweep"
    manifest = folder / "manifest.json"
    old = read_stage(folder)
    if old is not None and manifest.is_file():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        if m.get("complete") and m.get("config_hash") == scfg.config_hash() and (folder / "matrix.csv").is_file():
            _banner(f"{ms.id}: sweep complete in {folder}, skipped")
            return {**old, "skipped": True}
    n_cond = len(scfg.conditions())
    _banner(f"{ms.id}: sweep of {n_cond} conditions ({len(scfg.roles)} role conditions x {len(scfg.steering)} "
            f"steering settings x {len(scfg.seeds)} seeds) -> {folder}")
    t0 = time.time()
    summ = run_sweep(scfg, out=folder, progress=progress)
    m = json.loads(manifest.read_text(encoding="utf-8"))
    if not m.get("complete"):
        raise RuntimeError(f"sweep in {folder} did not complete")
    info = {"stage": "sweep", "n_conditions": summ.n_conditions, "n_run": summ.n_run, "n_skipped": summ.n_skipped,
            "n_items_run": summ.n_items_run, "items_per_s": summ.items_per_s, "load_s": round(summ.load_s, 2),
            "sweep_s": round(summ.elapsed_s, 2), "elapsed_s": round(time.time() - t0, 3),
            "config_hash": scfg.config_hash(), "n_roles": len(scfg.roles), "n_settings": len(scfg.steering),
            "inputs_hash": scfg.config_hash()}
    atomic_write_json(folder / STAGE_FILE, _jsonable(info))
    return {**info, "skipped": False}


def run_study(cfg: StudyConfig, out: Path, progress: bool = True, redo: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run (or resume) every stage for every model, then write the report; returns the study record.

    ``redo``: analysis stages (:data:`ANALYSIS_STAGE_VERSIONS`) to run again even if complete.
    """
    from lm_eval_values import report

    _check_sweep_compatible(cfg, out)
    check_writable_dir(out, "--out")
    t_start = time.time()
    record: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": cfg.name, "config": cfg.raw,
                              "config_source": cfg.source, "versions": _versions(), "models": {}, "complete": False}
    prev = _read_json(out / STUDY_FILE) or {}
    atomic_write_json(out / STUDY_FILE, _jsonable({**prev, **record}))
    atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.raw, sort_keys=False, allow_unicode=True))
    for k, ms in enumerate(cfg.models):
        mdir = out / ms.id
        tag = f"[model {k + 1}/{len(cfg.models)} {ms.id}]"
        stages: dict[str, Any] = {}
        vec_info = None
        if cfg.vectors is not None:
            h = stage_hash("vectors", {"spec": cfg.vectors.record(), "model_args": ms.sweep.model_args}, {})
            vec_info = run_stage(f"{tag} 1/5 steering vectors", mdir / "vectors", h,
                                 lambda tmp, ms=ms: {"stage": "vectors", **build_vectors(ms, cfg.vectors, tmp)})
            stages["vectors"] = vec_info
        stages["sweep"] = sweep_stage(ms, cfg, mdir, vec_info, progress)
        matrix = mdir / "sweep" / "matrix.csv"
        v = ANALYSIS_STAGE_VERSIONS
        h = stage_hash("graph", {"graph": cfg.graph, "seed": cfg.seed, "v": v["graph"]}, {"matrix": matrix})
        stages["graph"] = run_stage(f"{tag} 3/5 causal graph", mdir / "graph", h,
                                    lambda tmp: graph_stage(matrix, cfg.graph, cfg.seed, tmp), "graph" in redo)
        h = stage_hash("human", {"human": cfg.human, "seed": cfg.seed, "v": v["human"]}, {"matrix": matrix})
        stages["human"] = run_stage(f"{tag} 4/5 human Schwartz structure", mdir / "human", h,
                                    lambda tmp: human_stage(matrix, cfg.human, cfg.seed, tmp), "human" in redo)
        gjson = mdir / "graph" / "graph.json"
        if gjson.is_file():
            hjson = mdir / "human" / "human_graph.json"
            inputs = {"matrix": matrix, "graph": gjson, **({"human_graph": hjson} if hjson.is_file() else {})}
            h = stage_hash("side_effects", {"side": cfg.side_effects, "seed": cfg.seed,
                                            "train_split": cfg.graph["split"], "v": v["side_effects"]}, inputs)
            stages["side_effects"] = run_stage(
                f"{tag} 5/5 side effects", mdir / "side_effects", h,
                lambda tmp: side_effects_stage(matrix, gjson, hjson if hjson.is_file() else None, cfg.side_effects,
                                               cfg.seed, cfg.graph["split"], tmp), "side_effects" in redo)
        else:
            _banner(f"{tag} 5/5 side effects: skipped (no graph)")
        record["models"][ms.id] = {"label": ms.label, "model_args": ms.sweep.model_args,
                                   "stages": {k2: {x: v.get(x) for x in ("elapsed_s", "skipped")}
                                              for k2, v in stages.items()}}
    record["complete"] = True
    record["run_s"] = round(time.time() - t_start, 3)
    atomic_write_json(out / STUDY_FILE, _jsonable(record))
    _banner("report ...")
    result = report.build_report(out)
    record["report"] = str(result.html_path)
    return {**record, "summary": result.summary}


def _read_json(p: Path) -> dict[str, Any] | None:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def print_value_profiles(out: Path) -> list[str]:
    """Per-value score tables (unsteered, over roles, and the no-role condition) from the saved profile CSVs."""
    import pandas as pd

    tables = []
    for csv in sorted((out / "data").glob("*_value_profile.csv")):
        prof = pd.read_csv(csv)
        lines = ["", f"Value profile of {csv.name[: -len('_value_profile.csv')]} (unsteered; score in [-1, 1]):",
                 f"  {'value':<16}{'mean over roles':>16}{'95% interval':>20}{'roles':>7}{'no role':>9}"]
        for r in prof.itertuples():
            lines.append(f"  {r.value:<16}{r.mean:>+16.3f}{f'[{r.ci_lo:+.3f}, {r.ci_hi:+.3f}]':>20}"
                         f"{int(r.n_roles):>7}{r.no_role:>+9.3f}")
        tables.append("\n".join(lines))
    return tables


def main(argv: list[str]) -> int:
    """``lm-eval-values study CONFIG [--out DIR] [--no-progress] [--redo STAGES]``."""
    parser = ArgumentParser(
        prog="lm-eval-values study",
        description="Run the end-to-end value study of a config (role sweep x steering settings, causal graph with "
                    "bootstrap, comparison with the human Schwartz structure, held-out side effects) and write "
                    "report.html. Re-running resumes: finished stages and conditions are skipped.")
    parser.add_argument("config", metavar="CONFIG", help="study YAML, e.g. lm_eval_values/configs/study_smollm2.yaml")
    parser.add_argument("--out", default=None,
                        help="run folder (default: output_dir of the config, else runs/<config file name>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--redo", default="",
                        help=f"analysis stages to run again even if complete, comma-separated: "
                             f"{', '.join(ANALYSIS_STAGE_VERSIONS)} (the sweep always resumes)")
    args = parser.parse_args(argv)
    t0 = time.time()
    redo = tuple(x.strip() for x in args.redo.split(",") if x.strip())
    unknown = [x for x in redo if x not in ANALYSIS_STAGE_VERSIONS]
    if unknown:
        raise UserError("--redo", f"unknown stage(s) {unknown}", f"use some of: {', '.join(ANALYSIS_STAGE_VERSIONS)}")
    cfg = load_study_config(args.config)
    # the offline checks of `lm-eval-values check` (SAE references, layers, memory) before any model loads
    check_parsed(cfg, CheckSettings.for_run(), source=args.config).raise_first_problem(args.config)
    out = Path(args.out or (str(cfg.output_dir) if cfg.output_dir else f"runs/{Path(args.config).stem}"))
    if out.exists() and not out.is_dir():
        raise UserError("--out", f"{out} exists and is not a folder", "give a folder path")
    rec = run_study(cfg, out, progress=not args.no_progress, redo=redo)
    wall = time.time() - t0
    print("")
    print(f"Study {cfg.name!r} finished in {wall / 60:.1f} min ({wall:.0f} s) -> {rec['report']}")
    for table in print_value_profiles(out):
        print(table)
    for line in rec["summary"]:
        print(f"- {line}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
