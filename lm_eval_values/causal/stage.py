"""The graph stage: :func:`run_graph`, called by the study (``RUN/<model>/graph/``) and by
``lm-eval-values graph`` alike, so that both write the same files for the same rows and settings.

Files written into ``out``::

    result.json                   # the record (lm_eval_values.results.graph.GraphResult): settings, rows,
                                  # sample size (rows and effective n), edge counts at both sample sizes,
                                  # edges with bootstrap frequencies, JCI intervention targets, notes
    graph.json, graph.graphml, graph.dot   # the value graph (value nodes only)
    graph_contexts.json           # with JCI: the graph including the context nodes steer=<id> / role=<id>
    graph.png                     # drawing: width = adjacency frequency; an arrowhead only where the
                                  # orientation holds in >= orientation_threshold of the resamples
    descendants.json              # descendant sets under the policy (contexts included)
    bootstrap.csv, bootstrap.json, consensus.json   # with bootstrap
    descendant_probabilities.csv  # with bootstrap: P(target is a descendant of source) over resamples
    study_edges.json              # policy study: the reference study's post-processed arrows
    metrics.json                  # with reference graphs: SHD, F1, descendant-set agreement

The unit of analysis is one row of the value matrix (a role x steering condition); with the honest
default sample size each test counts rows divided by the per-pair design effect
``1 + (m - 1) rho_x rho_y`` of the role clusters (Scott & Holt 1982, "The effect of two-stage
sampling on ordinary least squares methods", JASA 77: 848-854; ICCs by one-way ANOVA; see
:mod:`lm_eval_values.causal.sample_size`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from lm_eval_values.causal.bootstrap import BootstrapResult
from lm_eval_values.causal.fit import GraphFit, bootstrap_graph, fit_graph
from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.causal.stage_files import annotate_stability, drawn_graph, drawn_kind, graph_files
from lm_eval_values.causal.stage_settings import GraphStageSettings
from lm_eval_values.core.atomic import atomic_write_files, check_output_dir
from lm_eval_values.core.files import RESULT_FILE
from lm_eval_values.core.hashing import sha256_hex
from lm_eval_values.core.versions import GRAPH_PACKAGES, package_versions
from lm_eval_values.matrix.selection import with_dose_ids
from lm_eval_values.matrix.value_matrix import ValueMatrix
from lm_eval_values.results.graph import GraphEdgeRecord, GraphResult
from lm_eval_values.results.records import ANALYSIS_ERRORS, json_bytes


@dataclass
class GraphRun:
    """What :func:`run_graph` computed (the files are written already when ``out`` was given)."""

    result: GraphResult
    graph: ValueGraph
    fit: GraphFit
    bootstrap: BootstrapResult | None
    files: dict[str, bytes]


def prepare_rows(vm: ValueMatrix, settings: GraphStageSettings) -> ValueMatrix:
    """The rows and columns the stage analyses (selection, dose ids, columns, z-scores)."""
    rows = settings.rows.apply(vm)
    if settings.doses:
        rows = with_dose_ids(rows)
    if settings.columns is not None:
        rows = rows.filter(columns=list(settings.columns))
    complete = rows.complete_rows()  # before z-scores, so that the scores and the counts describe the fit
    if complete.n_rows:  # with no complete row left, the check names the problem with the counts
        rows = complete
    return rows.standardized() if settings.standardize else rows


def matrix_sha256(vm: ValueMatrix) -> str:
    """Digest of the analysed rows (meta and scores as CSV text)."""
    return sha256_hex(vm.to_frame().to_csv(index=False))


def rows_record(vm: ValueMatrix, settings: GraphStageSettings) -> dict[str, Any]:
    """The ``rows`` entry of the record."""
    return {**settings.rows.to_dict(), "n_rows": vm.n_rows, "n_rows_dropped": vm.n_dropped, "n_roles": len(vm.role_ids),
            "steering_ids": vm.steering_ids, "doses": settings.doses}


def _size_entry(fit: GraphFit) -> dict[str, Any]:
    values = fit.value_graph()
    return {"n": (fit.graph.meta.get("sample_size") or {}).get("n", fit.n_rows), "n_edges": values.n_edges,
            "counts": values.count_by_kind()}


def edges_at_both_sizes(rows: ValueMatrix, settings: GraphStageSettings, fit: GraphFit) -> dict[str, Any]:
    """Value edges of the same data and settings with every row counted and at the effective n."""
    d = settings.discovery
    if d.algo == "ges" or d.indep_test != "fisherz":
        return {}
    out: dict[str, Any] = {}
    for mode in ("rows", "effective"):
        if fit.settings.sample_size.mode == mode:
            out[mode] = _size_entry(fit)
        else:
            other = fit_graph(rows, replace(d, sample_size=replace(d.sample_size, mode=mode)))
            out[mode] = _size_entry(other)
    return out


def _title(settings: GraphStageSettings, fit: GraphFit, boot: BootstrapResult | None) -> str:
    d = settings.discovery
    n = (fit.graph.meta.get("sample_size") or {}).get("n")
    size = f"n = {n:.0f} effective of {fit.n_rows} rows" if fit.effective is not None and n else f"{fit.n_rows} rows"
    jci = ", JCI steering contexts" if fit.targets or any(k == "knob" for k in fit.graph.node_kinds.values()) else ""
    text = f"{d.algo.upper()} ({d.indep_test}, alpha={d.alpha:g}), {size}{jci}"
    if boot is not None:
        text += f"\nwidth = adjacency frequency over {boot.n_ok} {boot.scheme} role resamples"
    return text


def _legend_notes(settings: GraphStageSettings, boot: BootstrapResult | None) -> list[str]:
    thr = settings.bootstrap.orientation_threshold
    if boot is None or thr is None:
        return []
    return [f"arrowhead only where >= {thr:.0%} of the resamples",
            "with the pair adjacent orient it so"]


def _bootstrap_record(settings: GraphStageSettings, boot: BootstrapResult, values: ValueGraph) -> dict[str, Any]:
    b = settings.bootstrap
    stable = sum(1 for e in values.edges() if (values.edge_attrs(e.u, e.v).get("freq") or 0.0) + 1e-12 >= b.threshold)
    oriented = [e for e in values.edges() if e.kind != "---"]
    thr = b.orientation_threshold
    n_orient = None if thr is None else sum(
        1 for e in oriented if (values.edge_attrs(e.u, e.v).get("orientation_stability") or 0.0) + 1e-12 >= thr)
    return {"n_boot": boot.n_boot, "n_ok": boot.n_ok, "unit": boot.unit, "scheme": boot.scheme,
            "fraction": boot.fraction, "design_effect": boot.design_effect, "threshold": b.threshold,
            "orientation_threshold": thr, "n_edges_above_threshold": stable, "n_oriented_edges": len(oriented),
            "n_orientations_stable": n_orient}


def run_graph(vm: ValueMatrix, settings: GraphStageSettings | None = None, out: str | Path | None = None, *,
              jobs: int | None = None, references: Mapping[str, ValueGraph] | None = None,
              title: str | None = None) -> GraphRun:
    """Select rows, fit the graph, resample it, and (with ``out``) write the stage's files all-or-nothing.

    Args:
        vm: the value matrix (every row; the settings select).
        settings: default :class:`GraphStageSettings` (the honest settings, 100 role subsamples).
        out: output folder (checked before any work; nothing is written on an error).
        jobs: bootstrap worker processes (results do not depend on it).
        references: named graphs over the same values to compare with (``metrics.json``).
        title: drawing title (default: algorithm, sample size, bootstrap).

    Raises:
        UserError: bad selection, degenerate rows (too few, constant or collinear columns), a
            reference over other values, an unwritable ``out``.
    """
    settings = settings or GraphStageSettings()
    if out is not None:
        check_output_dir(out, "--out")
    rows = prepare_rows(vm, settings)
    rows.check("matrix")
    if rows.n_dropped > vm.n_dropped:  # the fit uses complete rows only: count and say what it left out
        dropped = rows.n_dropped - vm.n_dropped
        print(f"note: INPUT: dropped {dropped} of {rows.n_rows + dropped} selected rows of {vm.source or 'the matrix'} "
              "with an empty value cell", file=sys.stderr)
    fit = fit_graph(rows, settings.discovery)
    full = fit.graph
    boot = None
    if settings.bootstrap.n_boot > 0:
        boot = bootstrap_graph(rows, settings.discovery, replace(settings.bootstrap, n_jobs=jobs))
        full = annotate_stability(full, boot)
    values = full.subgraph([n for n, k in full.node_kinds.items() if k == "value"])
    drawn = drawn_graph(values, settings.bootstrap.orientation_threshold if boot is not None else None)
    edges = [GraphEdgeRecord(e.u, e.v, e.kind, *(values.edge_attrs(e.u, e.v).get(k) for k in
                                                   ("freq", "orient_freq", "orientation_stability")),
                             drawn_kind(values, drawn, e.u, e.v)) for e in values.edges()]
    meta_size = full.meta.get("sample_size")
    result = GraphResult(
        settings=settings.to_dict(), rows=rows_record(rows, settings), values=rows.values,
        matrix_sha256=matrix_sha256(rows), n_edges=values.n_edges, counts=values.count_by_kind(), edges=edges,
        sample_size=None if meta_size is None else {"mode": meta_size.get("mode"), "n": meta_size.get("n"),
                                                    "n_rows": fit.n_rows,
                                                    "effective": None if fit.effective is None
                                                    else fit.effective.to_dict()},
        edges_by_sample_size=edges_at_both_sizes(rows, settings, fit), targets=fit.targets,
        bootstrap=None if boot is None else _bootstrap_record(settings, boot, values),
        descendants_policy=settings.policy, notes=list(fit.notes),
        versions=package_versions(GRAPH_PACKAGES, python=False))
    files = graph_files(full, values, settings.policy, title or _title(settings, fit, boot),
                        _legend_notes(settings, boot), boot, settings.bootstrap.threshold,
                        settings.bootstrap.orientation_threshold, references or {})
    files[RESULT_FILE] = json_bytes(result.to_dict())
    if out is not None:
        atomic_write_files(out, files, "--out")
    return GraphRun(result, values, fit, boot, files)


def graph_skipped(vm: ValueMatrix, settings: GraphStageSettings, reason: str) -> GraphResult:
    """The record of a graph stage whose rows could not be analysed (the study writes it instead)."""
    try:
        rows = prepare_rows(vm, settings)
        record, values, digest = rows_record(rows, settings), rows.values, matrix_sha256(rows)
    except ANALYSIS_ERRORS:  # the selection itself failed: record the settings and the reason only
        record, values, digest = settings.rows.to_dict(), [], None
    return GraphResult(settings=settings.to_dict(), rows=record, values=values, matrix_sha256=digest,
                       versions=package_versions(GRAPH_PACKAGES, python=False), skipped_reason=reason)


__all__ = ["GraphRun", "edges_at_both_sizes", "graph_skipped", "matrix_sha256", "prepare_rows", "run_graph"]
