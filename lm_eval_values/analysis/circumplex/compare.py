"""The whole comparison of a model's value structure with the humans', its row bootstrap, and the
causal side (PC graphs of the model's and the humans' uncentered correlations).

MRAT-centered scores are ipsative, so their correlation matrix is singular: the causal side uses
the uncentered correlations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.analysis.circumplex.mds import (MDSConfiguration, higher_order_contrasts, mds_configuration,
                                                    procrustes_fit)
from lm_eval_values.analysis.circumplex.reference import HumanReference, check_centering, load_human_reference
from lm_eval_values.analysis.circumplex.scores import mrat_center, schwartz_scores, value_correlations
from lm_eval_values.analysis.circumplex.structure import (RTHORResult, circular_distances, distance_curve,
                                                          is_monotone_decreasing, matrix_similarity, offdiagonal,
                                                          order_counts, order_design, rthor_test)
from lm_eval_values.causal.discovery import pc_from_correlation
from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.causal.metrics import compare_graphs
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.jsonable import json_ready
from lm_eval_values.values.names import SCHWARTZ_VALUES


def _batch_corr(x: np.ndarray) -> np.ndarray:
    """Pearson correlation matrices of a batch of samples, shape (B, n, k) -> (B, k, k)."""
    c = x - x.mean(axis=1, keepdims=True)
    cov = np.einsum("bni,bnj->bij", c, c)
    sd = np.sqrt(np.einsum("bii->bi", cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / (sd[:, :, None] * sd[:, None, :])


def bootstrap_structure(scores: pd.DataFrame, reference_corr: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                        centering: str = "mrat", item_mean: pd.Series | Sequence[float] | None = None,
                        items_per_value: Mapping[str, float] | None = None,
                        order: Sequence[str] = SCHWARTZ_VALUES, convention: str = "separate",
                        level: float = 0.95) -> dict[str, Any]:
    """Percentile intervals of the correspondence index and the similarity to ``reference_corr``
    over ``n_boot`` resamples of the rows (roles) with replacement (Efron & Tibshirani 1993).

    Rows are resampled after centering (MRAT is a per-row quantity). Resamples in which a
    column is constant are skipped and counted in ``"skipped"``.
    """
    check_centering(centering)
    values = schwartz_scores(scores, order)
    if centering == "mrat":
        values = mrat_center(values, item_mean, items_per_value)
    x = values.to_numpy(dtype=float)
    design = order_design(order, convention)
    ref_cells = offdiagonal(reference_corr, order)
    rng = np.random.default_rng(seed)
    dist = circular_distances(order, convention).to_numpy()[design.iu, design.ju]
    cis, rs, rmses, curves = [], [], [], []
    skipped = 0
    for start in range(0, n_boot, 500):
        idx = rng.integers(0, len(x), size=(min(500, n_boot - start), len(x)))
        corr = _batch_corr(x[idx])
        ok = np.isfinite(corr).all(axis=(1, 2))
        skipped += int((~ok).sum())
        cells = corr[ok][:, design.iu, design.ju]
        agree, viol = order_counts(cells, design)
        cis.append((agree - viol) / len(design.closer))
        centred = cells - cells.mean(axis=1, keepdims=True)
        ref_c = ref_cells - ref_cells.mean()
        rs.append(centred @ ref_c / (np.linalg.norm(centred, axis=1) * np.linalg.norm(ref_c)))
        rmses.append(np.sqrt(((cells - ref_cells) ** 2).mean(axis=1)))
        curves.append(np.stack([cells[:, dist == t].mean(axis=1) for t in np.unique(dist)], axis=1))
    lo, hi = 100 * (1 - level) / 2, 100 * (1 + level) / 2

    def interval(parts: list[np.ndarray]) -> list[float] | None:
        arr = np.concatenate(parts) if parts else np.array([])
        return [float(np.percentile(arr, lo)), float(np.percentile(arr, hi))] if arr.size else None

    curve = np.concatenate(curves) if curves else np.empty((0, 0))
    curve_iv = {str(int(t)): [float(np.percentile(curve[:, i], lo)), float(np.percentile(curve[:, i], hi))]
                for i, t in enumerate(np.unique(dist))} if curve.size else None
    return {"n_boot": int(n_boot), "seed": int(seed), "level": float(level), "skipped": skipped,
            "ci": interval(cis), "r_offdiag": interval(rs), "rmse": interval(rmses), "distance_curve": curve_iv}


# --------------------------------------------------------------------------- the whole comparison


@dataclass(frozen=True)
class HumanComparison:
    """Everything :func:`compare_with_human` computes for one value matrix."""

    centering: str
    n_rows: int
    values: tuple[str, ...]
    correlation: pd.DataFrame
    human_correlation: pd.DataFrame
    distance_curve: dict[int, float]
    human_distance_curve: dict[int, float]
    rthor: RTHORResult
    human_rthor: RTHORResult
    similarity: dict[str, float]
    mds: MDSConfiguration
    human_mds: MDSConfiguration
    mds_to_human_disparity: float
    higher_order: dict[str, dict[str, Any]]
    human_higher_order: dict[str, dict[str, Any]]
    settings: dict[str, Any]
    bootstrap: dict[str, Any] | None = None

    def to_dict(self, digits: int = 6) -> dict[str, Any]:
        """JSON-ready summary (floats rounded to ``digits``; same input -> same output)."""
        def mds(m: MDSConfiguration) -> dict[str, Any]:
            circle = {k: v for k, v in m.circle.items() if k not in ("fitted", "rotated")}
            return {"coords": {v: list(map(float, xy)) for v, xy in zip(m.values, m.coords)},
                    "stress1": m.stress1, "procrustes_to_circle": circle}
        raw = {
            "centering": self.centering, "n_rows": self.n_rows, "values": list(self.values),
            "correlation": _frame_dict(self.correlation),
            "distance_curve": {"model": _keyed(self.distance_curve), "human": _keyed(self.human_distance_curve),
                               "model_monotone_decreasing": is_monotone_decreasing(self.distance_curve),
                               "human_monotone_decreasing": is_monotone_decreasing(self.human_distance_curve)},
            "rthor": {"model": self.rthor.to_dict(), "human": self.human_rthor.to_dict()},
            "similarity_to_human": self.similarity,
            "mds": {"model": mds(self.mds), "human": mds(self.human_mds),
                    "model_to_human_disparity": self.mds_to_human_disparity},
            "higher_order": {"model": self.higher_order, "human": self.human_higher_order},
            "settings": self.settings,
            "bootstrap": self.bootstrap,
        }
        return json_ready(raw, digits)


def _keyed(curve: Mapping[int, float]) -> dict[str, float]:
    return {str(k): v for k, v in sorted(curve.items())}


def _frame_dict(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {str(r): {str(c): float(frame.loc[r, c]) for c in frame.columns} for r in frame.index}


def compare_with_human(scores: pd.DataFrame, centering: str = "mrat", permutations: int = 10000, seed: int = 0,
                       item_mean: pd.Series | Sequence[float] | None = None,
                       items_per_value: Mapping[str, float] | None = None,
                       reference: HumanReference | None = None,
                       convention: str = "separate", bootstrap: int = 0) -> HumanComparison:
    """Compare the value structure of ``scores`` (rows x 10 Schwartz columns) with humans.

    The human side uses the reference matrix with the same ``centering``; RTHOR p-values
    of model and human use the same ``permutations``, ``seed`` and circle ``convention``
    (see :func:`circular_distances`; ``"separate"`` reproduces the published figures).
    ``bootstrap`` > 0 adds row-bootstrap intervals (:func:`bootstrap_structure`, same ``seed``).
    """
    ref = reference or load_human_reference()
    order = ref.values
    corr = value_correlations(scores, centering, item_mean, items_per_value, order)
    human = ref.correlation(centering)
    model_mds, human_mds = mds_configuration(corr, order), mds_configuration(human, order)
    return HumanComparison(
        centering=centering, n_rows=int(len(scores)), values=tuple(order),
        correlation=corr, human_correlation=human,
        distance_curve=distance_curve(corr, order, convention),
        human_distance_curve=distance_curve(human, order, convention),
        rthor=rthor_test(corr, order, permutations, seed, convention),
        human_rthor=rthor_test(human, order, permutations, seed, convention),
        similarity=matrix_similarity(corr, human, order),
        mds=model_mds, human_mds=human_mds,
        mds_to_human_disparity=procrustes_fit(model_mds.coords, human_mds.coords).disparity,
        higher_order=higher_order_contrasts(corr), human_higher_order=higher_order_contrasts(human),
        settings={"centering": centering, "permutations": permutations, "seed": seed,
                  "items_per_value": dict(items_per_value) if items_per_value else "equal",
                  "item_mean": "given" if item_mean is not None else "from value scores",
                  "convention": convention, "circle_order": list(order),
                  "reference": {"source": ref.source, "n": ref.n, "instrument": ref.instrument}},
        bootstrap=bootstrap_structure(scores, human, bootstrap, seed, centering, item_mean, items_per_value,
                                      order, convention) if bootstrap > 0 else None,
    )


# --------------------------------------------------------------------------- causal side


def human_pc_graph(alpha: float = 0.05, reference: HumanReference | None = None) -> ValueGraph:
    """PC graph of the human (uncentered) PVQ-40 correlations with n = 151 (Fisher-z tests).

    The raw matrix is used because MRAT-centered scores are ipsative: their item-weighted
    sum is identically zero, so the centered correlation matrix is singular and partial
    correlations given all other values are undefined.
    """
    ref = reference or load_human_reference()
    return pc_from_correlation(ref.correlation("none"), n=ref.n, alpha=alpha)


def graph_edges(graph: ValueGraph) -> list[dict[str, Any]]:
    """Edges of a ``ValueGraph`` as ``{"u", "v", "kind", "circular_distance"}`` dictionaries.

    ``circular_distance`` is the distance of the two values on the Schwartz circle (None for
    nodes that are not Schwartz values): a circumplex predicts mostly neighbouring edges.
    """
    dist = circular_distances()
    out = []
    for e in graph.edges():
        d = int(dist.loc[e.u, e.v]) if e.u in dist.index and e.v in dist.index else None
        out.append({"u": e.u, "v": e.v, "kind": e.kind, "circular_distance": d})
    return out


def _edge_summary(graph: ValueGraph) -> dict[str, Any]:
    edges = graph_edges(graph)
    dists = [e["circular_distance"] for e in edges if e["circular_distance"] is not None]
    return {"n_edges": len(edges), "edges": edges, "text": [f"{e['u']} {e['kind']} {e['v']}" for e in edges],
            "share_between_neighbours": (sum(d == 1 for d in dists) / len(dists)) if dists else None,
            "meta": dict(graph.meta)}


def compare_causal_with_human(model_corr: pd.DataFrame, n: int, alpha: float = 0.05,
                              reference: HumanReference | None = None) -> dict[str, Any]:
    """PC graphs of a model's and of the humans' uncentered value correlations, and their comparison.

    Both graphs come from :func:`lm_eval_values.causal.discovery.pc_from_correlation` (Fisher-z
    needs only correlations and sample size: ``n`` model rows, 151 respondents); the comparison
    is :func:`lm_eval_values.causal.metrics.compare_graphs` with the human graph as reference.
    If the model graph cannot be fitted (too few rows, singular matrix) the reason is reported
    under ``"model_skipped"`` instead of raising.
    """
    ref = reference or load_human_reference()
    human = human_pc_graph(alpha, ref)
    out: dict[str, Any] = {"alpha": float(alpha), "correlations": "uncentered (MRAT-centered matrices are singular)",
                           "human": {"n": ref.n, **_edge_summary(human)}}
    order = list(ref.values)
    try:
        model = pc_from_correlation(model_corr.loc[order, order], n=int(n), alpha=alpha)
    except UserError as exc:
        out["model_skipped"] = exc.one_line()
        return out
    out["model"] = {"n": int(n), **_edge_summary(model)}
    out["comparison"] = _compare_graphs(model, human)
    return out


def _compare_graphs(model: ValueGraph, human: ValueGraph) -> dict[str, Any]:
    """``compare_graphs(learned=model, reference=human)`` as a JSON-ready dictionary."""
    res = compare_graphs(model, human)
    if hasattr(res, "to_dict"):
        res = res.to_dict()
    elif not isinstance(res, Mapping):
        res = dict(vars(res))
    return dict(res)


# --------------------------------------------------------------------------- console summary


def p_text(p: float | None) -> str:
    """A p-value for a plot label or a summary line (``n/a`` when there is none)."""
    return "n/a" if p is None else (f"{p:.2g}" if p >= 0.001 else f"{p:.1e}")


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def comparison_summary(payload: dict[str, Any]) -> str:
    """The console summary of a comparison (:meth:`HumanComparison.to_dict` output, plus ``causal``)."""
    r, h = payload["rthor"]["model"], payload["rthor"]["human"]
    sim = payload["similarity_to_human"]
    curve = payload["distance_curve"]
    lines = [
        f"rows: {payload['n_rows']}  centering: {payload['centering']}",
        f"RTHOR CI model {r['ci']:.3f} (p = {p_text(r['p_value'])})  humans {h['ci']:.3f} (p = {p_text(h['p_value'])})",
        "distance curve 1..5 model:  " + " ".join(f"{v:+.3f}" for v in curve["model"].values()),
        "distance curve 1..5 humans: " + " ".join(f"{v:+.3f}" for v in curve["human"].values()),
        f"similarity to humans: r = {_num(sim['r_offdiag'])}, RMSE = {_num(sim['rmse'])}",
    ]
    boot = payload.get("bootstrap")
    if boot and boot.get("ci"):
        lines.append(f"{100 * boot['level']:.0f}% bootstrap intervals ({boot['n_boot']} row resamples): "
                     f"CI [{boot['ci'][0]:.3f}, {boot['ci'][1]:.3f}], r [{boot['r_offdiag'][0]:.3f}, "
                     f"{boot['r_offdiag'][1]:.3f}], RMSE [{boot['rmse'][0]:.3f}, {boot['rmse'][1]:.3f}]")
    causal = payload.get("causal", {})
    if "comparison" in causal:
        lines.append(f"PC edges: model {causal['model']['n_edges']}, humans {causal['human']['n_edges']}")
    elif "model_skipped" in causal:
        lines.append(f"model PC graph skipped: {causal['model_skipped']}")
    return "\n".join(lines)
