"""Side effects of steering, predicted by a causal value graph.

Two analyses:

1. The study's metric (Kang et al. 2025, "frequency of changes in other value dimensions"):
   a change matrix ``D`` (rows = interventions, columns = values). For each value ``v``, take the
   rows where ``D[v] != 0``; for every other value ``w`` the co-change frequency is the fraction
   of those rows where ``D[w] != 0``. ``Expected(v)`` averages it over ``w`` in the descendants of
   ``v``, ``Unexpected(v)`` over the remaining values; the summary is the nanmean over ``v``.
   See :func:`study_side_effects`.

2. A held-out evaluation the study lacks (:func:`heldout_evaluation`): the graph is fitted on
   training conditions; for each held-out steering condition the directly targeted value is the
   one the setting moved most on the TRAINING rows; the graph predicts which other values change
   (its descendants, graded by 1 / path length); the observed changes are significant paired
   differences across held-out roles (Wilcoxon signed-rank, Benjamini-Hochberg FDR). Reported:
   precision, recall, AUROC, next to baselines (degree-preserving random graphs, a
   correlation-threshold graph with as many edges, "everything changes", a reference graph).

Continuous scores (e.g. yes/no expected scores) are almost never exactly unchanged, and steering
often shifts EVERY value at once (a change of the model's yes/no response bias) very consistently
across roles; then "which values change" is trivially "all of them". Two options make the
question informative, for both analyses: ``centering`` subtracts the common shift from each change
vector, estimated as its median over the values (``"median"``: robust, values without a specific
effect stay at zero as long as fewer than half of the values have one) or its mean (``"mrat"``, as
MRAT centring of profiles: every value that moved less than the average then counts as a negative
change), and ``tol`` requires a change larger than ``tol`` (held out: the mean paired change, on
top of significance).

CLI: ``lm-eval-values side-effects --graph G --changes ... --out DIR`` (see :func:`main`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import networkx as nx
import numpy as np
import pandas as pd

from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.core.conditions import META_COLUMNS, NO_ROLE, NO_STEERING, normalise_steering_id
from lm_eval_values.matrix.value_matrix import ValueMatrix

Descendants = Mapping[str, set[str]]

#: How change vectors are centred before they are read: as they are, minus their median over the
#: values, or minus their mean over the values.
CENTERINGS = ("none", "median", "mrat")


def check_centering(centering: str) -> None:
    """:class:`UserError` unless ``centering`` is one of :data:`CENTERINGS`."""
    if centering not in CENTERINGS:
        raise UserError("centering", f"unknown centering {centering!r}", f"use one of: {', '.join(CENTERINGS)}")


def center_changes(changes: pd.DataFrame, centering: str = "none") -> pd.DataFrame:
    """``changes`` (rows = interventions or roles, columns = values), minus each row's common shift.

    ``"median"``: each row minus its median over the value columns; ``"mrat"``: minus its mean
    (NaN ignored). A shift of every value by the same amount becomes zero either way, so only
    value-specific changes remain; ``"none"`` returns ``changes`` itself.
    """
    check_centering(centering)
    if centering == "none":
        return changes
    shift = changes.median(axis=1) if centering == "median" else changes.mean(axis=1)
    return changes.sub(shift, axis=0)


# ---------------------------------------------------------------------- descendants from anything
def descendant_sets(graph: Any, values: Sequence[str], policy: str | None = None) -> dict[str, set[str]]:
    """``{value: descendants}`` from a ValueGraph (``policy`` required), a networkx DiGraph, or a mapping.

    Nodes of the graph outside ``values`` are ignored as endpoints but still carry paths.
    Values missing from the graph get no descendants. ``values`` must all be known to
    a ValueGraph/DiGraph, otherwise :class:`UserError`.
    """
    from lm_eval_values.causal.graph import ValueGraph

    if isinstance(graph, ValueGraph):
        if policy is None:
            raise UserError("policy", "a ValueGraph needs an explicit reachability policy",
                            "pass policy='study', 'possible' or 'directed'")
        dg = graph.to_digraph(policy)
    elif isinstance(graph, nx.DiGraph):
        dg = graph
    elif isinstance(graph, Mapping):
        return {v: set(graph.get(v, set())) & set(values) - {v} for v in values}
    else:
        raise TypeError("graph must be a ValueGraph, a networkx DiGraph or a mapping")
    missing = [v for v in values if v not in dg]
    if missing:
        raise UserError("graph", f"value(s) {missing} are not nodes of the graph",
                        "use a graph over the same values as the changes")
    return {v: set(nx.descendants(dg, v)) & set(values) for v in values}


# ---------------------------------------------------------------------- change matrices
def role_changes(vm: ValueMatrix, baseline_role: str | None = None, steering: str = NO_STEERING,
                 include_no_role: bool = False) -> pd.DataFrame:
    """Change matrix of role prompting: each role minus ``baseline_role`` at one steering setting.

    Rows are indexed by role id. The study uses the first test role as baseline
    (``"Erika Jones"``) and leaves the no-role row out (``include_no_role=False``).
    """
    sub = vm.meta["steering_id"].astype(str) == str(steering)
    if not sub.any():
        raise UserError("steering", f"no rows with steering id {steering!r}", f"use one of: {', '.join(vm.steering_ids)}")
    scores = vm.scores[sub.to_numpy()]
    roles = vm.meta.loc[sub, "role_id"].astype(str)
    named = [r for r in dict.fromkeys(roles) if include_no_role or r != NO_ROLE]
    if baseline_role is None:
        if not named:
            raise UserError("baseline_role", "the matrix has no named roles", "give a matrix with roles")
        baseline_role = named[0]
    if baseline_role not in set(roles):
        raise UserError("baseline_role", f"unknown role {baseline_role!r}", f"use one of: {', '.join(named[:10])}...")
    base = scores[(roles == baseline_role).to_numpy()].iloc[0]
    keep = roles.isin(named).to_numpy() & (roles != baseline_role).to_numpy()
    d = scores[keep] - base
    d.index = pd.Index(roles[keep].tolist(), name="role_id")
    return d


def steering_changes(vm: ValueMatrix, role: str, steering_ids: Iterable[object] | None = None) -> pd.DataFrame:
    """Change matrix of steering: ``role`` under each steering setting minus ``role`` unsteered."""
    is_role = (vm.meta["role_id"].astype(str) == str(role)).to_numpy()
    if not is_role.any():
        raise UserError("role", f"unknown role {role!r}", "use a role id present in the matrix")
    steer = vm.meta["steering_id"].astype(str)[is_role]
    scores = vm.scores[is_role]
    if (steer == NO_STEERING).sum() != 1:
        raise UserError("role", f"role {role!r} needs exactly one unsteered row", "check the matrix")
    base = scores[(steer == NO_STEERING).to_numpy()].iloc[0]
    ids = [s for s in dict.fromkeys(steer) if s != NO_STEERING]
    if steering_ids is not None:
        want = [normalise_steering_id(s) for s in steering_ids]
        unknown = [s for s in want if s not in ids]
        if unknown:
            raise UserError("steering_ids", f"unknown steering id(s) {unknown} for role {role!r}",
                            f"use some of: {', '.join(ids)}")
        ids = want
    rows = [scores[(steer == s).to_numpy()].iloc[0] - base for s in ids]
    d = pd.DataFrame(rows, columns=scores.columns)
    d.index = pd.Index(ids, name="steering_id")
    return d


# ---------------------------------------------------------------------- the study's metric
def cochange_frequencies(changes: pd.DataFrame, tol: float = 0.0) -> pd.DataFrame:
    """``F[v, w]`` = fraction of the rows with ``|D[v]| > tol`` where ``|D[w]| > tol`` (NaN if v never changes)."""
    nz = changes.abs().to_numpy() > tol
    cols = list(changes.columns)
    out = np.full((len(cols), len(cols)), np.nan)
    for i in range(len(cols)):
        rows = nz[:, i]
        if rows.any():
            out[i] = nz[rows].mean(axis=0)
    f = pd.DataFrame(out, index=cols, columns=cols)
    for c in cols:
        f.loc[c, c] = np.nan
    return f


@dataclass
class SideEffectResult:
    """Expected vs unexpected co-change frequencies (see :func:`study_side_effects`)."""

    expected: float
    unexpected: float
    per_value: pd.DataFrame
    n_rows: int

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> None)."""
        pv = self.per_value.reset_index().rename(columns={"index": "value"})
        recs = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                for r in pv.to_dict(orient="records")]
        return {"expected": _nn(self.expected), "unexpected": _nn(self.unexpected), "n_rows": self.n_rows,
                "per_value": recs}


def _nn(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def study_side_effects(changes: pd.DataFrame, descendants: Descendants, tol: float = 0.0) -> SideEffectResult:
    """The study's Expected / Unexpected co-change frequencies for any graph and any change matrix.

    Args:
        changes: rows = interventions, columns = values (score differences).
        descendants: ``{value: set of descendant values}`` (e.g. :func:`descendant_sets`).
        tol: a change counts when ``|D| > tol`` (the study: ``!= 0``).
    """
    if changes.shape[0] == 0 or changes.shape[1] < 2:
        raise UserError("changes", f"change matrix is {changes.shape[0]} x {changes.shape[1]}",
                        "give at least one row and two value columns")
    f = cochange_frequencies(changes, tol)
    rows = []
    for v in changes.columns:
        ds = set(descendants.get(v, set())) - {v}
        others = [w for w in changes.columns if w != v]
        exp = [f.loc[v, w] for w in others if w in ds]
        une = [f.loc[v, w] for w in others if w not in ds]
        rows.append({"n_changed": int((changes[v].abs() > tol).sum()), "n_descendants": len([w for w in others if w in ds]),
                     "expected": float(np.mean(exp)) if exp and not np.isnan(exp).all() else math.nan,
                     "unexpected": float(np.mean(une)) if une and not np.isnan(une).all() else math.nan})
    pv = pd.DataFrame(rows, index=list(changes.columns))
    with np.errstate(all="ignore"):
        e = float(np.nanmean(pv["expected"])) if pv["expected"].notna().any() else math.nan
        u = float(np.nanmean(pv["unexpected"])) if pv["unexpected"].notna().any() else math.nan
    return SideEffectResult(e, u, pv, int(changes.shape[0]))


# ---------------------------------------------------------------------- held-out evaluation
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


# ---------------------------------------------------------------------- CLI
def _build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="lm-eval-values side-effects",
                       description="Expected vs unexpected co-changes (the study's metric) and the "
                                   "held-out side-effect prediction.")
    p.add_argument("--graph", required=True, help="graph: node-link JSON from `graph`, or an edge list FILE[:NAME]")
    p.add_argument("--policy", default="study", choices=("study", "possible", "directed"),
                   help="how non-directed edges are read for descendants (default: study)")
    p.add_argument("--changes", default=None,
                   help="change matrix CSV (columns = values), or a value matrix (sweep/study CSV) with --mode")
    p.add_argument("--mode", choices=("role", "steering"), default=None,
                   help="build changes from a value matrix: role = each role minus --baseline-role; "
                        "steering = --role under each setting minus --role unsteered")
    p.add_argument("--baseline-role", default=None, help="baseline role for --mode role (default: first named role)")
    p.add_argument("--role", default=None, help="role for --mode steering")
    p.add_argument("--keep-steer", nargs="+", default=None, help="steering ids for --mode steering (commas allowed)")
    p.add_argument("--tol", type=float, default=0.0,
                   help="a change counts when |D| > tol (study: 0); held out: also |mean paired change| > tol")
    p.add_argument("--centering", choices=CENTERINGS, default="none",
                   help="median / mrat: every change vector minus its median / mean over the values "
                        "(value-specific changes only)")
    p.add_argument("--heldout", default=None, help="held-out value matrix (e.g. test roles) for the prediction test")
    p.add_argument("--train", default=None, help="training value matrix (targets, correlation baseline)")
    p.add_argument("--reference", action="append", default=[], help="extra graph FILE[:NAME] to evaluate; repeatable")
    p.add_argument("--steer", nargs="+", default=None, help="held-out steering ids to evaluate (default: all shared)")
    p.add_argument("--fdr", type=float, default=0.05)
    p.add_argument("--n-random", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    return p


def _split(items: list[str] | None) -> list[str] | None:
    if items is None:
        return None
    return [s.strip() for it in items for s in it.split(",") if s.strip()]


def _load_graph(spec: str, values: Sequence[str] | None, flag: str = "--graph") -> Any:
    from lm_eval_values.causal.reference import load_reference

    try:
        return load_reference(spec, nodes=list(values) if values is not None else None)
    except UserError as exc:  # name the flag the user gave, not the loader's generic field
        if exc.field != "reference":
            raise
        raise UserError(flag, exc.problem, exc.fix) from None


def _read_changes(args: argparse.Namespace) -> pd.DataFrame:
    from lm_eval_values.matrix.value_matrix import frame_to_value_matrix

    path = Path(args.changes)
    if not path.is_file():
        raise UserError("--changes", f"{path} does not exist", "give a change-matrix CSV or a value matrix")
    try:
        df = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise UserError("--changes", f"{path} is not a readable CSV ({str(exc).splitlines()[0]})", "fix it") from None
    is_matrix = set(META_COLUMNS) <= set(df.columns) or {"steer_dim", "player_name"} <= set(df.columns)
    if not is_matrix:
        if args.mode:
            raise UserError("--mode", f"{path} is a change matrix, not a value matrix", "drop --mode")
        num = df.select_dtypes("number")
        if num.shape[1] < 2:
            raise UserError("--changes", f"{path} has fewer than two numeric value columns", "give a change matrix")
        return num.astype(float)
    vm = frame_to_value_matrix(df, str(path), field="--changes")
    if args.mode == "role":
        return role_changes(vm, args.baseline_role)
    if args.mode == "steering":
        if not args.role:
            raise UserError("--role", "--mode steering needs --role", 'e.g. --role "Mary Holt"')
        return steering_changes(vm, args.role, _split(args.keep_steer))
    raise UserError("--mode", f"{path} is a value matrix", "say how to build changes: --mode role or --mode steering")


def main(argv: list[str]) -> int:
    """``lm-eval-values side-effects``: writes side_effects.json / cochange.csv and/or heldout.json / heldout_auroc.csv."""
    args = _build_parser().parse_args(argv)
    from lm_eval_values.core.atomic import atomic_write_bytes
    from lm_eval_values.matrix.reading import read_value_matrix

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError("--out", f"{out} exists and is not a folder", "give a folder path")
    if args.changes is None and args.heldout is None:
        raise UserError("--changes", "nothing to do", "give --changes and/or --heldout with --train")
    if (args.heldout is None) != (args.train is None):
        raise UserError("--heldout", "--heldout and --train go together", "give both")
    if not (0 < args.fdr < 1):
        raise UserError("--fdr", f"{args.fdr} is not in (0, 1)", "use e.g. 0.05")
    if args.n_random < 0:
        raise UserError("--n-random", f"{args.n_random}", "use 0 or more")
    if not (args.tol >= 0) or not math.isfinite(args.tol):
        raise UserError("--tol", f"{args.tol} is not a number >= 0", "e.g. 0 (the study) or 0.05")
    changes = center_changes(_read_changes(args), args.centering) if args.changes else None
    train = heldout = None
    if args.heldout:
        train = read_value_matrix(args.train, field="--train", check=False)
        heldout = read_value_matrix(args.heldout, field="--heldout", check=False)
    values = list(changes.columns) if changes is not None else list(heldout.values)  # type: ignore[union-attr]
    graph = _load_graph(args.graph, values)
    refs = {spec: _load_graph(spec, values, "--reference") for spec in args.reference}
    files: dict[str, bytes] = {}
    summary: dict[str, Any] = {"graph": args.graph, "policy": args.policy}
    if changes is not None:
        res = study_side_effects(changes, descendant_sets(graph, values, args.policy), args.tol)
        payload = {"graph": args.graph, "policy": args.policy, "changes": args.changes, "mode": args.mode,
                   "tol": args.tol, "centering": args.centering, **res.to_json()}
        for spec, g in refs.items():
            payload.setdefault("references", {})[spec] = study_side_effects(
                changes, descendant_sets(g, values, args.policy), args.tol).to_json()
        files["side_effects.json"] = (json.dumps(payload, indent=2) + "\n").encode()
        files["cochange.csv"] = cochange_frequencies(changes, args.tol).to_csv(float_format="%.4f").encode()
        summary["study_metric"] = {"expected": res.expected, "unexpected": res.unexpected}
        print(f"study metric ({res.n_rows} rows): Expected {res.expected:.2f} / Unexpected {res.unexpected:.2f}")
    if heldout is not None and train is not None:
        ho = heldout_evaluation(graph.to_digraph(args.policy), train, heldout,
                                reference={spec: g.to_digraph(args.policy) for spec, g in refs.items()},
                                q=args.fdr, n_random=args.n_random, seed=args.seed,
                                steering_ids=_split(args.steer), centering=args.centering, tol=args.tol)
        files["heldout.json"] = (json.dumps(ho.to_json(), indent=2) + "\n").encode()
        files["heldout_auroc.csv"] = ho.table.to_csv(index=False, float_format="%.4f").encode()
        files["heldout_pairs.csv"] = ho.per_condition.to_csv(index=False, float_format="%.4f").encode()
        files["heldout_pvalues.csv"] = ho.pvalues.to_csv(float_format="%.6g").encode()
        print(ho.table[["predictor", "precision", "recall", "auroc"]].to_string(index=False, float_format="%.3f"))
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        atomic_write_bytes(out / name, data)
    print(f"wrote {len(files)} files to {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
