"""Plans: pick roles / SAE features / steering vectors for a target value change (``lm-eval-values plan``).

::

    lm-eval-values plan --target "Benevolence:+" --graph graph.json --candidates features \
        --matrix runs/sweep1 [--top 10] [--verify --config sweep.yaml] --out plans/benevolence

Candidates (``--candidates``)
-----------------------------
``roles``: every named role of the value matrix; its effect is the role's unsteered scores minus
the no-role unsteered scores (baseline role ``""``; seeds averaged).
``--split SPLIT`` ranks on the rows of one split only (e.g. ``train``), so that ``--verify`` can check
the plan on roles it has not seen (below).

``features`` / ``vectors``: every steering setting (steering id x coefficient) of the matrix;
SAE settings (``<id>:<feature>``) are ``features``; vector / spec settings are ``vectors``
(with ``--config`` the kinds come from the sweep config; without it, an id ending in
``:<integer>`` is a feature and any other id except ``none`` and ``prompt:*`` is a vector).
The effect of a setting is the mean over roles of (role under the setting minus the same role
unsteered); ``n_roles`` says how many roles had both rows.

Scoring (all changes in units of their standard error)
------------------------------------------------------
With ``--centering median|mrat`` every candidate's change vector first loses its median / mean
over the values (:func:`lm_eval_values.analysis.side_effects.center_changes`): a shift of every value at
once, such as a change of the yes/no response bias, then counts neither as target effect nor as
side effect.

Every change ``delta[v]`` is divided by its standard error ``se[v]`` from role AND item sampling
(:mod:`lm_eval_values.analysis.plan_se`: a two-way bootstrap with the item table, which ``--matrix
SWEEP_DIR`` or ``--items`` provides; roles only without it; for a role candidate without items the
value's SD over the unsteered rows, labelled as a scale): ``z[v] = delta[v] / se[v]``, so a change
is read against the noise of its own measurement (``se_source`` per candidate). With ``s`` = +1 for
``:+`` and -1 for ``:-``, ``T`` the target and ``U`` the values that are neither ``T`` nor a
descendant of ``T`` in the graph (``--policy``, default ``possible``)::

    target_effect = s * z[T]                    # measured; or predicted, see below
    side_effect   = mean_{w in U} |z[w]|        # size of the changes the graph does NOT explain
    score         = target_effect - penalty * side_effect        (--penalty, default 1)

Changes on descendants of ``T`` are expected consequences of moving ``T`` and are not penalised
(they are reported as ``n_expected``). ``n_unexpected`` counts ``w in U`` with ``|z[w]| > tol``
(``--tol``, default 2: distinguishable from noise). When ``delta[T]`` is not measured (NaN: the
target's items were not asked under that candidate), it is PREDICTED through the graph:
``delta[T] = sum_p beta_p delta[p]`` over the graph parents ``p`` of ``T``, with ``beta`` the
least-squares coefficients of ``T`` on its parents over all matrix rows, and
``se[T] = sqrt(sum_p beta_p^2 se[p]^2)`` (the coefficients' own uncertainty left out);
``effect_source`` says ``measured`` or ``predicted``. Candidates with neither are ranked last.
Ranking: score descending, ties by candidate label.

Output (``--out DIR``, written atomically, after every input was validated)
----------------------------------------------------------------------------
``plan.csv`` (one row per candidate, ranked; the top ``--top`` when given) and ``plan.json``
(settings, the scoring rule, the graph's descendants of the target and the table).

``--verify``
------------
Runs the top ``--verify-top`` candidates on the model through the sweep machinery
(:func:`lm_eval_values.sweep.run_sweep`: one model load, conditions in-process) using the sweep
config ``--config`` (the one that produced the matrix: model, tasks, roles, steering specs; a
study config works too, for its model ``--study-model``, default its only one), restricted to the
chosen settings plus their baselines: for roles, the no-role condition and the chosen roles
(unsteered); for steering settings, ``--verify-roles`` roles of the config (default 3) under
``none`` and the chosen settings, preferring HELD-OUT roles: roles of the config that were not
among the rows the plan was ranked on (with ``--split train``, the test roles). Only when there
are too few of those are ranked roles added; then that part of the check reproduces the measurement.
``--model`` replaces ``model_args.pretrained``; ``--verify-fraction`` replaces the item fraction.
The sweep folder is ``DIR/verify``; ``verify.csv`` / ``verify.json`` put the observed target
change and side effects (same SD units, same ``U``) next to the prediction.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.analysis.side_effects import center_changes
from lm_eval_values.core.conditions import NO_ROLE, NO_STEERING, coefficient_text
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.value_matrix import ValueMatrix

KINDS = ("roles", "features", "vectors")
_FEATURE_ID = re.compile(r"^.+:\d+$")
COLUMNS = ["rank", "candidate", "kind", "steering_id", "coefficient", "role_id", "n_roles", "effect_source",
           "target_change", "target_se", "target_z", "target_effect", "side_effect", "n_unexpected", "n_expected",
           "score", "se_source"]
#: default ``--tol``: a change counts when |z| exceeds it (in standard errors)
DEFAULT_TOL = 2.0


# ---------------------------------------------------------------------------- inputs
@dataclasses.dataclass(frozen=True)
class Target:
    """The value to move and the direction (+1 up, -1 down)."""

    value: str
    sign: int

    def __str__(self) -> str:
        return f"{self.value}:{'+' if self.sign > 0 else '-'}"


def parse_target(text: str, values: Sequence[str]) -> Target:
    """``"Benevolence:+"`` -> Target; the value must be a matrix column (case-insensitive match)."""
    if ":" not in text:
        raise UserError("--target", f"{text!r} has no direction", 'write "<Value>:+" or "<Value>:-"')
    name, sign = (s.strip() for s in text.rsplit(":", 1))
    if sign not in ("+", "-"):
        raise UserError("--target", f"bad direction {sign!r} in {text!r}", 'use + or -, e.g. "Benevolence:+"')
    if name not in values:
        folded = {v.casefold(): v for v in values}
        if name.casefold() not in folded:
            raise UserError("--target", f"unknown value {name!r}", f"use one of: {', '.join(values)}")
        name = folded[name.casefold()]
    return Target(name, 1 if sign == "+" else -1)


def cell_means(vm: ValueMatrix) -> pd.DataFrame:
    """Value scores averaged over seeds, indexed by (role_id, steering_id, coefficient text)."""
    meta = vm.meta
    idx = pd.MultiIndex.from_arrays([meta["role_id"].astype(str).to_numpy(),
                                     meta["steering_id"].astype(str).to_numpy(),
                                     [coefficient_text(c) for c in meta["coefficient"]]],
                                    names=["role_id", "steering_id", "coef"])
    s = vm.scores.astype(float).copy()
    s.index = idx
    return s.groupby(level=[0, 1, 2], sort=False).mean()


def value_scale(vm: ValueMatrix) -> pd.Series:
    """Per-value SD over the unsteered rows (all rows when fewer than 3; 1 if still 0): the fallback scale of a
    change without a standard error (see :mod:`lm_eval_values.analysis.plan_se`)."""
    s = vm.scores.astype(float)
    unsteered = s[(vm.meta["steering_id"].astype(str) == NO_STEERING).to_numpy()]
    sd = unsteered.std(ddof=1) if len(unsteered) >= 3 else pd.Series(np.nan, index=s.columns)
    sd = sd.where(sd > 0, s.std(ddof=1))
    return sd.where(sd > 0, 1.0).fillna(1.0)


# ---------------------------------------------------------------------------- candidates
@dataclasses.dataclass
class Candidate:
    """One candidate with its mean change per value (raw units) over ``n_roles`` roles."""

    label: str
    kind: str
    steering_id: str
    coef: str
    role_id: str
    change: pd.Series
    n_roles: int
    per_role: pd.DataFrame | None = None
    se: pd.Series | None = None
    se_source: str = ""


def steering_kinds(vm: ValueMatrix, cfg: Any | None) -> dict[str, str]:
    """``{steering id: 'features'|'vectors'|'other'}`` from the sweep config or the id pattern."""
    out: dict[str, str] = {}
    by_cfg = {s.id: s.kind for s in cfg.steering} if cfg is not None else {}
    for sid in vm.steering_ids:
        kind = by_cfg.get(sid)
        if sid == NO_STEERING or sid.startswith("prompt:") or kind in ("none", "prompt"):
            out[sid] = "other"
        elif kind is not None:
            out[sid] = "features" if kind == "sae" else "vectors"
        else:
            out[sid] = "features" if _FEATURE_ID.match(sid) else "vectors"
    return out


def role_candidates(cells: pd.DataFrame) -> list[Candidate]:
    """Each named role (unsteered) minus the no-role condition (unsteered)."""
    try:
        base = cells.xs((NO_ROLE, NO_STEERING), level=(0, 1)).iloc[0]
    except KeyError:
        raise UserError("--matrix", "has no unsteered no-role row (the baseline of role candidates)",
                        "run the sweep with roles.no_role: true and a {type: none} steering entry") from None
    out = []
    for (role, sid, coef), row in cells.iterrows():
        if sid == NO_STEERING and role != NO_ROLE:
            out.append(Candidate(role, "roles", NO_STEERING, coef, role, row - base, 1))
    return out


def steering_candidates(cells: pd.DataFrame, kinds: dict[str, str], kind: str) -> list[Candidate]:
    """Each steering setting of ``kind``: mean over roles of (steered - unsteered) for that role."""
    out = []
    settings = [(sid, coef) for (_, sid, coef) in cells.index if kinds.get(sid) == kind]
    for sid, coef in dict.fromkeys(settings):
        diffs = []
        for role in dict.fromkeys(cells.index.get_level_values(0)):
            if (role, sid, coef) in cells.index and (role, NO_STEERING, coefficient_text(0)) in cells.index:
                diffs.append(cells.loc[(role, sid, coef)] - cells.loc[(role, NO_STEERING, coefficient_text(0))])
        if diffs:
            label = f"{sid}@{coef}" if coef else sid
            per_role = pd.concat(diffs, axis=1).T
            out.append(Candidate(label, kind, sid, coef, "", per_role.mean(axis=0), len(diffs), per_role))
    return out


# ---------------------------------------------------------------------------- graph and scoring
def parent_coefficients(vm: ValueMatrix, target: str, parents: Sequence[str]) -> pd.Series:
    """Least-squares coefficients of ``target`` on its graph ``parents`` (score units, centred, all rows)."""
    if not parents:
        return pd.Series(dtype=float)
    z = vm.scores.astype(float) - vm.scores.astype(float).mean()
    data = z[[*parents, target]].dropna()
    if len(data) <= len(parents):
        return pd.Series(np.nan, index=list(parents))
    beta, *_ = np.linalg.lstsq(data[list(parents)].to_numpy(), data[target].to_numpy(), rcond=None)
    return pd.Series(beta, index=list(parents))


def candidate_z(c: Candidate, target: Target, scale: pd.Series, beta: pd.Series) -> tuple[pd.Series, float, str]:
    """``(z, se of the target, effect source)``: the change over its standard error, the target predicted
    through its graph parents when it was not measured (see the module docstring)."""
    se = c.se if c.se is not None else scale
    z = c.change / se
    t_se = float(se.get(target.value, np.nan))
    if pd.notna(c.change.get(target.value, np.nan)):
        return z, t_se, "measured"
    known = [p for p in beta.index if pd.notna(c.change.get(p, np.nan))]
    if not known or not beta.notna().all():
        return z, np.nan, "none"
    delta = float(sum(beta[p] * c.change[p] for p in known))
    t_se = math.sqrt(sum((beta[p] * se[p]) ** 2 for p in known))
    z = z.copy()
    z[target.value] = delta / t_se if t_se > 0 else np.nan
    return z, t_se, "predicted" if t_se > 0 else "none"


def score_change(z: pd.Series, target: Target, unexpected: Sequence[str], expected: Sequence[str],
                 penalty: float, tol: float, source: str = "measured") -> dict[str, Any]:
    """Target effect, side effect and score of one change vector ``z`` (standard-error units)."""
    tz = z.get(target.value, np.nan)
    if pd.isna(tz):
        source = "none"
    u = z.reindex(list(unexpected)).abs().dropna()
    side = float(u.mean()) if len(u) else 0.0
    effect = target.sign * float(tz) if pd.notna(tz) else np.nan
    return {"effect_source": source, "target_z": float(tz) if pd.notna(tz) else np.nan,
            "target_effect": effect, "side_effect": side, "n_unexpected": int((u > tol).sum()),
            "n_expected": int((z.reindex(list(expected)).abs().dropna() > tol).sum()),
            "score": effect - penalty * side if pd.notna(effect) else np.nan}


def center_candidates(cands: list[Candidate], centering: str) -> list[Candidate]:
    """The candidates with their change vectors centred (``"none"``: unchanged)."""
    if centering == "none":
        return cands
    return [dataclasses.replace(c, change=center_changes(c.change.to_frame().T, centering).iloc[0],
                                per_role=None if c.per_role is None else center_changes(c.per_role, centering))
            for c in cands]


def rank_candidates(cands: list[Candidate], target: Target, descendants: set[str], values: Sequence[str],
                    scale: pd.Series, beta: pd.Series, penalty: float = 1.0, tol: float = DEFAULT_TOL) -> pd.DataFrame:
    """The ranked table (columns :data:`COLUMNS`); see the module docstring for the rule."""
    expected = [v for v in values if v in descendants and v != target.value]
    unexpected = [v for v in values if v not in descendants and v != target.value]
    rows = []
    for c in cands:
        z, t_se, source = candidate_z(c, target, scale, beta)
        row = {"candidate": c.label, "kind": c.kind, "steering_id": c.steering_id, "coefficient": c.coef,
               "role_id": c.role_id, "n_roles": c.n_roles, "target_change": float(c.change.get(target.value, np.nan)),
               "target_se": t_se, "se_source": c.se_source or "none: SD of the value over unsteered rows"}
        row.update(score_change(z, target, unexpected, expected, penalty, tol, source))
        rows.append(row)
    df = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "rank"])
    df = df.assign(_s=df["score"].fillna(-np.inf)).sort_values(["_s", "candidate"], ascending=[False, True],
                                                                kind="mergesort").drop(columns="_s")
    df.insert(0, "rank", range(1, len(df) + 1))
    return df.reset_index(drop=True)
