"""Honest standard errors of the changes ``plan`` ranks: role AND item sampling.

A candidate's change of a value is a mean over roles (steering candidates: role steered minus the
same role unsteered) or one role's difference from the no-role condition (role candidates), and
every value score averages a few items. Dividing it by the role-to-role SD of the value (a spread
of ~0.004 on a model whose roles barely move values) turns noise into "+32 SD" effects; the
uncertainty of the change itself is what a change must be compared with:

* with the item table (``items.csv`` of the sweep): a two-way (pigeonhole) bootstrap of the
  candidate's statistic, roles and items resampled (Owen 2007; items within their (value, key)
  stratum, ``k - 1`` of ``k`` draws rescaled, Rao & Wu 1988: as
  :mod:`lm_eval_values.measurement.intervals`); a role candidate has one role, so only its items
  are resampled. Centring (``--centering``) is applied inside every replicate;
* without items, for steering candidates: the SD of the per-role changes over sqrt(n roles)
  (roles only, labelled: item sampling is left out);
* without items for a role candidate, or when the error is 0 or undefined: the value's SD over the
  unsteered rows, labelled as a scale, NOT a standard error.

``se_source`` of every candidate says which applies. Changes are then ``z = change / SE``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from lm_eval_values.analysis.plan import Candidate
from lm_eval_values.analysis.side_effects import center_changes
from lm_eval_values.core.conditions import NO_ROLE, NO_STEERING, coefficient_text
from lm_eval_values.measurement.intervals import bootstrap_weights, item_strata, weighted_group_means

SE_ROLES_ITEMS = "roles and items (two-way bootstrap)"
SE_ITEMS = "items (one role against the no-role condition)"
SE_ROLES = "roles only (no item table: item sampling left out)"
SE_SCALE = "none: SD of the value over unsteered rows (a scale, not a standard error)"
N_BOOT = 500


def _cells(items: pd.DataFrame, steering_id: str, coef: str) -> pd.DataFrame:
    """Roles x items mean keyed score of one condition (repeats averaged)."""
    sel = items["steering_id"].astype(str) == steering_id
    if steering_id != NO_STEERING:
        sel &= items["coefficient"].map(coefficient_text) == coef
    rows = items[sel]
    return rows.groupby(["role_id", "item_id"])["score"].mean().unstack("item_id")


def _bootstrap_se(diff: pd.DataFrame, info: pd.DataFrame, values: list[str], centering: str,
                  seed: int) -> pd.Series:
    """SD over two-way bootstrap replicates of the (centred) per-value mean of ``diff`` (roles x items)."""
    info = info.loc[diff.columns]
    keep = info["value"].isin(values).to_numpy()
    diff, info = diff.loc[:, keep], info[keep]
    codes = info["value"].map({v: j for j, v in enumerate(values)}).to_numpy()
    y = diff.to_numpy(dtype=float)
    answered = np.isfinite(y)
    if y.shape[0] == 1:  # one role: its items are not nested in it, every stratum with >= 2 items is resampled
        answered = np.vstack([answered, answered])
    strata, fixed, _ = item_strata(answered, codes, info["agreement"].to_numpy(), "key")
    rng = np.random.default_rng([seed, 23])
    w_r, w_i = bootstrap_weights(y.shape[0], strata, N_BOOT, rng, frozenset(fixed), rescaled=True)
    if y.shape[0] == 1:
        w_r = np.ones_like(w_r)
    reps = pd.DataFrame(weighted_group_means(y, codes, len(values), w_r, w_i), columns=values)
    reps = center_changes(reps, centering)
    return reps.std(ddof=1)


def with_standard_errors(cands: list[Candidate], items: pd.DataFrame | None, scale: pd.Series, centering: str = "none",
                         seed: int = 0) -> list[Candidate]:
    """The candidates with ``se`` (per value) and ``se_source`` (see the module docstring)."""
    values = list(scale.index)
    info = None
    if items is not None and not items.empty:
        info = items.groupby("item_id")[["value", "agreement"]].first()
    base = _cells(items, NO_STEERING, "0") if info is not None else None
    out = []
    for c in cands:
        se, source = None, SE_SCALE
        if info is not None and base is not None:
            if c.kind == "roles":
                if c.role_id in base.index and NO_ROLE in base.index:
                    diff = (base.loc[[c.role_id]] - base.loc[[NO_ROLE]].to_numpy()).dropna(axis=1, how="all")
                    se, source = _bootstrap_se(diff, info, values, centering, seed), SE_ITEMS
            else:
                steered = _cells(items, c.steering_id, c.coef)
                roles = [r for r in steered.index if r in base.index]
                if len(roles) >= 2:
                    diff = (steered.loc[roles] - base.loc[roles, steered.columns]).dropna(axis=1, how="all")
                    se, source = _bootstrap_se(diff, info, values, centering, seed), SE_ROLES_ITEMS
        if se is None and c.per_role is not None and c.n_roles >= 2:
            se, source = c.per_role[values].std(ddof=1) / math.sqrt(c.n_roles), SE_ROLES
        if se is None:
            se = scale.copy()
        se = se.reindex(values)
        bad = ~(se > 1e-9 * scale) | se.isna()  # an error of 0 (up to rounding) makes no z
        if bad.all():
            se, source = scale.copy(), SE_SCALE
        elif bad.any():
            se = se.where(~bad, scale)
            source += "; the scale where the error is 0 or undefined"
        out.append(dataclasses.replace(c, se=se, se_source=source))
    return out


__all__ = ["N_BOOT", "SE_ITEMS", "SE_ROLES", "SE_ROLES_ITEMS", "SE_SCALE", "with_standard_errors"]
