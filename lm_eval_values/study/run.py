"""``run_study``: every stage for every model of a study config, resumable, then the report.

See :mod:`lm_eval_values.study.config` for the run folder layout and the config.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from lm_eval_values.core.atomic import atomic_write_json, atomic_write_text, check_writable_dir
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.progress import progress_lines
from lm_eval_values.core.files import GRAPH_FILE, ITEMS_FILE, MANIFEST_FILE, MATRIX_FILE, STAGE_FILE, STUDY_CONFIG_FILE, STUDY_FILE
from lm_eval_values.core.versions import STUDY_PACKAGES, package_versions
from lm_eval_values.matrix.reading import verify_sweep_tables
from lm_eval_values.report.build import build_report
from lm_eval_values.report.profile import profile_lines
from lm_eval_values.results.study import read_study_record
from lm_eval_values.results.gate import MeasurementGate
from lm_eval_values.study.analyses import (graph_stage, human_stage, model_gate, reliability_stage, scoring_record,
                                           side_effect_inputs, side_effects_stage, study_scoring)
from lm_eval_values.study.config import ANALYSIS_STAGE_VERSIONS, FORMAT, VERSION, ModelSpec, StudyConfig
from lm_eval_values.study.stages import banner, jsonable, read_stage, run_stage, stage_hash
from lm_eval_values.study.vectors import build_vectors, vector_entries
from lm_eval_values.sweep.config import parse_config
from lm_eval_values.sweep.run import identity_hash, run_sweep


def _check_sweep_compatible(cfg: StudyConfig, out: Path) -> None:
    """Refuse, before writing anything, a run folder that holds another sweep for a model id."""
    for ms in cfg.models:
        m = out / ms.id / "sweep" / MANIFEST_FILE
        if m.is_file():
            try:
                old = json.loads(m.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if isinstance(old, dict) and old.get("identity_hash") not in (None, identity_hash(ms.sweep)):
                raise UserError("--out", f"{out / ms.id / 'sweep'} holds a sweep with another model/tasks/sampling",
                                "use a new output folder for this config")


def sweep_stage(ms: ModelSpec, cfg: StudyConfig, mdir: Path, vec_info: dict[str, Any] | None,
                progress: bool) -> dict[str, Any]:
    """Run (or resume) the model's sweep into ``mdir/sweep``; returns the stage info."""
    raw = copy.deepcopy(ms.sweep_raw)
    if cfg.vectors is not None and vec_info is not None:
        steering = raw.get("steering") or [{"type": "none"}]
        raw["steering"] = list(steering) + vector_entries(cfg.vectors, mdir / "vectors", int(vec_info["layer"]))
    scfg = parse_config(raw, base=cfg.base, source=cfg.source)
    folder = mdir / "sweep"
    manifest = folder / MANIFEST_FILE
    old = read_stage(folder)
    if old is not None and manifest.is_file():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        if (isinstance(m, dict) and m.get("complete") and m.get("config_hash") == scfg.config_hash()
                and (folder / MATRIX_FILE).is_file() and verify_sweep_tables(folder) is None):  # verified, then trusted
            banner(f"{ms.id}: sweep complete in {folder}, skipped")
            return {**old, "skipped": True}
    n_cond = len(scfg.conditions())
    banner(f"{ms.id}: sweep of {n_cond} conditions ({len(scfg.roles)} role conditions x {len(scfg.steering)} "
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
    atomic_write_json(folder / STAGE_FILE, jsonable(info))
    return {**info, "skipped": False}


def run_study(cfg: StudyConfig, out: Path, progress: bool = True, redo: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run (or resume) every stage for every model, then write the report; returns the study record.

    ``redo``: analysis stages (:data:`ANALYSIS_STAGE_VERSIONS`) to run again even if complete.
    """
    _check_sweep_compatible(cfg, out)
    check_writable_dir(out, "--out")
    t_start = time.time()
    record: dict[str, Any] = {"format": FORMAT, "version": VERSION, "name": cfg.name, "config": cfg.raw,
                              "config_source": cfg.source, "versions": package_versions(STUDY_PACKAGES),
                              "scoring": scoring_record(cfg.analysis.reliability), "models": {}, "complete": False}
    prev = _read_json(out / STUDY_FILE) or {}
    atomic_write_json(out / STUDY_FILE, jsonable({**prev, **record}))
    atomic_write_text(out / STUDY_CONFIG_FILE, yaml.safe_dump(cfg.raw, sort_keys=False, allow_unicode=True))
    with progress_lines(progress):
        _run_models(cfg, out, record, redo, progress)
    record["complete"] = True
    record["run_s"] = round(time.time() - t_start, 3)
    atomic_write_json(out / STUDY_FILE, jsonable(record))
    banner("report ...")
    result = build_report(out)
    record["report"] = str(result.html_path)
    return {**record, "summary": result.summary}


def analysis_stages(cfg: StudyConfig, model_id: str, mdir: Path, tag: str,
                    redo: tuple[str, ...] = ()) -> tuple[dict[str, Any], MeasurementGate]:
    """Stages 3-6 of one model: reliability, graph, human comparison, side effects (each skipped when
    complete with the same settings and inputs, unless named in ``redo``), and the measurement gate the
    reliability stage sets for the others (printed, and recorded in ``study.json`` by :func:`run_study`).

    The stages read the value scores under the study's ``reliability.scoring``: the sweep's
    ``matrix.csv`` when raw, else its ``items.csv`` re-scored (then the scoring and the item table are
    part of each stage's hash)."""
    a, v = cfg.analysis, ANALYSIS_STAGE_VERSIONS
    matrix = mdir / "sweep" / MATRIX_FILE
    stages: dict[str, Any] = {}
    items = mdir / "sweep" / ITEMS_FILE
    scoring = study_scoring(a.reliability)
    scored = {} if scoring[0] == "raw" else {"scoring": list(scoring)}
    scored_files = {} if scoring[0] == "raw" else {"items": items}
    h = stage_hash("reliability", {"settings": a.reliability.to_dict(), "v": v["reliability"]},
                   {"items": items if items.is_file() else matrix})
    stages["reliability"] = run_stage(
        f"{tag} 3/6 measurement reliability", mdir / "reliability", h,
        lambda tmp: reliability_stage(model_id, mdir / "sweep", a.reliability, tmp), "reliability" in redo)
    gate = model_gate(mdir)
    print(f"    measurement gate: {gate.reason}", file=sys.stderr, flush=True)
    h = stage_hash("graph", {"settings": a.graph.to_dict(), "v": v["graph"], **scored},
                   {"matrix": matrix, **scored_files})
    stages["graph"] = run_stage(f"{tag} 4/6 causal graph", mdir / "graph", h,
                                lambda tmp: graph_stage(matrix, a.graph, a.graph_jobs, tmp, scoring), "graph" in redo)
    h = stage_hash("human", {"settings": a.human.to_dict(), "v": v["human"], **scored},
                   {"matrix": matrix, **scored_files})
    stages["human"] = run_stage(f"{tag} 5/6 human Schwartz structure", mdir / "human", h,
                                lambda tmp: human_stage(matrix, a.human, tmp, scoring), "human" in redo)
    if (mdir / "graph" / GRAPH_FILE).is_file():
        h = stage_hash("side_effects", {"settings": a.side_effects.to_dict(), "v": v["side_effects"], **scored},
                       {**side_effect_inputs(mdir), **scored_files})
        stages["side_effects"] = run_stage(f"{tag} 6/6 side effects", mdir / "side_effects", h,
                                           lambda tmp: side_effects_stage(mdir, a.side_effects, tmp, scoring),
                                           "side_effects" in redo)
    else:
        banner(f"{tag} 6/6 side effects: skipped (no graph)")
    if gate.fires:
        print(f"    {tag} graph, human comparison and side effects: {gate.status} (see the measurement gate above)",
              file=sys.stderr, flush=True)
    return stages, gate


def _run_models(cfg: StudyConfig, out: Path, record: dict[str, Any], redo: tuple[str, ...], progress: bool) -> None:
    """Every stage of every model, in config order; fills ``record["models"]``."""
    for k, ms in enumerate(cfg.models):
        mdir = out / ms.id
        tag = f"[model {k + 1}/{len(cfg.models)} {ms.id}]"
        stages: dict[str, Any] = {}
        vec_info = None
        if cfg.vectors is not None:
            h = stage_hash("vectors", {"spec": cfg.vectors.record(), "model_args": ms.sweep.model_args}, {})
            vec_info = run_stage(f"{tag} 1/6 steering vectors", mdir / "vectors", h,
                                 lambda tmp, ms=ms: {"stage": "vectors", **build_vectors(ms, cfg.vectors, tmp)})
            stages["vectors"] = vec_info
        stages["sweep"] = sweep_stage(ms, cfg, mdir, vec_info, progress)
        analysed, gate = analysis_stages(cfg, ms.id, mdir, tag, redo)
        stages.update(analysed)
        record["models"][ms.id] = {"label": ms.label, "model_args": ms.sweep.model_args,
                                   "stages": {k2: {x: v.get(x) for x in ("elapsed_s", "skipped")}
                                              for k2, v in stages.items()},
                                   "gate": gate.to_dict()}


def _read_json(p: Path) -> dict[str, Any] | None:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def print_value_profiles(out: Path) -> list[str]:
    """Per-value score tables (unsteered, with intervals over roles and items) from the report's profile CSVs."""
    scoring = read_study_record(out, "--out").scoring_name
    tables = []
    for csv in sorted((out / "data").glob("*_value_profile.csv")):
        prof = pd.read_csv(csv, keep_default_na=False, na_values=[""])
        tables.append("\n".join(profile_lines(prof, csv.name[: -len("_value_profile.csv")], scoring)))
    return tables
