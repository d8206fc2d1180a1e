"""Intervals for statistics that average items, with uncertainty from role AND item sampling.

A value score averages a few items; the items are a sample from the items that could have been
written, as the roles are a sample of respondents. An interval over roles with the items held
fixed leaves item sampling out (on the demo about 10x too narrow). Two honest intervals:

* **two-way (pigeonhole) bootstrap** (Owen 2007, "The pigeonhole bootstrap", *Ann. Appl. Stat.*
  1(2)): each replicate resamples roles with replacement AND, independently, each value's items
  with replacement; a cell enters with weight (role count) x (item count). With ``rescaled``
  (default) each facet draws ``n - 1`` of its ``n`` units (the rescaling bootstrap of Rao & Wu
  1988, *JASA* 83), which makes the bootstrap variance of a mean unbiased for each main effect;
  the plain ``n``-draw bootstrap shrinks item variance by ``(n - 1) / n``, a lot with 2-6 items.
  Interval (``method``): ``t`` (default) = mean +- t quantile x bootstrap SE on the
  Satterthwaite degrees of freedom below; ``percentile`` = bootstrap percentiles.
  Items nested in roles (each role its own items) travel with their role: roles only.
* **variance components**: the mean over the answered cells has variance
  ``var_role sum_r n_r^2 / N^2 + var_item sum_i n_i^2 / N^2 + var_residual / N`` (``n_r`` items of
  role r, ``n_i`` roles of item i, ``N`` cells; balanced: ``var_role/n_r + var_item/n_i +
  var_residual/(n_r n_i)``), with a t quantile on Satterthwaite's degrees of freedom.

:func:`value_profile` also gives the roles-only t interval (items fixed) for comparison.
Replicates are drawn from ``numpy.random.default_rng(seed)``: same seed, same interval.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from lm_eval_values.measurement.components import Components, estimate_components
from lm_eval_values.measurement.table import NO_STEERING, cell_matrix, item_info, respondent_cells
from lm_eval_values.core.errors import UserError, settings_dict
from lm_eval_values.matrix.tables import order_values


@dataclass(frozen=True)
class IntervalSettings:
    """Settings of the intervals: ``level`` (e.g. 0.95), ``n_boot`` replicates, ``seed``, ``method``
    (``t`` or ``percentile``), ``rescaled`` (draw n - 1 of n units per facet), ``strata`` (``key``:
    resample items within (value, key); ``none``: within value) and whether the model without a
    role counts as a respondent."""

    level: float = 0.95
    n_boot: int = 2000
    seed: int = 0
    method: str = "t"
    rescaled: bool = True
    strata: str = "key"
    include_no_role: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.level, (int, float)) or not 0.5 <= float(self.level) < 1.0:
            raise UserError("intervals.level", f"{self.level!r} is not in [0.5, 1)", "use e.g. 0.95")
        if not isinstance(self.n_boot, int) or self.n_boot < 100:
            raise UserError("intervals.n_boot", f"{self.n_boot!r} is below 100", "use e.g. 2000")
        if self.strata not in ("key", "none"):
            raise UserError("intervals.strata", f"unknown strata {self.strata!r}", "use key or none")
        if self.method not in ("t", "percentile"):
            raise UserError("intervals.method", f"unknown method {self.method!r}", "use t or percentile")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "IntervalSettings":
        """Inverse of :meth:`to_dict` (unknown keys are refused)."""
        return cls(**settings_dict(d, sorted(f.name for f in fields(cls)), "intervals"))


def _draws(n: int, rescaled: bool) -> int:
    return max(n - 1, 1) if rescaled else n


def bootstrap_weights(n_roles: int, item_groups: np.ndarray, n_boot: int, rng: np.random.Generator,
                      fixed_groups: frozenset[int] = frozenset(), rescaled: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Pigeonhole bootstrap counts: roles (``n_boot x n_roles``) and items resampled within their
    group (``n_boot x n_items``); items of ``fixed_groups`` keep weight 1 (nested designs).
    ``rescaled``: each facet draws ``n - 1`` of its ``n`` units (Rao & Wu 1988); item counts are scaled
    so that each group's weights sum to its size (strata keep their share of a value's mean)."""
    w_roles = rng.multinomial(_draws(n_roles, rescaled), np.full(n_roles, 1.0 / n_roles), size=n_boot).astype(float)
    w_items = np.ones((n_boot, item_groups.size))
    for g in np.unique(item_groups):
        if int(g) in fixed_groups:
            continue
        cols = np.flatnonzero(item_groups == g)
        draws = _draws(cols.size, rescaled)
        w_items[:, cols] = rng.multinomial(draws, np.full(cols.size, 1.0 / cols.size), size=n_boot) * (cols.size / draws)
    return w_roles, w_items


def weighted_group_means(y: np.ndarray, item_groups: np.ndarray, n_groups: int, w_roles: np.ndarray,
                         w_items: np.ndarray) -> np.ndarray:
    """Per replicate and group, the weighted mean of the answered cells of ``y`` (roles x items, NaN =
    not answered): ``sum w_r w_i y_ri / sum w_r w_i`` over the group's answered cells (``n_boot x n_groups``)."""
    answered = np.isfinite(y)
    onehot = np.zeros((item_groups.size, n_groups))
    onehot[np.arange(item_groups.size), item_groups] = 1.0
    num = ((w_roles @ np.where(answered, y, 0.0)) * w_items) @ onehot
    den = ((w_roles @ answered.astype(float)) * w_items) @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def percentile_interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles (NaN replicates ignored)."""
    tail = (1.0 - level) / 2.0
    return np.nanquantile(samples, tail, axis=0), np.nanquantile(samples, 1.0 - tail, axis=0)


def vc_mean_variance(table: pd.DataFrame, comp: Components) -> tuple[float, float]:
    """(variance, Satterthwaite df) of the mean over the answered cells of ``table`` from its components."""
    answered = table.notna().to_numpy()
    n = answered.sum()
    per_role, per_item = answered.sum(axis=1), answered.sum(axis=0)
    terms = [(comp.role * float(np.sum(per_role ** 2)) / n ** 2, comp.df_role),
             ((comp.item or 0.0) * float(np.sum(per_item ** 2)) / n ** 2, comp.df_item or 1.0),
             (comp.residual / n, comp.df_residual)]
    var = sum(t for t, _ in terms)
    den = sum(t * t / d for t, d in terms if t > 0 and d > 0)
    df = var * var / den if den > 0 else float(comp.df_role)
    return var, df


def _t_interval(x: np.ndarray, level: float) -> tuple[float, float, float]:
    x = x[np.isfinite(x)]
    if x.size < 2:
        return math.nan, math.nan, math.nan
    se = float(x.std(ddof=1) / math.sqrt(x.size))
    half = float(student_t.ppf(0.5 + level / 2.0, x.size - 1)) * se
    return float(x.mean()) - half, float(x.mean()) + half, se


def _key_centred(tab: pd.DataFrame, keys: np.ndarray) -> pd.DataFrame:
    """``tab`` with each key stratum's mean moved to the value's mean (the key effect taken as fixed)."""
    y = tab.to_numpy(dtype=float)
    grand = np.nanmean(y)
    out = y.copy()
    for k in np.unique(keys):
        cols = keys == k
        out[:, cols] = y[:, cols] - np.nanmean(y[:, cols]) + grand
    return pd.DataFrame(out, index=tab.index, columns=tab.columns)


def _within_key_item_variance(comp: Components, n_strata: int) -> tuple[float, float]:
    """(item variance within key strata, its df) from the components of a key-centred table.

    Centring removes ``n_strata - 1`` degrees of freedom from the item reduction ``R`` (``ms_item x
    df_item``): ``E R = df_w var_residual + (N - n_roles) (df_w / df_item) var_item`` with
    ``df_w = df_item - (n_strata - 1)`` (exact for a balanced table, an approximation otherwise).
    """
    df_item = float(comp.df_item or 0.0)
    df_w = df_item - (n_strata - 1)
    if df_w <= 0:
        return 0.0, 0.0
    reduction = float(comp.ms_item or 0.0) * df_item
    v = (reduction - df_w * comp.ms_residual) / ((comp.n_cells - comp.n_roles) * df_w / df_item)
    return max(v, 0.0), df_w


def _value_row(v: str, tab: pd.DataFrame, keys: np.ndarray, boot: np.ndarray, settings: IntervalSettings,
               estimator: str, item_sampling: str) -> dict[str, Any]:
    mean = float(np.nanmean(tab.to_numpy(dtype=float)))
    r_lo, r_hi, r_se = _t_interval(tab.mean(axis=1).to_numpy(dtype=float), settings.level)
    lo, hi = percentile_interval(boot[:, None], settings.level)
    se_boot = float(np.nanstd(boot, ddof=1))
    row = {"value": v, "mean": mean, "ci_lo": float(lo[0]), "ci_hi": float(hi[0]), "se_two_way": se_boot,
           "df": math.nan, "vc_lo": math.nan, "vc_hi": math.nan, "se_components": math.nan, "roles_only_lo": r_lo,
           "roles_only_hi": r_hi, "se_roles_only": r_se, "n_roles": int(tab.shape[0]),
           "n_items": int(tab.notna().any(axis=0).sum()), "design": None, "item_sampling": item_sampling}
    n_strata = int(np.unique(keys).size) if settings.strata == "key" else 1
    try:
        comp = estimate_components(_key_centred(tab, keys) if n_strata > 1 else tab, estimator)
    except ValueError:
        return row
    if comp.df_item is not None and comp.ms_item is not None and n_strata > 1:
        comp.item, comp.df_item = _within_key_item_variance(comp, n_strata)
    var, df = vc_mean_variance(tab, comp)
    q = float(student_t.ppf(0.5 + settings.level / 2.0, max(df, 1.0)))
    row.update(design=comp.design, df=df, vc_lo=mean - q * math.sqrt(var), vc_hi=mean + q * math.sqrt(var),
               se_components=math.sqrt(var))
    if settings.method == "t":
        row.update(ci_lo=mean - q * se_boot, ci_hi=mean + q * se_boot)
    return row


def item_strata(answered: np.ndarray, codes: np.ndarray, keys: np.ndarray, mode: str = "key"
                ) -> tuple[np.ndarray, set[int], dict[int, str]]:
    """Resampling strata of the items (columns of ``answered``, a roles x items mask): (stratum code per
    item, strata kept fixed, per value code a note on whether item sampling is included).

    ``mode="key"``: (value, key) strata; ``"none"``: value strata. A stratum with one item, and the
    items of a value nested in roles (each answered by one role), are kept fixed.
    """
    strata = codes * 2 + (keys == 1) if mode == "key" else codes.copy()
    fixed: set[int] = set()
    notes: dict[int, str] = {}
    for j in np.unique(codes):
        mine = codes == j
        if (answered[:, mine].sum(axis=0) <= 1).all():
            fixed.update(int(s) for s in np.unique(strata[mine]))
            notes[int(j)] = "nested in roles (resampled with them)"
            continue
        sizes = np.bincount(strata[mine])
        single = [int(s) for s in np.unique(strata[mine]) if sizes[s] < 2]
        fixed.update(single)
        notes[int(j)] = ("included" if not single else
                         "NOT included: a key has a single item, so item variance within keys cannot be estimated")
    return strata, fixed, notes


def profile_from_cells(cells: pd.DataFrame, settings: IntervalSettings = IntervalSettings(),
                       estimator: str = "anova") -> pd.DataFrame:
    """:func:`value_profile` from respondent cells (one row per role x item)."""
    info = item_info(cells)
    values = order_values(info["value"].unique())
    y = cell_matrix(cells).reindex(columns=info.index)
    codes = info["value"].map({v: j for j, v in enumerate(values)}).to_numpy()
    keys = info["agreement"].to_numpy()
    strata, fixed, notes = item_strata(y.notna().to_numpy(), codes, keys, settings.strata)
    rng = np.random.default_rng(settings.seed)
    w_r, w_i = bootstrap_weights(y.shape[0], strata, settings.n_boot, rng, frozenset(fixed), settings.rescaled)
    boot = weighted_group_means(y.to_numpy(dtype=float), codes, len(values), w_r, w_i)
    rows = []
    for j, v in enumerate(values):
        tab = y.loc[:, codes == j]
        tab = tab.loc[tab.notna().any(axis=1)]
        rows.append(_value_row(v, tab, keys[codes == j], boot[:, j], settings, estimator, notes[j]))
    return pd.DataFrame(rows)


def value_profile(items: pd.DataFrame, settings: IntervalSettings = IntervalSettings(),
                  estimator: str = "anova") -> pd.DataFrame:
    """Per value, the mean keyed score of the unsteered roles with three intervals.

    Columns: ``value, mean, ci_lo, ci_hi`` (two-way bootstrap interval, ``settings.method``),
    ``se_two_way`` (bootstrap SE), ``df`` (Satterthwaite), ``vc_lo, vc_hi, se_components``
    (variance-component interval), ``roles_only_lo, roles_only_hi,
    se_roles_only`` (t interval over role means, items fixed: too narrow, for comparison),
    ``n_roles, n_items, design, item_sampling`` (whether the interval includes item sampling).
    Unit: unsteered role conditions, each role once. ``method="t"`` needs the components; a value
    without them gets the percentile interval.
    """
    cells = respondent_cells(items, NO_STEERING, include_no_role=settings.include_no_role)
    if cells.empty:
        raise UserError("SOURCE", "the item table has no unsteered conditions", "include unsteered role conditions")
    return profile_from_cells(cells, settings, estimator)
