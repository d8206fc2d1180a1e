"""The value profile and the steering dose-response with honest intervals (item AND role sampling).

A value score averages a few items, which are a sample of the items that could have been written,
as the roles are a sample of respondents. The profile therefore takes its intervals from the
reliability analysis (``reliability.json``: two-way bootstrap over roles and items, see
:mod:`lm_eval_values.measurement.intervals`), and the dose-response takes the targeted value's
interval from the manipulation checks (same bootstrap, paired by role). Only when a run has no
reliability analysis (no item table) does the profile fall back to an interval over roles with the
items fixed, and then it says so in its ``interval`` column.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lm_eval_values.matrix.value_matrix import ValueMatrix
from lm_eval_values.report.figures import roles_only_profile
from lm_eval_values.results.reliability import ReliabilityResult

#: what the ``interval`` column of a profile says
TWO_WAY = "roles and items (two-way bootstrap)"
ROLES_ONLY = "roles only, items fixed (too narrow: no item-level analysis)"
NOT_ESTIMABLE = "roles only: item sampling not estimable (see item_sampling)"
PROFILE_COLUMNS = ["value", "mean", "ci_lo", "ci_hi", "interval", "n_respondents", "n_items", "item_sampling",
                   "vc_lo", "vc_hi", "roles_only_lo", "roles_only_hi", "no_role"]


def _num(x: float | None) -> float:
    return math.nan if x is None else float(x)


def value_profile(vm: ValueMatrix, rel: ReliabilityResult | None) -> pd.DataFrame:
    """Per value: the mean unsteered score over the respondents with its interval over roles and items
    (from ``rel``), the variance-component interval, the roles-only interval (items fixed, for
    comparison) and the score of the model without a role (from the matrix); columns
    :data:`PROFILE_COLUMNS`. Without a reliability profile: the matrix's roles-only t interval, labelled so."""
    old = roles_only_profile(vm).set_index("value")
    rows = []
    for v in vm.values:
        rec = rel.values.get(v) if rel is not None else None
        p = rec.profile if rec is not None else None
        o = old.loc[v]
        if p is not None and p.mean is not None:
            rows.append({"value": v, "mean": p.mean, "ci_lo": _num(p.ci_lo), "ci_hi": _num(p.ci_hi),
                         "interval": TWO_WAY if p.includes_items else NOT_ESTIMABLE,
                         "n_respondents": p.n_roles, "n_items": p.n_items, "item_sampling": p.item_sampling,
                         "vc_lo": _num(p.vc_lo), "vc_hi": _num(p.vc_hi), "roles_only_lo": _num(p.roles_only_lo),
                         "roles_only_hi": _num(p.roles_only_hi), "no_role": o["no_role"]})
        else:
            rows.append({"value": v, "mean": o["mean"], "ci_lo": o["ci_lo"], "ci_hi": o["ci_hi"],
                         "interval": ROLES_ONLY, "n_respondents": int(o["n_roles"]), "n_items": 0,
                         "item_sampling": "not analysed", "vc_lo": math.nan, "vc_hi": math.nan,
                         "roles_only_lo": o["ci_lo"], "roles_only_hi": o["ci_hi"], "no_role": o["no_role"]})
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def width_ratio(profile: pd.DataFrame) -> float | None:
    """Median over values of (interval width) / (roles-only width): how much item sampling widens it."""
    honest = profile[profile["interval"] == TWO_WAY]
    w = (honest["ci_hi"] - honest["ci_lo"]) / (honest["roles_only_hi"] - honest["roles_only_lo"])
    w = w[np.isfinite(w)]
    return float(w.median()) if len(w) else None


def profile_lines(profile: pd.DataFrame, model: str, scoring: str) -> list[str]:
    """The profile as the ``study`` command prints it (the honest interval only)."""
    two_way = bool(len(profile)) and (profile["interval"] == TWO_WAY).all()
    what = ("95% intervals over roles AND items (two-way bootstrap)" if two_way else
            "95% intervals: " + "; ".join(sorted(set(profile["interval"]))))
    lines = ["", f"Value profile of {model} (unsteered, {scoring} scoring; score in [-1, 1]; {what}):",
             f"  {'value':<16}{'mean':>8}{'95% interval':>20}{'items':>7}{'respondents':>13}{'no role':>9}"]
    for r in profile.itertuples():
        iv = f"[{r.ci_lo:+.3f}, {r.ci_hi:+.3f}]" if math.isfinite(r.ci_lo) else "n/a"
        lines.append(f"  {r.value:<16}{r.mean:>+8.3f}{iv:>20}{int(r.n_items):>7}{int(r.n_respondents):>13}"
                     f"{r.no_role:>+9.3f}")
    ratio = width_ratio(profile)
    if ratio is not None:
        lines.append(f"  (intervals over roles with the items held fixed would be {ratio:.0f}x narrower on median: "
                     f"they leave item sampling out)")
    return lines


def with_item_intervals(dose: pd.DataFrame, rel: ReliabilityResult | None) -> pd.DataFrame:
    """The dose-response table with the targeted value's change and interval taken from the manipulation
    checks (two-way bootstrap over roles and items) where they exist; column ``interval`` says which
    rows have them (the others: t interval over roles, items fixed)."""
    out = dose.copy()
    out["interval"] = "roles only (items fixed)"
    out.loc[out["coefficient"] == 0, "interval"] = "unsteered (change 0)"
    if rel is None or out.empty:
        return out
    for check in rel.manipulation:
        if check.target is None:
            continue
        for dc in check.doses:
            if dc.target_change is None or dc.coefficient is None:
                continue
            sel = ((out["steering_id"] == check.steering_id) & (out["value"] == check.target)
                   & np.isclose(out["coefficient"].astype(float), dc.coefficient))
            tc = dc.target_change
            out.loc[sel, ["mean_change", "ci_lo", "ci_hi"]] = [_num(tc.estimate), _num(tc.lo), _num(tc.hi)]
            out.loc[sel, "interval"] = "roles and items (two-way bootstrap)" if dc.items_included else \
                "roles only (one item per key)"
    return out


__all__ = ["NOT_ESTIMABLE", "PROFILE_COLUMNS", "ROLES_ONLY", "TWO_WAY", "profile_lines", "value_profile", "width_ratio",
           "with_item_intervals"]
