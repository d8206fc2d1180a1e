"""The analysis stages of a study, each a thin call of the stage's own function into its (temporary)
stage folder: reliability (:func:`lm_eval_values.measurement.run.run_reliability`), graph
(:func:`lm_eval_values.causal.stage.run_graph`), human comparison
(:func:`lm_eval_values.analysis.circumplex.stage.run_compare_human`) and side effects
(:func:`lm_eval_values.analysis.side_effects_stage.run_side_effects`). The stage commands call the
same functions with the same inputs (:mod:`lm_eval_values.study.rerun`), so a stage folder can be
reproduced byte for byte.

Degenerate data skip an analysis with a reason (written as the stage's ``result.json`` or
``stage.json``) instead of failing the study. Each function returns the stage's bookkeeping record.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from lm_eval_values.analysis.circumplex.stage import HumanStageSettings, human_skipped, run_compare_human
from lm_eval_values.analysis.side_effects_inputs import study_input_files, study_items, study_probabilities
from lm_eval_values.analysis.side_effects_stage import SideEffectInputs, SideEffectsSettings, run_side_effects
from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.causal.reference import load_reference
from lm_eval_values.causal.stage import graph_skipped, run_graph
from lm_eval_values.causal.stage_settings import GraphStageSettings
from lm_eval_values.core.atomic import atomic_write_bytes
from lm_eval_values.core.files import GRAPH_FILE, HUMAN_GRAPH_FILE, ITEMS_FILE, MATRIX_FILE, RESULT_FILE
from lm_eval_values.matrix.reading import read_value_matrix
from lm_eval_values.matrix.value_matrix import ValueMatrix
from lm_eval_values.measurement.bias import SCORINGS
from lm_eval_values.measurement.run import ReliabilitySettings, run_reliability
from lm_eval_values.measurement.scored_matrix import sweep_value_matrix
from lm_eval_values.results.gate import MeasurementGate, measurement_gate
from lm_eval_values.results.records import ANALYSIS_ERRORS, json_bytes, read_stage_record, skip_reason
from lm_eval_values.results.reliability import ReliabilityResult, read_reliability

#: names of the graphs the side-effect stage evaluates
LEARNED_GRAPH = "learned graph"
HUMAN_GRAPH = "human PC graph"


def read_study_matrix(matrix_csv: Path, scoring: str = "raw", include_no_role: bool = True) -> ValueMatrix:
    """The value matrix the analysis stages read (not checked: a stage decides what it needs): the sweep's
    ``matrix.csv`` under ``raw`` scoring, else the ``items.csv`` next to it re-scored with the study's
    ``reliability.scoring`` (:func:`lm_eval_values.measurement.scored_matrix.sweep_value_matrix`)."""
    if scoring == "raw":
        return read_value_matrix(matrix_csv, check=False, field=MATRIX_FILE)
    return sweep_value_matrix(Path(matrix_csv).parent, scoring, include_no_role)


def study_scoring(settings: ReliabilitySettings) -> tuple[str, bool]:
    """(scoring, include_no_role) of the value scores every analysis stage of a study reads."""
    return settings.scoring, settings.g_study.include_no_role


def scoring_record(settings: ReliabilitySettings) -> dict[str, Any]:
    """What ``study.json`` records about the scoring of the study's value scores (``scoring``)."""
    name = settings.scoring
    source = (f"the sweep's {MATRIX_FILE} (raw keyed item scores, averaged per value)" if name == "raw" else
              f"the sweep's {ITEMS_FILE} re-scored with {name} (lm_eval_values.measurement.scored_matrix), averaged "
              f"per value")
    return {"name": name, "description": SCORINGS[name], "value_scores": source,
            "used_by": ["reliability", "value profile", "graph", "human", "side_effects", "report"]}


def model_gate(model_dir: Path) -> MeasurementGate:
    """The measurement gate of a model from its reliability stage (``unchecked`` when it did not run)."""
    rec = read_stage_record(model_dir / "reliability")
    return measurement_gate(read_reliability(model_dir / "reliability"), rec.skipped_reason if rec else None)


def reliability_label(model_id: str) -> str:
    """How ``reliability.json`` names its source in a study (the same from the study and from ``--study``)."""
    return f"{model_id}/sweep"


def _skipped(stage: str, exc: BaseException) -> dict[str, Any]:
    reason = skip_reason(exc)
    print(f"    {stage} skipped: {reason}", file=sys.stderr)
    return {"stage": stage, "skipped_reason": reason}


def reliability_stage(model_id: str, sweep_dir: Path, settings: ReliabilitySettings, folder: Path) -> dict[str, Any]:
    """Measurement validity of the sweep's item answers: ``reliability.json``."""
    try:
        doc = run_reliability(sweep_dir, settings, folder, label=reliability_label(model_id))
    except ANALYSIS_ERRORS as exc:
        return _skipped("reliability", exc)
    return {"stage": "reliability", "summary": ReliabilityResult.from_dict(doc).summary_line()}


def graph_stage(matrix_csv: Path, settings: GraphStageSettings, jobs: int | None, folder: Path,
                scoring: tuple[str, bool] = ("raw", True)) -> dict[str, Any]:
    """The causal graph of the selected rows with its bootstrap (see :func:`run_graph`); ``scoring``:
    :func:`study_scoring` of the study."""
    vm = read_study_matrix(matrix_csv, *scoring)
    try:
        run_graph(vm, settings, folder, jobs=jobs or min(2, os.cpu_count() or 1))
    except ANALYSIS_ERRORS as exc:
        info = _skipped("graph", exc)
        atomic_write_bytes(folder / RESULT_FILE, json_bytes(graph_skipped(vm, settings, info["skipped_reason"]).to_dict()))
        return info
    return {"stage": "graph"}


def human_stage(matrix_csv: Path, settings: HumanStageSettings, folder: Path,
                scoring: tuple[str, bool] = ("raw", True)) -> dict[str, Any]:
    """The comparison with the human Schwartz structure (see :func:`run_compare_human`)."""
    try:
        run_compare_human(read_study_matrix(matrix_csv, *scoring), settings, folder)
    except ANALYSIS_ERRORS as exc:
        info = _skipped("human comparison", exc)
        atomic_write_bytes(folder / RESULT_FILE, json_bytes(human_skipped(settings, info["skipped_reason"]).to_dict()))
        return {**info, "stage": "human"}
    return {"stage": "human"}


def study_graphs(model_dir: Path, values: list[str]) -> dict[str, ValueGraph]:
    """The graphs a study's side-effect stage evaluates: its learned graph, and the human PC graph when
    the human stage wrote one."""
    graphs = {LEARNED_GRAPH: load_reference(model_dir / "graph" / GRAPH_FILE, nodes=values)}
    human = model_dir / "human" / HUMAN_GRAPH_FILE
    if human.is_file():
        graphs[HUMAN_GRAPH] = load_reference(human, nodes=values)
    return graphs


def side_effect_inputs(model_dir: Path) -> dict[str, Path]:
    """The files the side-effect stage reads (hashed into the stage)."""
    files = {"matrix": model_dir / "sweep" / MATRIX_FILE, "graph": model_dir / "graph" / GRAPH_FILE}
    human = model_dir / "human" / HUMAN_GRAPH_FILE
    return {**files, **({"human_graph": human} if human.is_file() else {}), **study_input_files(model_dir)}


def side_effects_stage(model_dir: Path, settings: SideEffectsSettings, folder: Path,
                       scoring: tuple[str, bool] = ("raw", True)) -> dict[str, Any]:
    """The study's metric and the held-out prediction (see :func:`run_side_effects`)."""
    try:
        vm = read_study_matrix(model_dir / "sweep" / MATRIX_FILE, *scoring)
        # the two-way bootstrap recomputes changes from raw item answers: only when the scores are raw
        items = study_items(model_dir) if scoring[0] == "raw" else None
        run = run_side_effects(SideEffectInputs.from_matrix(vm, settings, items),
                               study_graphs(model_dir, vm.values), settings, folder,
                               probabilities=study_probabilities(model_dir, vm.values))
    except ANALYSIS_ERRORS as exc:
        return {**_skipped("side effects", exc), "stage": "side_effects"}
    if run.result.heldout_skipped_reason:
        print(f"    held-out evaluation skipped: {run.result.heldout_skipped_reason}", file=sys.stderr)
    return {"stage": "side_effects"}


__all__ = ["HUMAN_GRAPH", "LEARNED_GRAPH", "graph_stage", "human_stage", "read_study_matrix", "reliability_label",
           "model_gate", "reliability_stage", "scoring_record", "side_effect_inputs", "side_effects_stage",
           "study_graphs", "study_scoring"]
