"""Held-out side-effect prediction: does the value graph predict which OTHER values a steering setting moves?

The graph is fitted on training conditions; for each held-out steering condition the directly
targeted value is the one the setting moved most on the TRAINING rows; the graph predicts which
other values change (its descendants, graded by 1 / path length); the observed changes are
significant paired differences across held-out roles (Wilcoxon signed-rank, Benjamini-Hochberg
FDR; Benjamini & Hochberg 1995). Reported: precision, recall, AUROC, next to baselines
(degree-preserving random graphs, a correlation-threshold graph with as many edges, "everything
changes", reference graphs). Centring and ``tol`` as in :mod:`lm_eval_values.analysis.side_effects`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import networkx as nx
import numpy as np
import pandas as pd

from lm_eval_values.analysis.side_effects import center_changes, check_centering
from lm_eval_values.core.conditions import NO_STEERING
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.value_matrix import ValueMatrix


def benjamini_hochberg(p: np.ndarray, q: float = 0.05) -> np.ndarray:
    """Boolean rejections of the Benjamini-Hochberg step-up procedure at FDR ``q``."""
    p = np.asarray(p, dtype=float)
    m = p.size
    if m == 0:
        return np.zeros(0, bool)
    order = np.argsort(p, kind="mergesort")
    thresh = q * np.arange(1, m + 1) / m
    passed = p[order] <= thresh
    k = np.max(np.nonzero(passed)[0]) + 1 if passed.any() else 0
    rej = np.zeros(m, bool)
    rej[order[:k]] = True
    return rej


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count 1/2); NaN when one class is empty."""
    from scipy.stats import rankdata

    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def paired_changes(vm: ValueMatrix, steering_ids: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """``{steering id: roles x values}`` of paired differences (role steered minus role unsteered).

    Only roles with both rows are used.
    """
    meta = vm.meta
    base_rows = meta["steering_id"].astype(str) == NO_STEERING
    if not base_rows.any():
        raise UserError("heldout", "no unsteered rows to pair with", "include the steering id 'none'")
    base = vm.scores[base_rows.to_numpy()].copy()
    base.index = meta.loc[base_rows, "role_id"].astype(str)
    base = base[~base.index.duplicated()]
    ids = [s for s in vm.steering_ids if s != NO_STEERING] if steering_ids is None else list(steering_ids)
    out = {}
    for s in ids:
        rows = (meta["steering_id"].astype(str) == s).to_numpy()
        if not rows.any():
            raise UserError("steer", f"unknown steering id {s!r} in the held-out matrix", "check --steer")
        st = vm.scores[rows].copy()
        st.index = meta.loc[rows, "role_id"].astype(str)
        st = st[~st.index.duplicated()]
        common = [r for r in st.index if r in base.index]
        out[s] = st.loc[common] - base.loc[common]
    return out


def observed_changes(diffs: Mapping[str, pd.DataFrame], q: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wilcoxon signed-rank p-values (two-sided, zeros dropped, normal approximation with tie
    correction, as scores are discrete; all-zero -> p = 1) per
    (steering, value) and BH rejections at FDR ``q`` over all of them. Returns (pvalues, significant)."""
    from scipy.stats import wilcoxon

    pv: dict[str, dict[str, float]] = {}
    for s, d in diffs.items():
        pv[s] = {}
        for v in d.columns:
            x = d[v].dropna().to_numpy()
            x = x[x != 0]
            if len(x) == 0:
                pv[s][v] = 1.0
                continue
            pv[s][v] = float(wilcoxon(x, zero_method="wilcox", alternative="two-sided", method="approx").pvalue)
    P = pd.DataFrame(pv).T
    rej = benjamini_hochberg(P.to_numpy().ravel(), q).reshape(P.shape)
    return P, pd.DataFrame(rej, index=P.index, columns=P.columns)


def graph_scores(dg: nx.DiGraph, source: str, values: Sequence[str]) -> dict[str, float]:
    """1 / shortest-path length from ``source`` (0 when unreachable)."""
    if source not in dg:
        return {v: 0.0 for v in values}
    dist = nx.single_source_shortest_path_length(dg, source)
    return {v: (1.0 / dist[v]) if v in dist and v != source else 0.0 for v in values}


def correlation_graph(scores: pd.DataFrame, n_edges: int) -> nx.DiGraph:
    """Undirected (both arrows) graph of the ``n_edges`` value pairs with the largest |correlation|."""
    c = scores.corr().abs()
    cols = list(c.columns)
    pairs = sorted(((c.iloc[i, j], cols[i], cols[j]) for i in range(len(cols)) for j in range(i + 1, len(cols))),
                   key=lambda t: (-t[0], t[1], t[2]))
    dg = nx.DiGraph()
    dg.add_nodes_from(cols)
    for _, a, b in pairs[:n_edges]:
        dg.add_edge(a, b)
        dg.add_edge(b, a)
    return dg


def degree_preserving_random(dg: nx.DiGraph, seed: int) -> nx.DiGraph:
    """A random directed graph with the in- and out-degree sequence of ``dg`` (edge swaps).

    Two-way pairs (doubled undirected edges) are swapped as separate arrows.
    """
    g = nx.DiGraph(dg)
    m = g.number_of_edges()
    if m < 3:
        return g
    try:
        nx.directed_edge_swap(g, nswap=5 * m, max_tries=100 * m, seed=seed)
    except (nx.NetworkXAlgorithmError, nx.NetworkXError):
        pass
    return g


@dataclass
class HeldoutResult:
    """Held-out side-effect evaluation (see :func:`heldout_evaluation`)."""

    table: pd.DataFrame
    per_condition: pd.DataFrame
    pvalues: pd.DataFrame
    significant: pd.DataFrame
    targets: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> None)."""
        def clean(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in recs]

        return {"params": self.params, "targets": self.targets,
                "n_significant": int(self.significant.to_numpy().sum()),
                "n_tests": int(self.significant.size),
                "table": clean(self.table.to_dict(orient="records"))}


def _eval_predictor(name: str, score_fn: Any, diffs: Mapping[str, pd.DataFrame], sig: pd.DataFrame,
                    targets: Mapping[str, str], values: Sequence[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ys, ss, per = [], [], []
    for s in diffs:
        t = targets[s]
        sc = score_fn(s, t)
        for w in values:
            if w == t:
                continue
            ys.append(bool(sig.loc[s, w]))
            ss.append(float(sc[w]))
            per.append({"predictor": name, "steering_id": s, "target": t, "value": w,
                        "score": float(sc[w]), "observed": bool(sig.loc[s, w])})
    y, sc_ = np.array(ys, bool), np.array(ss, float)
    pred = sc_ > 0
    tp = int((pred & y).sum())
    prec = tp / int(pred.sum()) if pred.any() else math.nan
    rec = tp / int(y.sum()) if y.any() else math.nan
    return {"predictor": name, "n_pairs": int(len(y)), "n_observed": int(y.sum()), "n_predicted": int(pred.sum()),
            "precision": prec, "recall": rec, "auroc": auroc(sc_, y)}, per


def heldout_evaluation(graph_dg: nx.DiGraph, train: ValueMatrix, heldout: ValueMatrix,
                       reference: Mapping[str, nx.DiGraph] | None = None, q: float = 0.05,
                       n_random: int = 100, seed: int = 0,
                       steering_ids: Sequence[str] | None = None, centering: str = "none",
                       tol: float = 0.0) -> HeldoutResult:
    """Predict side effects of held-out steering conditions and score the predictions.

    Args:
        graph_dg: the learned graph as a reachability DiGraph (e.g. ``ValueGraph.to_digraph("study")``).
        train: training matrix (defines each setting's target value and the correlation baseline).
        heldout: held-out matrix (e.g. the test roles); its steering settings are evaluated.
        reference: extra named graphs to evaluate the same way (e.g. ``{"human1": dg}``).
        q: FDR level for the observed changes.
        n_random: number of degree-preserving random graphs (mean and 95% range reported).
        seed: seed of the random graphs.
        steering_ids: restrict the held-out settings (default: every steered setting present in both).
        centering: ``"none"``, ``"median"`` or ``"mrat"``: paired changes (train and held out) minus
            each role's median / mean change over the values (see :func:`center_changes`).
        tol: a (setting, value) counts as changed when it is significant AND its mean paired
            change exceeds ``tol`` in absolute value (0: significance alone).

    The target of a setting is the value with the largest |mean paired change| across TRAINING
    roles; the pairs (setting, other value) are scored, the target itself is left out.
    """
    values = [v for v in heldout.values]
    if set(train.values) != set(values):
        raise UserError("train", "train and held-out matrices have different value columns", "use the same values")
    missing = [v for v in values if v not in graph_dg]
    if missing:
        raise UserError("graph", f"value(s) {missing} are not graph nodes", "use a graph over the same values")
    ids = [s for s in heldout.steering_ids if s != NO_STEERING and s in set(train.steering_ids)]
    if steering_ids is not None:
        unknown = [s for s in steering_ids if s not in ids]
        if unknown:
            raise UserError("steer", f"steering id(s) {unknown} are not in both matrices", f"use some of: {', '.join(ids)}")
        ids = list(steering_ids)
    if not ids:
        raise UserError("heldout", "no steered setting is present in both matrices", "check the inputs")
    check_centering(centering)
    if tol < 0 or not math.isfinite(tol):
        raise UserError("tol", f"{tol} is not a number >= 0", "e.g. 0 or 0.05")
    train_d = {s: center_changes(d[values], centering) for s, d in paired_changes(train, ids).items()}
    targets = {s: str(train_d[s].mean().abs().idxmax()) for s in ids}
    diffs = {s: center_changes(d[values], centering) for s, d in paired_changes(heldout, ids).items()}
    P, sig = observed_changes(diffs, q)
    if tol > 0:
        big = pd.DataFrame({s: d.mean().abs() > tol for s, d in diffs.items()}).T
        sig = sig & big.loc[sig.index, sig.columns]
    rows, per = [], []

    def from_graph(dg: nx.DiGraph) -> Any:
        return lambda s, t: graph_scores(dg, t, values)

    r, p = _eval_predictor("learned graph", from_graph(graph_dg), diffs, sig, targets, values)
    rows.append(r)
    per += p
    for name, dg in (reference or {}).items():
        r, p = _eval_predictor(name, from_graph(dg), diffs, sig, targets, values)
        rows.append(r)
        per += p
    n_adj = len({frozenset(e) for e in graph_dg.edges()})
    cg = correlation_graph(train.scores[values], n_adj)
    r, p = _eval_predictor(f"correlation graph (top {n_adj} |r|)", from_graph(cg), diffs, sig, targets, values)
    rows.append(r)
    per += p
    r, _ = _eval_predictor("everything changes", lambda s, t: {v: 1.0 for v in values}, diffs, sig, targets, values)
    rows.append(r)
    rand = []
    for i in range(int(n_random)):
        rg = degree_preserving_random(graph_dg, seed=int(seed) + i)
        rand.append(_eval_predictor("random", from_graph(rg), diffs, sig, targets, values)[0])
    if rand:
        agg: dict[str, Any] = {"predictor": f"degree-preserving random (mean of {len(rand)})",
                               "n_pairs": rand[0]["n_pairs"], "n_observed": rand[0]["n_observed"],
                               "n_predicted": float(np.mean([x["n_predicted"] for x in rand]))}
        for k in ("precision", "recall", "auroc"):
            xs = np.array([x[k] for x in rand], float)
            agg[k] = float(np.nanmean(xs)) if np.isfinite(xs).any() else math.nan
            agg[f"{k}_lo"] = float(np.nanpercentile(xs, 2.5)) if np.isfinite(xs).any() else math.nan
            agg[f"{k}_hi"] = float(np.nanpercentile(xs, 97.5)) if np.isfinite(xs).any() else math.nan
        learned_auc = rows[0]["auroc"]
        aucs = np.array([x["auroc"] for x in rand], float)
        agg["p_random_ge_learned"] = float((np.sum(aucs >= learned_auc) + 1) / (len(aucs) + 1)) if not math.isnan(learned_auc) else math.nan
        rows.append(agg)
    table = pd.DataFrame(rows)
    params = {"q": q, "n_random": int(n_random), "seed": int(seed), "steering_ids": ids,
              "n_heldout_roles": int(max(len(d) for d in diffs.values())), "test": "wilcoxon signed-rank (zeros dropped, normal approx.), BH FDR",
              "centering": centering, "tol": float(tol),
              "observed": "significant at the FDR" + (f" and |mean paired change| > {tol:g}" if tol > 0 else ""),
              "target_rule": "largest |mean paired change| on the training rows",
              "score": "1 / shortest path length from the target (0 = unreachable)"}
    return HeldoutResult(table, pd.DataFrame(per), P, sig, targets, params)
