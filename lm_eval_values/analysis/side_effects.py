"""Side effects of steering, predicted by a causal value graph.

Two analyses:

1. The study's metric (Kang et al. 2025, "frequency of changes in other value dimensions"):
   a change matrix ``D`` (rows = interventions, columns = values). For each value ``v``, take the
   rows where ``D[v] != 0``; for every other value ``w`` the co-change frequency is the fraction
   of those rows where ``D[w] != 0``. ``Expected(v)`` averages it over ``w`` in the descendants of
   ``v``, ``Unexpected(v)`` over the remaining values; the summary is the nanmean over ``v``.
   See :func:`study_side_effects`.

2. A held-out evaluation the study lacks (:func:`lm_eval_values.analysis.heldout.heldout_evaluation`): the graph is
   fitted on training conditions; for each held-out steering setting the target is its DESIGNED target
   (given, or named by the setting's id; unknown targets are reported, not guessed; the study's
   "value moved most on the training rows" only on request, labelled); the graph predicts which other
   values change (its descendants); the observed changes are significant paired differences across
   held-out roles (Wilcoxon signed-rank, Benjamini-Hochberg FDR), after the power of that test was
   reported. Reported: precision, recall, AUROC with two-way bootstrap intervals, next to baselines
   (degree-preserving random graphs, a correlation graph, "everything changes", reference graphs).

Continuous scores (e.g. yes/no expected scores) are almost never exactly unchanged, and steering
often shifts EVERY value at once (a change of the model's yes/no response bias) very consistently
across roles; then "which values change" is trivially "all of them". Two options make the
question informative, for both analyses: ``centering`` subtracts the common shift from each change
vector, estimated as its median over the values (``"median"``: robust, values without a specific
effect stay at zero as long as fewer than half of the values have one) or its mean (``"mrat"``, as
MRAT centring of profiles: every value that moved less than the average then counts as a negative
change), and ``tol`` requires a change larger than ``tol`` (held out: the mean paired change, on
top of significance).

The held-out evaluation lives in :mod:`lm_eval_values.analysis.heldout`; the command is
``lm-eval-values side-effects`` (:mod:`lm_eval_values.cli.side_effects`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import networkx as nx
import numpy as np
import pandas as pd

from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.core.conditions import NO_ROLE, NO_STEERING, normalise_steering_id
from lm_eval_values.core.errors import UserError
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
