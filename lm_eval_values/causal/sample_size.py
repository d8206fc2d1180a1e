"""Effective sample size of a role x steering value matrix (rows clustered in roles).

Unit of analysis. A row is one (role, steering setting) condition. Rows of one role share that
role's persona and item sample, so they are not independent: a test that counts every row as
an independent observation overstates n. Two honest alternatives are offered:

* **Effective n** (:func:`effective_sample_size`): estimate, per value, the within-role
  intraclass correlation ICC(1) from a one-way random-effects ANOVA with roles as groups
  (Shrout & Fleiss 1979, Psychol. Bull. 86; McGraw & Wong 1996, Psychol. Methods 1), combine
  the values' ICCs into one rho (median by default), and divide the number of rows by the
  design effect ``1 + (m - 1) rho`` (Kish 1965, *Survey Sampling*). With unequal role sizes,
  m is the size-weighted mean cluster size ``sum m_i^2 / sum m_i`` (= mean x (1 + CV^2);
  Eldridge, Ashby & Kerry 2006, Int. J. Epidemiol. 35). ``design="correlation"`` uses
  ``1 + (m - 1) rho^2`` instead: the variance inflation of a correlation between two clustered
  variables with ICCs rho_x, rho_y is about ``1 + (m - 1) rho_x rho_y`` (Clifford, Richardson &
  Hémon 1989, Biometrics 45), which is what a Fisher-z test of two values needs; Kish's factor
  is the (conservative) factor for a mean. ``design="pairwise"`` applies that factor per test,
  ``1 + (m - 1) rho_x rho_y`` with each variable's own ICC (the design effect of a regression or
correlation coefficient under two-stage sampling; Scott & Holt 1982, "The effect of two-stage
sampling on ordinary least squares methods", JASA 77: 848-854): a steering indicator that every role
  receives equally often has ICC <= 0, so tests of a JCI context against a value keep n = rows
  (a within-role contrast is not inflated by the role clustering).
* **Role-level aggregation** (:func:`role_means`): average each role's rows; n = roles.

Negative ICC estimates are set to 0 (design effect 1). With rho = 1 and equal role sizes the
effective n equals the number of roles.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.causal.jci import STEER_PREFIX
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.matrix.value_matrix import ValueMatrix

SAMPLE_SIZE_MODES = ("effective", "rows")
ICC_COMBINE = ("median", "mean", "max")
DESIGNS = ("kish", "correlation", "pairwise")
CENTERINGS = ("none", "steering")
#: settings may also say ``auto``: ``steering`` when JCI steering contexts are conditioned on, else ``none``
SETTING_CENTERINGS = ("auto", *CENTERINGS)


def icc_oneway(scores: pd.DataFrame, groups: Sequence[object]) -> pd.Series:
    """ICC(1) per column from a one-way random-effects ANOVA with ``groups`` as the random factor.

    ``ICC = (MSB - MSW) / (MSB + (n0 - 1) MSW)`` with ``n0 = (N - sum n_i^2 / N) / (k - 1)`` (the
    usual adjustment for unequal group sizes). Rows with a missing value are left out of that
    value's estimate. Columns with fewer than two groups or no within-group replication give NaN.
    """
    g = pd.Series(np.asarray(groups, dtype=object).astype(str), index=scores.index)
    out: dict[str, float] = {}
    for col in scores.columns:
        y = pd.to_numeric(scores[col], errors="coerce")
        ok = y.notna()
        y, gg = y[ok].astype(float), g[ok]
        sizes = gg.value_counts()
        k, n = len(sizes), len(y)
        if k < 2 or n - k < 1:
            out[str(col)] = float("nan")
            continue
        means = y.groupby(gg).mean()
        grand = y.mean()
        msb = float((sizes * (means.reindex(sizes.index) - grand) ** 2).sum() / (k - 1))
        msw = float(((y - gg.map(means)) ** 2).sum() / (n - k))
        n0 = (n - float((sizes ** 2).sum()) / n) / (k - 1)
        den = msb + (n0 - 1) * msw
        out[str(col)] = float((msb - msw) / den) if den > 0 else float("nan")
    return pd.Series(out, dtype=float)


def design_effect(rho: float, cluster_size: float, design: str = "kish") -> float:
    """``1 + (m - 1) rho`` (``kish``) or ``1 + (m - 1) rho^2`` (``correlation``, ``pairwise`` with
    both ICCs equal); rho clipped to [0, 1]."""
    if design not in DESIGNS:
        raise UserError("design", f"unknown design effect {design!r}", f"use one of: {', '.join(DESIGNS)}")
    r = min(max(float(rho), 0.0), 1.0)
    return 1.0 + (float(cluster_size) - 1.0) * (r if design == "kish" else r * r)


@dataclass(frozen=True)
class EffectiveSampleSize:
    """Effective sample size of a clustered matrix.

    Attributes:
        n_rows: rows used.
        n_clusters: clusters (roles).
        cluster_size: size-weighted mean cluster size ``sum m_i^2 / sum m_i``.
        icc: ICC(1) per value (NaN where undefined).
        rho: the combined ICC (clipped to [0, 1]).
        combine: how the values' ICCs were combined (median, mean or max).
        design: ``kish`` or ``correlation``.
        centering: ``none`` or ``steering`` (steering-setting means removed before the ICC).
        design_effect: the factor rows are divided by.
        n_effective: ``n_rows / design_effect``.
    """

    n_rows: int
    n_clusters: int
    cluster_size: float
    icc: dict[str, float]
    rho: float
    combine: str
    design: str
    centering: str
    design_effect: float
    n_effective: float
    pair_design_effects: pd.DataFrame | None = None

    def icc_range(self) -> tuple[float, float]:
        """(min, max) of the finite per-value ICCs."""
        v = [x for x in self.icc.values() if np.isfinite(x)]
        return (min(v), max(v)) if v else (float("nan"), float("nan"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = {k: v for k, v in asdict(self).items() if k != "pair_design_effects"}
        d["icc"] = {k: (None if not np.isfinite(v) else round(float(v), 6)) for k, v in self.icc.items()}
        return d


def _cluster_size(groups: pd.Series) -> float:
    sizes = groups.value_counts().to_numpy(dtype=float)
    return float((sizes ** 2).sum() / sizes.sum())


def effective_sample_size(data: ValueMatrix, combine: str = "median", design: str = "kish",
                          centering: str = "none", cluster_by: str = "role_id") -> EffectiveSampleSize:
    """Estimate the effective n of ``data`` with roles (``cluster_by``) as clusters.

    Args:
        data: the value matrix (rows with a missing value are dropped first, as discovery does).
        combine: ``median`` (default), ``mean`` or ``max`` (most conservative) of the values' ICCs.
        design: ``kish`` (``1 + (m-1) rho``, default), ``correlation`` (``1 + (m-1) rho^2``) or
            ``pairwise`` (``1 + (m-1) rho_x rho_y`` per pair; the summary uses the median pair).
        centering: ``none`` (default; ICC of the raw rows) or ``steering`` (remove each steering
            setting's mean first, so that steering shifts do not count as within-role variance).
        cluster_by: meta column naming the cluster (default ``role_id``).
    """
    if cluster_by not in data.meta.columns:
        raise UserError("cluster_by", f"no meta column {cluster_by!r}", f"use one of: {', '.join(META_COLUMNS)}")
    scores = data.scores.apply(pd.to_numeric, errors="coerce").astype(float)
    keep = scores.notna().all(axis=1)
    return estimate_effective_n(scores[keep], data.meta.loc[keep, cluster_by], data.meta.loc[keep, "steering_id"],
                                combine, design, centering)


def estimate_effective_n(frame: pd.DataFrame, groups: pd.Series, steering: pd.Series | None = None,
                         combine: str = "median", design: str = "kish", centering: str = "none",
                         value_columns: Sequence[str] | None = None) -> EffectiveSampleSize:
    """:func:`effective_sample_size` on complete numeric columns with explicit cluster labels.

    ``value_columns`` (default all) are the columns whose ICCs are combined into rho; the
    ``pairwise`` design effects cover every column of ``frame`` (e.g. JCI context indicators too).
    """
    for name, val, options in (("combine", combine, ICC_COMBINE), ("design", design, DESIGNS),
                               ("centering", centering, CENTERINGS)):
        if val not in options:
            raise UserError(name, f"unknown option {val!r}", f"use one of: {', '.join(options)}")
    groups = pd.Series(np.asarray(groups).astype(str), index=frame.index)
    if centering == "steering":
        if steering is None:
            raise UserError("centering", "centering by steering needs steering ids", "use centering='none'")
        frame = frame - frame.groupby(np.asarray(steering).astype(str)).transform("mean")
    value_columns = [str(c) for c in (value_columns if value_columns is not None else frame.columns)]
    icc = icc_oneway(frame, groups.to_numpy())
    finite = icc[value_columns][np.isfinite(icc[value_columns])]
    rho = 0.0 if len(finite) == 0 else float({"median": finite.median(), "mean": finite.mean(),
                                              "max": finite.max()}[combine])
    rho = min(max(rho, 0.0), 1.0)
    m = _cluster_size(groups) if len(groups) else 1.0
    n = int(len(frame))
    pairs = None
    if design == "pairwise":
        r = icc.fillna(0.0).clip(0.0, 1.0).to_numpy()
        pairs = pd.DataFrame(1.0 + (m - 1.0) * np.outer(r, r), index=icc.index, columns=icc.index)
        iu = np.triu_indices(len(value_columns), 1)
        sub = pairs.loc[value_columns, value_columns].to_numpy()[iu]
        deff = float(np.median(sub)) if len(sub) else 1.0
    else:
        deff = design_effect(rho, m, design)
    return EffectiveSampleSize(n, int(groups.nunique()), m, {str(k): float(v) for k, v in icc.items()}, rho,
                               combine, design, centering, deff, n / deff, pairs)


def role_means(data: ValueMatrix) -> ValueMatrix:
    """Role-level aggregation: one row per role (mean over its rows), in first-seen order.

    The unit of analysis becomes the role; ``steering_id`` is ``"mean"`` and ``condition_id`` the
    role id. Use it with ``sample_size="rows"`` (n = roles).
    """
    role = data.meta["role_id"].astype(str)
    scores = data.scores.apply(pd.to_numeric, errors="coerce").astype(float)
    means = scores.groupby(role.to_numpy(), sort=False).mean()
    first = data.meta.assign(_role=role.to_numpy()).drop_duplicates("_role").set_index("_role")
    meta = pd.DataFrame({
        "condition_id": [f"role:{r}" for r in means.index],
        "role_id": list(means.index),
        "split": first.loc[means.index, "split"].astype(str).to_numpy(),
        "steering_id": "mean",
        "coefficient": 0.0,
        "seed": first.loc[means.index, "seed"].to_numpy(),
    })[list(META_COLUMNS)]
    return ValueMatrix(means.reset_index(drop=True), meta, data.source)


@dataclass(frozen=True)
class SampleSizeSetting:
    """How many observations Fisher-z tests are told they have.

    Attributes:
        mode: ``"effective"`` (rows / design effect; rows clustered by role), ``"rows"`` (every
            row counts; the study's procedure) or a positive number (used as given).
        centering: ``auto`` (default), ``none`` or ``steering``. ``auto`` removes the steering
            settings' means before the ICC when JCI steering contexts are in the model (every test
            then conditions on them, so the tested residuals are within-setting), else ``none``.
        combine, design: see :func:`effective_sample_size`. The default design is
            ``pairwise``: in simulations with a known DAG (``benchmarks/causal_honesty.py``) it
            holds PC's false-edge rate below alpha with more power than ``kish``, which is
            conservative, and it does not deflate n for within-role contrasts (JCI contexts).
    """

    mode: str | float = "effective"
    combine: str = "median"
    design: str = "pairwise"
    centering: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.mode, bool) or (not isinstance(self.mode, (int, float, str))):
            raise UserError("sample_size", f"{self.mode!r} is not a sample size", "use effective, rows or a number")
        if isinstance(self.mode, str) and self.mode not in SAMPLE_SIZE_MODES:
            raise UserError("sample_size", f"unknown sample size {self.mode!r}",
                            "use effective, rows or a positive number")
        if not isinstance(self.mode, str) and not (np.isfinite(self.mode) and self.mode > 0):
            raise UserError("sample_size", f"{self.mode} is not a positive number", "use e.g. 200")
        for name, val, options in (("combine", self.combine, ICC_COMBINE), ("design", self.design, DESIGNS),
                                   ("centering", self.centering, SETTING_CENTERINGS)):
            if val not in options:
                raise UserError(f"sample_size.{name}", f"unknown option {val!r}", f"use one of: {', '.join(options)}")

    @classmethod
    def parse(cls, obj: "SampleSizeSetting | Mapping[str, Any] | str | float | int | None") -> "SampleSizeSetting":
        """From a setting, its dict form, a mode string or a number (None -> ``rows``)."""
        if isinstance(obj, SampleSizeSetting):
            return obj
        if obj is None:
            return cls("rows")
        if isinstance(obj, Mapping):
            return cls.from_dict(obj)
        if isinstance(obj, str) and obj not in SAMPLE_SIZE_MODES:
            try:
                return cls(float(obj))
            except ValueError:
                pass
        return cls(obj)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SampleSizeSetting":
        """Inverse of :meth:`to_dict` (unknown keys -> UserError)."""
        unknown = set(d) - {"mode", "combine", "design", "centering"}
        if unknown:
            raise UserError("sample_size", f"unknown key(s) {sorted(unknown)}", "use mode, combine, design, centering")
        return cls(**dict(d))

    def centering_for(self, steering_contexts: bool) -> str:
        """The centering used: ``auto`` -> ``steering`` with steering contexts, else ``none``."""
        if self.centering != "auto":
            return self.centering
        return "steering" if steering_contexts else "none"

    def resolve(self, frame: pd.DataFrame, meta: pd.DataFrame | None,
                value_columns: Sequence[str] | None = None) -> tuple[float | np.ndarray, EffectiveSampleSize | None]:
        """The Fisher-z n for the complete rows ``frame`` (node columns) with row ``meta``.

        Returns a number, or for the ``pairwise`` design a node x node array of n per pair, and
        for ``effective`` the estimate behind it. ``value_columns``: the value nodes (default all).
        """
        if self.mode == "rows":
            return float(len(frame)), None
        if not isinstance(self.mode, str):
            return float(self.mode), None
        if meta is None:
            raise UserError("sample_size", "the effective sample size needs role ids",
                            "pass a ValueMatrix, or use sample_size='rows' or a number")
        centering = self.centering_for(any(str(c).startswith(STEER_PREFIX) for c in frame.columns))
        est = estimate_effective_n(frame, meta["role_id"], meta["steering_id"], self.combine, self.design,
                                   centering, value_columns)
        if est.pair_design_effects is not None:
            return len(frame) / est.pair_design_effects.loc[list(frame.columns), list(frame.columns)].to_numpy(), est
        return len(frame) / est.design_effect, est


__all__ = ["CENTERINGS", "DESIGNS", "EffectiveSampleSize", "ICC_COMBINE", "SAMPLE_SIZE_MODES", "SETTING_CENTERINGS",
           "SampleSizeSetting", "design_effect", "effective_sample_size", "estimate_effective_n", "icc_oneway", "role_means"]
