"""``lm-eval-values study CONFIG [--out DIR]``: the end-to-end value study, resumable, with a report.

For every model of the config the study runs six stages, each into its own folder of the run
directory, then writes the report::

    RUN/study.json                  # resolved config, versions, stage status and timings
    RUN/<model>/vectors/            # 1. diff-of-means steering vectors (only if `vectors:` is set)
    RUN/<model>/sweep/              # 2. roles x steering settings on the value tasks (lm_eval_values.sweep.run):
                                    #    matrix.csv, items.csv, manifest.json, conditions/<id>/...
    RUN/<model>/reliability/        # 3. reliability.json: value signal or response bias? (lm_eval_values.measurement)
    RUN/<model>/graph/              # 4. causal graph of the TRAIN rows with a role bootstrap (lm_eval_values.causal)
    RUN/<model>/human/              # 5. comparison with the human Schwartz structure (lm_eval_values.analysis.circumplex)
    RUN/<model>/side_effects/       # 6. the study's expected/unexpected metric and the held-out side-effect
                                    #    evaluation vs baselines (lm_eval_values.analysis.side_effects)
    RUN/report.html, RUN/figures/   # the report (lm_eval_values.report.build; `lm-eval-values report RUN` redraws it)

Resuming: a stage folder appears only when the stage is complete (it is built in a temporary
sibling and renamed), with a ``stage.json`` holding the hash of everything it depends on (its
config section and the files it read). A re-run skips stages whose hash still matches and redoes
those whose inputs changed. The sweep resumes per condition (see :mod:`lm_eval_values.sweep.run`).

The config (YAML, ``yaml.safe_load``) is validated completely before anything runs or is written;
unknown keys raise :class:`~lm_eval_values.core.errors.UserError`::

    name: SmolLM2 value study          # report title
    output_dir: runs/study             # --out overrides; default runs/<config file name>; relative to the cwd
    seed: 0                            # bootstrap / permutation / random-graph seed
    models:                            # one or more; ids name the sub-folders
      - id: smollm2
        label: SmolLM2-135M-Instruct
        model_args: {pretrained: smollm2-135m-instruct, dtype: float32}
        apply_chat_template: true      # any sweep key here overrides `sweep:` for this model
    sweep:                             # sweep config keys shared by all models (lm_eval_values.sweep.config),
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
    reliability: {scoring: raw}        # measurement validity first (measurement.run.ReliabilitySettings);
                                       # `scoring` is the scoring of the value scores EVERY stage reads (raw: the
                                       # sweep's matrix.csv; else items.csv re-scored, measurement.scored_matrix);
                                       # the stage sets the measurement gate recorded in study.json
    graph: {algo: pc, alpha: 0.05, sample_size: effective, jci: steering, bootstrap: 100,
            bootstrap_scheme: subsample, threshold: 0.5, orientation_threshold: 0.8, policy: possible,
            split: train}              # keys: lm_eval_values.causal.stage_settings; `sample_size: rows, jci: none,
                                       # bootstrap_scheme: resample-duplicates` is the reference study's procedure
    human: {centering: mrat, permutations: 2000, bootstrap: 500, alpha: 0.05}
    side_effects: {fdr: 0.05, n_random: 100, policy: possible, heldout_split: test,
                   centering: none, tol: 0}   # median|mrat, tol > 0: value-specific changes only (analysis/side_effects.py)

Each analysis section takes the keys of its stage command's options; ``lm-eval-values graph|compare-human|
side-effects|reliability --study RUN --model ID --out DIR`` reruns a stage from these settings and writes
the same bytes as the stage folder (all but ``stage.json``, which holds the study's hash and timing).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import STUDY_FORMAT
from lm_eval_values.core.yaml_io import read_yaml_file
from lm_eval_values.study.settings import (AnalysisSettings, VectorSpec, check_keys, parse_analysis_settings,
                                           parse_vectors, study_mapping)
from lm_eval_values.sweep.config import parse_config

#: Analysis stages that ``--redo`` can force, and the version of each stage's method: bumped when the
#: same inputs give different outputs (a finished stage of an older version is redone on resume).
ANALYSIS_STAGE_VERSIONS = {"reliability": 2, "graph": 2, "human": 3, "side_effects": 4}
FORMAT = STUDY_FORMAT
VERSION = 1

_TOP_KEYS = {"name", "output_dir", "seed", "models", "sweep", "vectors", "reliability", "graph", "human",
             "side_effects"}
_MODEL_KEYS = {"id", "label", "model", "model_args", "apply_chat_template", "fewshot_as_multiturn", "batch_size",
               "device", "steering", "format", "gen_kwargs", "num_fewshot", "task_metadata"}


@dataclass
class ModelSpec:
    """One model of the study: its id (folder name), label, and its validated sweep config."""

    id: str
    label: str
    sweep_raw: dict[str, Any]
    sweep: Any  # SweepConfig without the study's vector settings


@dataclass
class StudyConfig:
    """A validated study config (see the module docstring)."""

    name: str
    seed: int
    models: list[ModelSpec]
    vectors: VectorSpec | None
    analysis: AnalysisSettings
    output_dir: Path | None
    raw: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    base: Path = Path(".")


def parse_study_config(data: Any, base: Path, source: str = "") -> StudyConfig:
    """Validate a parsed study YAML (see the module docstring); nothing is run or written."""
    d = study_mapping(data, "config")
    if not d:
        raise UserError("config", "is empty", "give at least models and sweep")
    check_keys(d, _TOP_KEYS, "")
    name = d.get("name", "Value study")
    if not isinstance(name, str) or not name.strip():
        raise UserError("name", f"must be a non-empty string, got {name!r}", "e.g. name: SmolLM2 value study")
    analysis = parse_analysis_settings(d)
    shared = study_mapping(d.get("sweep"), "sweep")
    for k in ("model_args", "output_dir", "model"):
        if k in shared:
            raise UserError(f"sweep.{k}", "is set per model in this config", f"move {k} under models[i]")
    models_raw = d.get("models")
    if not isinstance(models_raw, list) or not models_raw:
        raise UserError("models", "must be a non-empty list", "e.g. [{id: smollm2, model_args: {pretrained: smollm2-135m-instruct}}]")
    vectors = parse_vectors(d.get("vectors"))
    models: list[ModelSpec] = []
    for i, m in enumerate(models_raw):
        m = study_mapping(m, f"models[{i}]")
        check_keys(m, _MODEL_KEYS, f"models[{i}].")
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
    for ms in models:
        _check_graph_rows(ms, vectors, analysis)
    out = d.get("output_dir")
    if out is not None and (not isinstance(out, str) or not out.strip()):
        raise UserError("output_dir", f"must be a folder path, got {out!r}", "e.g. runs/study")
    return StudyConfig(name=name.strip(), seed=analysis.seed, models=models, vectors=vectors, analysis=analysis,
                       output_dir=Path(out) if out else None, raw=d, source=source, base=base)


def _check_graph_rows(ms: ModelSpec, vectors: VectorSpec | None, analysis: AnalysisSettings) -> None:
    """Refuse configs whose graph stage cannot have more rows than the 10 Schwartz values."""
    cfg = ms.sweep
    if not all(str(t).startswith("values_schwartz") for t in cfg.tasks):
        return
    n_settings = len(cfg.steering) + (len(vectors.values) * len(vectors.coefficients) if vectors else 0)
    rows = analysis.graph.rows
    if rows.steering is not None:
        n_settings = len([s for s in cfg.steering if s.id in rows.steering]) or 1
    n_roles = len([r for r in cfg.roles if rows.split is None or r.split == rows.split])
    rows = n_roles * n_settings * len(cfg.seeds)
    if rows <= 10:
        raise UserError(f"models[{ms.id}].roles", f"the graph stage would get {rows} rows for 10 values",
                        "add roles or steering settings (causal discovery needs more rows than values)")


def load_study_config(path: str | Path) -> StudyConfig:
    """Read and validate a study YAML file."""
    p = Path(path)
    data = read_yaml_file(p, "CONFIG", "a study YAML file, e.g. lm_eval_values/configs/study_smollm2.yaml")
    return parse_study_config(data, base=p.resolve().parent, source=str(p))


def load_sweep_or_study_config(path: str, study_model: str | None = None) -> Any:
    """The validated sweep config in ``path``: a sweep YAML, or a study YAML (one of its ``models``).

    A study config's sweep is the model's merged sweep section (the study's own ``vectors:`` are
    built by the study and are not part of it).
    """
    p = Path(path)
    data = read_yaml_file(p, "--config", "a sweep or study YAML file")
    base = p.resolve().parent
    if not (isinstance(data, dict) and "models" in data):
        if study_model is not None:
            raise UserError("--study-model", f"{path} is a sweep config, not a study config", "drop --study-model")
        return parse_config(data, base=base, source=str(p))
    study = parse_study_config(data, base=base, source=str(p))
    ids = [m.id for m in study.models]
    if study_model is None and len(ids) > 1:
        raise UserError("--study-model", f"the study config has {len(ids)} models", f"pick one of: {', '.join(ids)}")
    wanted = study_model if study_model is not None else ids[0]
    if wanted not in ids:
        raise UserError("--study-model", f"no model {wanted!r} in {path}", f"use one of: {', '.join(ids)}")
    return next(m.sweep for m in study.models if m.id == wanted)
