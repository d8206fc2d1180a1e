"""Figures and tables of the study report computed from a sweep ``matrix.csv`` (no model).

* :func:`roles_only_profile`: per value, the mean unsteered score over roles with a 95% t interval over
  roles with the items fixed, plus the no-role score: the fallback of
  :func:`lm_eval_values.report.profile.value_profile`, whose intervals include item sampling;
  :func:`plot_profile` draws a profile.
* :func:`dose_response`: per steering id and coefficient, the mean paired change (role steered
  minus the same role unsteered) with a 95% t interval over roles; coefficient 0 is the
  unsteered condition; :func:`plot_dose_response` draws one panel per steering id.

Everything is deterministic (matplotlib Agg, no timestamps in PNG metadata).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from lm_eval_values.analysis.circumplex.plots import GROUP_COLOURS
from lm_eval_values.core.png import figure_png
from lm_eval_values.core.conditions import NO_ROLE, NO_STEERING
from lm_eval_values.matrix.value_matrix import ValueMatrix



def _t_interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float, int]:
    """(mean, lo, hi, n) of a 1-D sample; lo/hi NaN when n < 2."""
    from scipy.stats import t as student_t

    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    m = float(x.mean())
    if n < 2:
        return m, math.nan, math.nan, n
    half = float(student_t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return m, m - half, m + half, n


def roles_only_profile(vm: ValueMatrix) -> pd.DataFrame:
    """One row per value: ``mean, ci_lo, ci_hi, sd, n_roles`` over the unsteered named roles, and
    ``no_role`` (mean of the unsteered no-role rows, NaN if absent)."""
    unsteered = (vm.meta["steering_id"].astype(str) == NO_STEERING).to_numpy()
    named = (vm.meta["role_id"].astype(str) != NO_ROLE).to_numpy()
    rows = []
    for v in vm.values:
        x = vm.scores.loc[unsteered & named, v].to_numpy(dtype=float)
        m, lo, hi, n = _t_interval(x)
        nr = vm.scores.loc[unsteered & ~named, v].to_numpy(dtype=float)
        nr = nr[np.isfinite(nr)]
        rows.append({"value": v, "mean": m, "ci_lo": lo, "ci_hi": hi,
                     "sd": float(np.std(x[np.isfinite(x)], ddof=1)) if np.isfinite(x).sum() > 1 else math.nan,
                     "n_roles": n, "no_role": float(nr.mean()) if nr.size else math.nan})
    return pd.DataFrame(rows)


def _target_of(steering_id: str, values: list[str]) -> str | None:
    """The value a steering id names (``prompt:Power`` / ``vec:Power`` -> ``Power``), else None."""
    tail = steering_id.split(":", 1)[-1]
    return tail if tail in values else None


def dose_response(vm: ValueMatrix) -> pd.DataFrame:
    """Long table: ``steering_id, target, coefficient, value, mean_change, ci_lo, ci_hi, mean_score, n_roles``.

    For each steered (id, coefficient) the change is paired by role (and seed) against the same
    role unsteered; coefficient 0 rows (change 0 by definition) carry the unsteered mean score.
    """
    meta = vm.meta.assign(_key=vm.meta["role_id"].astype(str) + "|" + vm.meta["split"].astype(str) + "|"
                          + vm.meta["seed"].astype(str))
    steer = meta["steering_id"].astype(str)
    base = vm.scores[(steer == NO_STEERING).to_numpy()].copy()
    base.index = meta.loc[steer == NO_STEERING, "_key"].to_numpy()
    base = base[~base.index.duplicated()]
    rows: list[dict[str, Any]] = []
    for sid in [s for s in vm.steering_ids if s != NO_STEERING]:
        target = _target_of(sid, vm.values)
        sel = (steer == sid).to_numpy()
        coefs = sorted(set(float(c) for c in meta.loc[sel, "coefficient"] if pd.notna(c)))
        for v in vm.values:
            rows.append({"steering_id": sid, "target": target, "coefficient": 0.0, "value": v, "mean_change": 0.0,
                         "ci_lo": 0.0, "ci_hi": 0.0, "mean_score": float(base[v].mean()), "n_roles": int(len(base))})
        for c in coefs:
            rsel = sel & (meta["coefficient"].astype(float) == c).to_numpy()
            st = vm.scores[rsel].copy()
            st.index = meta.loc[rsel, "_key"].to_numpy()
            st = st[~st.index.duplicated()]
            common = [k for k in st.index if k in base.index]
            d = st.loc[common] - base.loc[common]
            for v in vm.values:
                m, lo, hi, n = _t_interval(d[v].to_numpy(dtype=float))
                rows.append({"steering_id": sid, "target": target, "coefficient": c, "value": v, "mean_change": m,
                             "ci_lo": lo, "ci_hi": hi, "mean_score": float(st.loc[common, v].mean()) if common else math.nan,
                             "n_roles": n})
    cols = ["steering_id", "target", "coefficient", "value", "mean_change", "ci_lo", "ci_hi", "mean_score", "n_roles"]
    df = pd.DataFrame(rows, columns=cols)
    if len(df):
        df = df.sort_values(["steering_id", "coefficient"], kind="mergesort").reset_index(drop=True)
    return df


def _png(fig: Any) -> bytes:
    return figure_png(fig, dpi=110)


def plot_profile(profile: pd.DataFrame, title: str) -> bytes:
    """PNG: mean unsteered score per value with its 95% interval (over roles and items when the profile's
    ``interval`` column says so; :func:`lm_eval_values.report.profile.value_profile`), and the no-role score."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    p = profile.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(p) + 1.9))
    y = np.arange(len(p))[::-1]
    colours = [GROUP_COLOURS.get(v, "#555555") for v in p["value"]]
    err = np.vstack([p["mean"] - p["ci_lo"], p["ci_hi"] - p["mean"]])
    err = np.where(np.isfinite(err), err, 0.0)
    ax.barh(y, p["mean"], color=colours, alpha=0.75, height=0.62)
    two_way = "interval" in p and bool((p["interval"] == "roles and items (two-way bootstrap)").all())
    ax.errorbar(p["mean"], y, xerr=err, fmt="none", ecolor="#222222", capsize=3, lw=1.2,
                label="mean, 95% interval over roles and items" if two_way else
                "mean over roles, 95% interval over roles only (items fixed)")
    if p["no_role"].notna().any():
        ax.scatter(p["no_role"], y, marker="D", s=36, color="white", edgecolor="black", zorder=3, label="no role")
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_yticks(y, p["value"])
    lim = max(0.25, float(np.nanmax(np.abs(np.r_[p["ci_lo"], p["ci_hi"], p["mean"], p["no_role"]]))) * 1.15)
    ax.set_xlim(-min(1.05, lim), min(1.05, lim))
    n = int(p["n_respondents" if "n_respondents" in p else "n_roles"].max()) if len(p) else 0
    ax.set_xlabel("value score (-1 = rejects, +1 = endorses)")
    ax.set_title(f"{title}\nunsteered, {n} respondents", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def plot_dose_response(dose: pd.DataFrame, title: str) -> bytes | None:
    """PNG: one panel per steering id; the mean paired change of every value against the
    coefficient (target value bold with its 95% band; other values thin). None if no steering."""
    if dose.empty:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    ids = list(dict.fromkeys(dose["steering_id"]))
    ncol = min(3, len(ids))
    nrow = math.ceil(len(ids) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.5 * nrow), squeeze=False)
    for ax, sid in zip(axes.ravel(), ids):
        d = dose[dose["steering_id"] == sid]
        target = d["target"].iloc[0]
        for v, g in d.groupby("value", sort=False):
            g = g.sort_values("coefficient")
            if v == target:
                continue
            ax.plot(g["coefficient"], g["mean_change"], "-", color=GROUP_COLOURS.get(str(v), "0.5"), alpha=0.45, lw=1)
        if target is not None:
            g = d[d["value"] == target].sort_values("coefficient")
            ax.fill_between(g["coefficient"], g["ci_lo"].fillna(g["mean_change"]), g["ci_hi"].fillna(g["mean_change"]),
                            color="black", alpha=0.12, lw=0)
            ax.plot(g["coefficient"], g["mean_change"], "o-", color="black", lw=2.2, label=f"{target} (target)")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_title(sid, fontsize=10)
        ax.set_xlabel("coefficient (0 = unsteered)")
        ax.set_ylabel("mean change vs unsteered")
        ax.grid(alpha=0.3)
        if target is not None:
            ax.legend(fontsize=8, frameon=False, loc="best")
    for ax in axes.ravel()[len(ids):]:
        ax.axis("off")
    fig.suptitle(f"{title}: steering dose-response (thin lines: the other values, coloured by Schwartz group)",
                 fontsize=10)
    fig.tight_layout()
    return _png(fig)
