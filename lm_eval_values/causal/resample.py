"""Resampling engine behind :func:`lm_eval_values.causal.bootstrap.bootstrap`.

Schemes (clusters = roles, or rows when no roles are known):

``subsample`` (default)
    m-out-of-n subsampling WITHOUT replacement: each resample keeps a random ``fraction`` of the
    clusters (default one half), every kept cluster once. No row is duplicated, so the Fisher-z
    n of each test is honest. Politis & Romano (1994), "Large sample confidence regions based on
    subsamples under minimal assumptions", Ann. Stat. 22; half-sample subsampling as in
    stability selection, Meinshausen & Bühlmann (2010), JRSS-B 72. Frequencies describe graphs
    learned from half the roles, so they are lower than the full-data graph's own stability
    (a conservative reading, which is the point of stability selection).
``resample``
    Cluster bootstrap WITH replacement, de-duplicated: a cluster drawn several times enters
    each test once (on average 63% of the clusters per resample).
``resample-duplicates``
    Cluster bootstrap with replacement where duplicates count as new rows (Fisher-z sees an
    inflated n). Kept only to reproduce earlier results of this tool; not recommended.

For PC/FCI with Fisher-z each resample's correlation matrix comes from per-cluster sufficient
statistics (:class:`~lm_eval_values.causal.fast_ci.ClusterMoments`) in one weighted sum, and
the test is :class:`~lm_eval_values.causal.fast_ci.FastFisherZ`; other settings rerun
:func:`~lm_eval_values.causal.discovery.discover` on the drawn rows. The Fisher-z n of a
resample is its row count (``rows``), that count divided by the full data's design effect
(``effective``; the design effect is estimated once, on all rows), or a given n scaled by the
share of rows drawn (the ``pairwise`` design with role contexts is re-estimated per resample).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from causallearn.search.ConstraintBased.FCI import fci
from causallearn.search.ConstraintBased.PC import pc

from lm_eval_values.causal.background import Background, parse_background
from lm_eval_values.causal.discovery import check_discovery_options, discover
from lm_eval_values.causal.fast_ci import ClusterMoments, fisherz_test_kwargs, placeholder_data
from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.causal.jci import CONTEXT_NODE_KIND, context_columns, drop_context_block, jci_background
from lm_eval_values.causal.sample_size import SampleSizeSetting
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.matrix.value_matrix import ValueMatrix

SCHEMES = ("subsample", "resample", "resample-duplicates")

EdgeList = list[tuple[str, str, str]]


def draw_weights(rng: np.random.Generator, n_clusters: int, scheme: str, fraction: float = 0.5) -> np.ndarray:
    """Times each cluster enters one resample (0/1 except for ``resample-duplicates``)."""
    if scheme == "subsample":
        m = min(n_clusters, max(2, int(round(fraction * n_clusters))))
        w = np.zeros(n_clusters)
        w[rng.choice(n_clusters, size=m, replace=False)] = 1.0
        return w
    pick = rng.integers(0, n_clusters, size=n_clusters)
    counts = np.bincount(pick, minlength=n_clusters).astype(float)
    if scheme == "resample":
        return (counts > 0).astype(float)
    if scheme == "resample-duplicates":
        return counts
    raise UserError("scheme", f"unknown resampling scheme {scheme!r}", f"use one of: {', '.join(SCHEMES)}")


def subsample_size(n_clusters: int, fraction: float) -> int:
    """Clusters kept by one ``subsample`` draw."""
    return min(n_clusters, max(2, int(round(fraction * n_clusters))))


@dataclass
class ResamplePlan:
    """Everything a worker needs (picklable).

    ``fast`` plans carry cluster moments over ``names`` (values, then steering contexts); the
    others carry the rows and re-run :func:`discover`.
    """

    fast: bool
    names: list[str]
    node_kinds: dict[str, str]
    contexts: list[str]
    n_clusters: int
    scheme: str
    fraction: float
    rows_total: int
    size: SampleSizeSetting
    n_full: float | np.ndarray
    design_effect: float
    discover_kwargs: dict[str, Any] = field(default_factory=dict)
    moments: ClusterMoments | None = None
    background: Background | None = None
    scores: pd.DataFrame | None = None
    meta: pd.DataFrame | None = None
    cluster_rows: list[np.ndarray] = field(default_factory=list)

    def sample_size(self, rows: float) -> float | np.ndarray:
        """Fisher-z n for a resample of ``rows`` rows: the full data's n scaled by the share of rows."""
        return self.n_full * (float(rows) / self.rows_total)


def build_plan(data: ValueMatrix, use_roles: bool, scheme: str, fraction: float,
               discover_kwargs: dict[str, Any]) -> ResamplePlan:
    """Validate the settings once and precompute what every resample shares."""
    if scheme not in SCHEMES:
        raise UserError("scheme", f"unknown resampling scheme {scheme!r}", f"use one of: {', '.join(SCHEMES)}")
    if not (0.0 < float(fraction) < 1.0):
        raise UserError("fraction", f"{fraction} is not in (0, 1)", "use e.g. 0.5 (half the roles per subsample)")
    kw = dict(discover_kwargs)
    size = SampleSizeSetting.parse(kw.pop("sample_size", "rows"))
    algo, test = kw.get("algo", "pc"), kw.get("indep_test", "fisherz")
    knobs = kw.get("exogenous_knobs", False)
    which = "all" if knobs is True else (str(knobs) if knobs else "")
    check_discovery_options(algo, kw.get("alpha", 0.05), test, kw.get("score_func", "local_score_BIC"))
    if size.mode != "rows" and (algo == "ges" or test != "fisherz"):
        raise UserError("sample_size", f"only Fisher-z tests take a sample size ({algo}/{test} was asked)",
                        "use sample_size='rows' with this test, or indep_test='fisherz'")
    scores = data.scores.apply(pd.to_numeric, errors="coerce").astype(float)
    complete = scores.notna().all(axis=1).to_numpy()
    meta = data.meta[list(META_COLUMNS)].reset_index(drop=True)[complete].reset_index(drop=True)
    scores = scores.reset_index(drop=True)[complete].reset_index(drop=True)
    if use_roles:
        codes, _ = pd.factorize(meta["role_id"].astype(str), sort=False)
    else:
        codes = np.arange(len(scores))
    n_clusters = int(codes.max()) + 1
    if scheme == "subsample" and subsample_size(n_clusters, fraction) >= n_clusters:
        raise UserError("fraction", f"{fraction} of {n_clusters} clusters keeps them all",
                        "use a smaller fraction or more roles")
    fast = (algo in ("pc", "fci") and test == "fisherz" and kw.get("fast_fisherz", True)
            and which in ("", "steering") and not kw.get("standardize", False) and not kw.get("test_kwargs"))
    values = [str(c) for c in scores.columns]
    X = scores
    if fast and which:
        X = pd.concat([scores, context_columns(ValueMatrix(scores, meta, data.source), "steering")], axis=1)
    n_full, estimate = size.resolve(X, meta, values)
    deff = 1.0 if estimate is None else estimate.design_effect
    plan = ResamplePlan(fast, values, {v: "value" for v in values}, [], n_clusters, scheme, float(fraction),
                        len(scores), size, n_full, deff, kw)
    if fast:
        if which:
            plan.contexts = [c for c in X.columns if c not in values]
            plan.names = values + plan.contexts
            plan.node_kinds.update({c: CONTEXT_NODE_KIND for c in plan.contexts})
            plan.background = jci_background(plan.contexts, values, parse_background(kw.get("background")))
        else:
            plan.background = parse_background(kw.get("background"))
        plan.moments = ClusterMoments.from_rows(X.to_numpy(float), codes)
    else:
        plan.scores, plan.meta = scores, meta
        plan.cluster_rows = [np.flatnonzero(codes == k) for k in range(n_clusters)]
    return plan


def _edge_list(g: ValueGraph) -> EdgeList:
    order = {n: i for i, n in enumerate(g.nodes)}
    out = []
    for e in g.edges():
        u, v = (e.u, e.v) if order[e.u] < order[e.v] else (e.v, e.u)
        out.append((u, v, g.edge_kind(u, v) or ""))
    return out


class Worker:
    """Fits one resample at a time from a :class:`ResamplePlan`."""

    def __init__(self, plan: ResamplePlan) -> None:
        self.plan = plan
        bg = plan.background
        self.bk = bg.to_causallearn(plan.names) if bg is not None and not bg.is_empty() else None
        self.block = [plan.names.index(c) for c in plan.contexts]

    def run(self, seed_seq: np.random.SeedSequence) -> EdgeList | None:
        """Draw the resample of ``seed_seq`` and return its edges (None when the fit fails)."""
        p = self.plan
        rng = np.random.default_rng(seed_seq)
        w = draw_weights(rng, p.n_clusters, p.scheme, p.fraction)
        try:
            g = self._fit_fast(w) if p.fast else self._fit_rows(w)
        except (UserError, ValueError, np.linalg.LinAlgError):
            return None
        return _edge_list(g)

    def _fit_fast(self, w: np.ndarray) -> ValueGraph:
        p = self.plan
        assert p.moments is not None
        corr = p.moments.correlation(w)
        test = fisherz_test_kwargs(corr, p.sample_size(p.moments.n_rows(w)), self.block)
        method = test.pop("indep_test")
        kw = p.discover_kwargs
        alpha, stable, depth = float(kw.get("alpha", 0.05)), bool(kw.get("stable", True)), kw.get("max_depth")
        data = placeholder_data(len(p.names))
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            if kw.get("algo", "pc") == "pc":
                res = pc(data, alpha, method, stable=stable, background_knowledge=self.bk, show_progress=False,
                         node_names=p.names, max_k=depth, **test)
            else:
                res, _ = fci(data, method, alpha, depth=-1 if depth is None else int(depth),
                             background_knowledge=self.bk, show_progress=False, node_names=p.names, **test)
        g = ValueGraph.from_causallearn(res, p.names, node_kinds=p.node_kinds)
        return drop_context_block(g, p.contexts) if p.contexts else g

    def _fit_rows(self, w: np.ndarray) -> ValueGraph:
        p = self.plan
        assert p.scores is not None and p.meta is not None
        idx = np.concatenate([np.repeat(p.cluster_rows[k], int(c)) for k, c in enumerate(w) if c > 0])
        vm = ValueMatrix(p.scores.iloc[idx].reset_index(drop=True), p.meta.iloc[idx].reset_index(drop=True))
        kw = dict(p.discover_kwargs)
        if p.size.mode != "rows":
            # the pairwise design depends on the nodes of the resample (role contexts): re-estimate
            pairwise = p.size.mode == "effective" and p.size.design == "pairwise"
            kw["sample_size"] = p.size if pairwise else float(p.sample_size(len(idx)))
        return discover(vm, **kw)


__all__ = ["SCHEMES", "ResamplePlan", "Worker", "build_plan", "draw_weights", "subsample_size"]
