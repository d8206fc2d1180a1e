"""Held-out side-effect prediction: does the value graph predict which OTHER values a steering setting moves?

The graph is fitted on training conditions. For each held-out steering setting:

1. **Target**: the value the setting was designed to move (given, or named by the setting's id);
   a setting without one is reported and left out (the study's "value that moved most on the
   training rows" runs only with ``target_rule="moved-most"`` and is labelled so); see
   :mod:`lm_eval_values.analysis.side_effects_targets`.
2. **Held out**: held-out rows of role conditions that also appear among the training rows (the
   no-role condition run in both splits) are excluded and counted.
3. **Power before testing**: the smallest attainable p and the power at the held-out n
   (:mod:`lm_eval_values.analysis.side_effects_power`); a test that cannot reject at the FDR level
   is recorded as not informative (the tests still run; nothing can come out significant).
4. **Observed changes**: per (setting, value), the two-sided Wilcoxon signed-rank test of the
   held-out roles' paired changes (role steered minus the same role unsteered), Benjamini-Hochberg
   FDR over all tests (Benjamini & Hochberg 1995); optionally also ``|mean change| > tol``.
5. **Prediction**: the target's descendants (predictor scores in
   :mod:`lm_eval_values.analysis.side_effects_predictors`), the target itself left out; precision,
   recall and AUROC for the learned graph, its descendant probabilities, reference graphs and the
   baselines, each with a percentile interval from the two-way bootstrap of held-out roles and
   items through the whole prediction (:mod:`lm_eval_values.analysis.side_effects_bootstrap`).

Estimand of the AUROC: the expected AUROC of the predictor's scores against the changes that a
held-out sample of this size (roles x items) detects at FDR q; with enough power it is the AUROC
against the values that truly change. Centring and ``tol`` as in
:mod:`lm_eval_values.analysis.side_effects`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import networkx as nx
import numpy as np
import pandas as pd

from lm_eval_values.analysis.side_effects import center_changes, check_centering
from lm_eval_values.analysis.side_effects_bootstrap import HeldoutChanges, attach_items, changes_from_frames, replicates
from lm_eval_values.analysis.side_effects_power import DEFAULT_EFFECTS, TEST_METHOD, power_report, signed_rank_pvalues
from lm_eval_values.analysis.side_effects_predictors import (auroc, auroc_many, correlation_graph,
                                                             degree_preserving_random, graph_scores,
                                                             precision_recall_many, predictor_scores, random_scores)
from lm_eval_values.analysis.side_effects_targets import (MOVED_MOST, check_target_rule, exclude_training_roles,
                                                          resolve_targets, steered_ids)
from lm_eval_values.core.conditions import NO_STEERING
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.value_matrix import ValueMatrix

RANDOM_PREFIX = "degree-preserving random"
_METRICS = ("auroc", "precision", "recall")


def benjamini_hochberg(p: np.ndarray, q: float = 0.05) -> np.ndarray:
    """Boolean rejections of the Benjamini-Hochberg step-up procedure at FDR ``q`` (last axis)."""
    p = np.asarray(p, dtype=float)
    if p.size == 0:
        return np.zeros(p.shape, bool)
    m = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="mergesort")
    passed = np.take_along_axis(p, order, axis=-1) <= q * np.arange(1, m + 1) / m
    k = np.where(passed.any(axis=-1), m - np.argmax(passed[..., ::-1], axis=-1), 0)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(m), order.shape), axis=-1)
    return rank < np.expand_dims(k, -1)


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
    ids = steered_ids(vm) if steering_ids is None else list(steering_ids)
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


def _center(d: np.ndarray, centering: str) -> np.ndarray:
    if centering == "none" or d.size == 0:
        return d
    with np.errstate(all="ignore"):
        shift = np.nanmedian(d, axis=1) if centering == "median" else np.nanmean(d, axis=1)
    return d - shift[:, None]


def hodges_lehmann(x: np.ndarray) -> float:
    """The Hodges-Lehmann estimate of the centre of ``x`` (median of the Walsh averages; NaN ignored)."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0
    i, j = np.triu_indices(x.size)
    return float(np.median((x[i] + x[j]) / 2.0))


def null_shifts(changes: Mapping[str, np.ndarray], centering: str, observed: np.ndarray) -> np.ndarray:
    """``settings x values``: the Hodges-Lehmann centre of each (setting, value) NOT observed to change (0 for
    the observed ones); subtracted in every replicate, it resamples those pairs under their null."""
    centred = [_center(d, centering) for d in changes.values()]
    out = np.zeros(observed.shape)
    for a, d in enumerate(centred):
        for b in range(d.shape[1]):
            if not observed[a, b]:
                out[a, b] = hodges_lehmann(d[:, b])
    return out


def detect_changes(changes: Mapping[str, np.ndarray], centering: str, q: float, tol: float,
                   shifts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(p-values, observed) of every (setting, value): ``settings x values`` arrays (see the module docstring);
    ``shifts`` (settings x values) are subtracted from the centred changes first (the null-imposed bootstrap)."""
    centred = [_center(d, centering) for d in changes.values()]
    if shifts is not None:
        centred = [d - shifts[a][None, :] for a, d in enumerate(centred)]
    stack = np.concatenate([d.T for d in centred], axis=0) if centred else np.zeros((0, 0))
    p, _ = signed_rank_pvalues(stack)
    shape = (len(centred), centred[0].shape[1] if centred else 0)
    p = p.reshape(shape)
    sig = benjamini_hochberg(p.ravel(), q).reshape(shape)
    if tol > 0:
        with np.errstate(all="ignore"):
            big = np.array([np.abs(np.nanmean(d, axis=0)) > tol for d in centred]).reshape(shape)
        sig &= big
    return p, sig


@dataclass
class HeldoutResult:
    """Held-out side-effect evaluation (see :func:`heldout_evaluation`)."""

    table: pd.DataFrame
    per_condition: pd.DataFrame
    pvalues: pd.DataFrame
    significant: pd.DataFrame
    targets: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)
    power: dict[str, Any] = field(default_factory=dict)
    target_choice: dict[str, Any] = field(default_factory=dict)
    excluded: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> None)."""
        def clean(recs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in recs]

        return {"params": self.params, "targets": self.targets,
                "target_sources": self.target_choice.get("sources", {}),
                "unknown_targets": self.target_choice.get("unknown", {}),
                "named_targets": self.target_choice.get("named", {}), "excluded": self.excluded,
                "power": self.power, "n_significant": int(self.significant.to_numpy().sum()),
                "n_tests": int(self.significant.size), "table": clean(self.table.to_dict(orient="records"))}


def _interval(x: np.ndarray, level: float) -> tuple[float, float, int]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan, 0
    tail = (1 - level) / 2
    return float(np.quantile(x, tail)), float(np.quantile(x, 1 - tail)), int(x.size)


def _row(name: str, scores: np.ndarray, point: np.ndarray, boot: np.ndarray | None, level: float) -> dict[str, Any]:
    pr, rc = precision_recall_many(scores, point[None, :])
    row: dict[str, Any] = {"predictor": name, "n_pairs": int(point.size), "n_observed": int(point.sum()),
                           "n_predicted": int((scores > 0).sum()), "precision": float(pr[0]), "recall": float(rc[0]),
                           "auroc": float(auroc_many(scores, point[None, :])[0])}
    if boot is not None and boot.shape[0]:
        b_pr, b_rc = precision_recall_many(scores, boot)
        for key, xs in (("auroc", auroc_many(scores, boot)), ("precision", b_pr), ("recall", b_rc)):
            lo, hi, n_ok = _interval(xs, level)
            row[f"{key}_lo"], row[f"{key}_hi"] = lo, hi
            if key == "auroc":
                row["n_boot_defined"] = n_ok
    return row


def _random_row(rand: list[np.ndarray], point: np.ndarray, boot: np.ndarray | None, level: float,
                learned_auc: float) -> dict[str, Any]:
    per = [_row("r", s, point, None, level) for s in rand]
    row: dict[str, Any] = {"predictor": f"{RANDOM_PREFIX} (mean of {len(rand)})", "n_pairs": int(point.size),
                           "n_observed": int(point.sum()),
                           "n_predicted": float(np.mean([r["n_predicted"] for r in per]))}
    for k in _METRICS:
        xs = np.array([r[k] for r in per], float)
        row[k] = float(np.nanmean(xs)) if np.isfinite(xs).any() else math.nan
        row[f"{k}_graphs_lo"], row[f"{k}_graphs_hi"], _ = _interval(xs, 0.95)
    if boot is not None and boot.shape[0]:  # replicate b is scored by random graph b mod n_random
        mine = [rand[b % len(rand)] for b in range(boot.shape[0])]
        aucs = np.array([auroc_many(s, boot[b:b + 1])[0] for b, s in enumerate(mine)])
        prs = np.array([precision_recall_many(s, boot[b:b + 1]) for b, s in enumerate(mine)])[:, :, 0]
        for key, xs in (("auroc", aucs), ("precision", prs[:, 0]), ("recall", prs[:, 1])):
            row[f"{key}_lo"], row[f"{key}_hi"], n_ok = _interval(xs, level)
            if key == "auroc":
                row["n_boot_defined"] = n_ok
    aucs = np.array([r["auroc"] for r in per], float)
    row["p_random_ge_learned"] = (float((np.sum(aucs >= learned_auc) + 1) / (len(aucs) + 1))
                                  if math.isfinite(learned_auc) else math.nan)
    return row


def _check(train: ValueMatrix, heldout: ValueMatrix, graph_dg: nx.DiGraph, centering: str, tol: float,
           target_rule: str, n_boot: int, level: float) -> list[str]:
    values = list(heldout.values)
    if set(train.values) != set(values):
        raise UserError("train", "train and held-out matrices have different value columns", "use the same values")
    missing = [v for v in values if v not in graph_dg]
    if missing:
        raise UserError("graph", f"value(s) {missing} are not graph nodes", "use a graph over the same values")
    check_centering(centering)
    check_target_rule(target_rule)
    if tol < 0 or not math.isfinite(tol):
        raise UserError("tol", f"{tol} is not a number >= 0", "e.g. 0 or 0.05")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise UserError("n_boot", f"{n_boot!r} is not a whole number >= 0", "e.g. 1000 (0: no intervals)")
    if not 0.5 <= level < 1:
        raise UserError("level", f"{level!r} is not in [0.5, 1)", "e.g. 0.95")
    return values


def heldout_evaluation(graph_dg: nx.DiGraph, train: ValueMatrix, heldout: ValueMatrix,
                       reference: Mapping[str, nx.DiGraph] | None = None, q: float = 0.05,
                       n_random: int = 100, seed: int = 0, steering_ids: Sequence[str] | None = None,
                       centering: str = "none", tol: float = 0.0, *, targets: Sequence[tuple[str, str]] = (),
                       target_rule: str = "designed", items: pd.DataFrame | None = None,
                       items_split: str | None = None, probabilities: pd.DataFrame | None = None,
                       n_boot: int = 1000, level: float = 0.95,
                       effects: Sequence[float] = DEFAULT_EFFECTS) -> HeldoutResult:
    """Predict side effects of held-out steering settings and score the predictions (module docstring).

    Args:
        graph_dg: the learned graph as a reachability DiGraph (e.g. ``ValueGraph.to_digraph("possible")``).
        train: training rows (the moved-most rule, the correlation baseline, roles to exclude).
        heldout: held-out rows (e.g. the test roles); their steered settings are evaluated.
        reference: extra named graphs evaluated the same way (e.g. ``{"human1": dg}``).
        q: FDR level of the observed changes.
        n_random: degree-preserving random graphs.
        seed: seed of the random graphs, the bootstrap and the power simulation.
        steering_ids: restrict the held-out settings (default: every steered setting held out).
        centering: ``none`` / ``median`` / ``mrat`` (:func:`center_changes`).
        tol: a change also needs ``|mean paired change| > tol``.
        targets: given ``(steering id, value)`` targets (they win over the rule).
        target_rule: ``designed`` (given or named, else unknown and left out) or ``moved-most``.
        items: the item table (two-way bootstrap); None: roles only, labelled so.
        items_split: the held-out split in ``items`` (None: every row of the held-out roles).
        probabilities: ``P[source, target]`` descendant probabilities over the graph's resamples.
        n_boot: bootstrap replicates of the intervals (0: none).
        level: interval level.
        effects: standardized effects whose power is reported.
    """
    values = _check(train, heldout, graph_dg, centering, tol, target_rule, n_boot, level)
    held, excluded = exclude_training_roles(train, heldout)
    ids = steered_ids(held)
    if steering_ids is not None:
        unknown = [s for s in steering_ids if s not in ids]
        if unknown:
            raise UserError("steer", f"steering id(s) {unknown} are not held out", f"use some of: {', '.join(ids)}")
        ids = list(steering_ids)
    if not ids:
        raise UserError("heldout", "no steered held-out rows of roles outside the training rows",
                        "add held-out (test) roles under the steering settings")
    train_d = ({s: center_changes(d[values], centering) for s, d in
                paired_changes(train, [s for s in ids if s in set(train.steering_ids)]).items()}
               if target_rule == "moved-most" else {})
    choice = resolve_targets(ids, values, targets, target_rule, train_d)
    evaluated = [s for s in ids if s in choice.targets]
    if not evaluated:
        by_reason: dict[str, list[str]] = {}
        for s, why in choice.unknown.items():
            by_reason.setdefault(why.split(";")[0], []).append(s)
        raise UserError("targets", "no held-out steering setting has a known target (" + "; ".join(
            f"{len(ss)} setting(s) {', '.join(ss[:6])}{', ...' if len(ss) > 6 else ''}: {why}"
            for why, ss in by_reason.items()) + ")",
                        "give --target ID=VALUE, or --target-rule moved-most (labelled as not designed)")
    data: HeldoutChanges = changes_from_frames({s: d[values] for s, d in
                                                paired_changes(held, evaluated).items()}, values)
    if items is not None:
        data = attach_items(data, items, items_split)
    n_roles = min(int(np.isfinite(d).any(axis=1).sum()) for d in data.changes.values())
    power = power_report(n_roles, len(evaluated) * len(values), q, effects, seed)
    p_point, sig_point = detect_changes(data.changes, centering, q, tol)
    pairs = [(s, choice.targets[s], w) for s in evaluated for w in values if w != choice.targets[s]]
    where = [(evaluated.index(s), values.index(w)) for s, _, w in pairs]
    rows_i, cols_i = (np.array([a for a, _ in where], int), np.array([b for _, b in where], int))
    point = sig_point[rows_i, cols_i]
    shifts = null_shifts(data.changes, centering, sig_point)
    boot = (np.array([detect_changes(rep, centering, q, tol, shifts)[1][rows_i, cols_i]
                      for rep in replicates(data, n_boot, seed)]) if n_boot else None)
    named = predictor_scores(graph_dg, pairs, train.scores[values], reference, probabilities)
    table_rows, per = [], []
    for name, scores in named.items():
        table_rows.append(_row(name, scores, point, boot, level))
        if name != "everything changes":
            per += [{"predictor": name, "steering_id": s, "target": t, "value": w, "score": float(sc),
                     "observed": bool(obs)} for (s, t, w), sc, obs in zip(pairs, scores, point)]
    rand = random_scores(graph_dg, pairs, n_random, seed)
    if rand:
        table_rows.append(_random_row(rand, point, boot, level, table_rows[0]["auroc"]))
    pvalues = pd.DataFrame(p_point, index=evaluated, columns=values)
    significant = pd.DataFrame(sig_point, index=evaluated, columns=values)
    moved = any(src == MOVED_MOST for src in choice.sources.values())
    params = {"q": q, "n_random": int(n_random), "seed": int(seed), "steering_ids": evaluated,
              "n_heldout_roles": int(n_roles), "test": TEST_METHOD + "; Benjamini-Hochberg FDR over all tests",
              "centering": centering, "tol": float(tol),
              "observed": "significant at the FDR" + (f" and |mean paired change| > {tol:g}" if tol > 0 else ""),
              "target_rule": target_rule,
              "target_rule_text": ("the value the setting moved most on the training rows (NOT a designed target)"
                                   if moved else "the designed target: given, or named by the setting's id"),
              "score": "1 / shortest path length from the target (0 = unreachable); descendant probabilities: "
                       "share of the graph's bootstrap resamples with the value a descendant of the target",
              "interval": {"level": level, "n_boot": int(n_boot), "resampling": data.resampling,
                           "method": "percentile; every replicate recomputes the paired changes, the tests, the FDR "
                                     "decisions and the AUROC"},
              "estimand": "expected AUROC against the changes a held-out sample of this size detects at FDR q"}
    return HeldoutResult(pd.DataFrame(table_rows), pd.DataFrame(per), pvalues, significant,
                         dict(choice.targets), params, power.to_dict(), choice.to_dict(), excluded)


__all__ = ["HeldoutResult", "RANDOM_PREFIX", "auroc", "benjamini_hochberg", "correlation_graph",
           "degree_preserving_random", "graph_scores", "heldout_evaluation", "paired_changes", "detect_changes"]
