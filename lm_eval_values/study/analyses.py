"""Stages 3-5 of a study, each writing into its (temporary) stage folder and returning its record:
the causal graph of the training rows with a role bootstrap, the comparison with the human Schwartz
structure, and the side effects (the study's metric and the held-out evaluation).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from lm_eval_values.analysis import circumplex as cx
from lm_eval_values.analysis import side_effects as se
from lm_eval_values.analysis.circumplex.plots import render_plots
from lm_eval_values.analysis.heldout import heldout_evaluation
from lm_eval_values.causal.bootstrap import bootstrap
from lm_eval_values.causal.discovery import discover
from lm_eval_values.causal.draw import render_png
from lm_eval_values.causal.export import to_dot_text, to_graphml_text, to_json_text
from lm_eval_values.causal.metrics import json_safe
from lm_eval_values.causal.reference import load_reference
from lm_eval_values.core.atomic import atomic_write_json
from lm_eval_values.core.conditions import NO_ROLE, dose_id
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import COMPARE_HUMAN_FILE, GRAPH_FILE, HUMAN_GRAPH_FILE
from lm_eval_values.core.jsonable import json_ready
from lm_eval_values.matrix.value_matrix import ValueMatrix
from lm_eval_values.study.stages import ANALYSIS_ERRORS, jsonable, read_study_matrix, skip_reason, write_bytes
from lm_eval_values.values.names import SCHWARTZ_VALUES


# ----------------------------------------------------------------------------- stage 3: graph
def graph_stage(matrix_csv: Path, g: dict[str, Any], seed: int, folder: Path) -> dict[str, Any]:
    """PC/FCI/GES on the chosen rows, role bootstrap, exports and drawing."""
    vm = read_study_matrix(matrix_csv)
    vm = vm.filter(keep_steering=g["keep_steer"], split=g["split"])
    kw = {"algo": g["algo"], "alpha": g["alpha"], "indep_test": g["indep_test"]}
    info: dict[str, Any] = {"stage": "graph", "settings": g, "n_rows": vm.n_rows, "n_roles": len(vm.role_ids),
                            "values": vm.values, "steering_ids": vm.steering_ids}
    try:
        vm.check("matrix")
        graph = discover(vm, **kw)
    except ANALYSIS_ERRORS as exc:
        info["skipped_reason"] = skip_reason(exc)
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
    (folder / GRAPH_FILE).write_text(to_json_text(graph))
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
    vm = read_study_matrix(matrix_csv)
    if h["rows"] == "unsteered":
        vm = vm.filter(keep_steering=["none"]) if "none" in vm.steering_ids else vm
    info: dict[str, Any] = {"stage": "human", "settings": h, "n_rows": vm.n_rows}
    missing = [v for v in SCHWARTZ_VALUES if v not in vm.values]
    if missing:
        info["skipped_reason"] = f"the matrix lacks Schwartz value columns {missing} (use values_schwartz tasks)"
        return info
    scores = vm.respondent_scores()[list(SCHWARTZ_VALUES)].dropna()   # a role in both splits counts once
    info["n_rows"] = int(len(scores))
    try:
        ref = cx.load_human_reference()
        res = cx.compare_with_human(scores, h["centering"], h["permutations"], seed, reference=ref,
                                    convention=h["convention"], bootstrap=h["bootstrap"])
    except ANALYSIS_ERRORS as exc:
        info["skipped_reason"] = skip_reason(exc)
        print(f"    human comparison skipped: {info['skipped_reason']}", file=sys.stderr)
        return info
    payload = res.to_dict()
    raw_corr = cx.value_correlations(scores, "none", order=ref.values)
    payload["causal"] = json_ready(cx.compare_causal_with_human(raw_corr, res.n_rows, h["alpha"], ref), 6)
    atomic_write_json(folder / COMPARE_HUMAN_FILE, payload)
    (folder / "model_correlation.csv").write_text(res.correlation.round(6).to_csv())
    write_bytes(folder, render_plots(res, ref.abbrev))
    human_graph = cx.human_pc_graph(h["alpha"], ref)
    (folder / HUMAN_GRAPH_FILE).write_text(to_json_text(human_graph))
    info.update({"rthor_ci": res.rthor.ci, "rthor_p": res.rthor.p_value, "human_rthor_ci": res.human_rthor.ci,
                 "similarity": res.similarity})
    return info


# ----------------------------------------------------------------------------- stage 5: side effects
def _with_dose_ids(vm: ValueMatrix) -> ValueMatrix:
    """A copy whose steered rows have steering id ``<id>@<coefficient>`` (each dose one intervention)."""
    meta = vm.meta.copy()
    ids = meta["steering_id"].astype(str)
    coefs = meta["coefficient"]
    meta["steering_id"] = [dose_id(s, c) for s, c in zip(ids, coefs)]
    return ValueMatrix(vm.scores.copy(), meta, vm.source)


def side_effects_stage(matrix_csv: Path, graph_json: Path, human_graph_json: Path | None, s: dict[str, Any],
                       seed: int, train_split: str | None, folder: Path) -> dict[str, Any]:
    """The study's Expected/Unexpected metric and the held-out side-effect evaluation."""
    vm = _with_dose_ids(read_study_matrix(matrix_csv))
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
    except ANALYSIS_ERRORS as exc:
        study["role prompting"] = {"skipped_reason": skip_reason(exc)}
    # steering: the no-role condition under each steered setting minus unsteered (the study used one role)
    try:
        src = held if held.n_rows and NO_ROLE in held.role_ids else train
        sc = se.center_changes(se.steering_changes(src, NO_ROLE), s["centering"])
        study["steering (no role)"] = {"n_rows": int(sc.shape[0]), "graphs": {
            name: se.study_side_effects(sc, se.descendant_sets(gr, values, s["policy"]), s["tol"]).to_json()
            for name, gr in graphs.items()}}
    except ANALYSIS_ERRORS as exc:
        study["steering (no role)"] = {"skipped_reason": skip_reason(exc)}
    info["study_metric"] = study
    atomic_write_json(folder / "study_metric.json", jsonable(study))
    try:
        if not held.n_rows:
            raise UserError("side_effects.heldout_split", f"no rows in split {s['heldout_split']!r}",
                            "add test roles (roles.generate.test)")
        refs = {k: g.to_digraph(s["policy"]) for k, g in graphs.items() if k != "learned graph"}
        ho = heldout_evaluation(graph.to_digraph(s["policy"]), train, held, reference=refs, q=s["fdr"],
                                   n_random=s["n_random"], seed=seed, centering=s["centering"], tol=s["tol"])
    except ANALYSIS_ERRORS as exc:
        info["heldout_skipped_reason"] = skip_reason(exc)
        print(f"    held-out evaluation skipped: {info['heldout_skipped_reason']}", file=sys.stderr)
        return info
    atomic_write_json(folder / "heldout.json", jsonable(ho.to_json()))
    (folder / "heldout_auroc.csv").write_text(ho.table.to_csv(index=False, float_format="%.4f"))
    (folder / "heldout_pairs.csv").write_text(ho.per_condition.to_csv(index=False, float_format="%.4f"))
    (folder / "heldout_pvalues.csv").write_text(ho.pvalues.to_csv(float_format="%.6g"))
    info["heldout"] = jsonable(ho.to_json())
    return info
