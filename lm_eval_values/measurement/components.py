"""Variance components of a roles x items table with roles and items as random facets.

Model (Cronbach, Gleser, Nanda & Rajaratnam 1972; Brennan 2001, *Generalizability Theory*):
``y[r, i] = mu + role[r] + item[i] + (role x item, error)[r, i]`` with independent zero-mean
effects. With one answer per cell the role x item interaction and the error are confounded; they
are reported together as ``residual``. Which estimator is used depends on the design found in the
data (:func:`detect_design`):

``crossed`` (every role answered the same items, no empty cell)
    ANOVA / expected mean squares: ``var_role = (MS_r - MS_ri) / n_i``,
    ``var_item = (MS_i - MS_ri) / n_r``, ``var_residual = MS_ri``; ``F = MS_r / MS_ri`` with
    ``(n_r - 1, (n_r - 1)(n_i - 1))`` degrees of freedom.
``crossed-unbalanced`` (items shared between roles, some cells empty)
    Henderson's method III (fitting constants; Henderson 1953, *Biometrics* 9; Searle, Casella &
    McCulloch 1992, *Variance Components*, ch. 5): the reductions ``R(role | mu, item)`` and
    ``R(item | mu, role)`` and the residual of the additive fit, with their exact expectations
    (one answer per cell: ``E R(role | mu, item) = (n_r - c) var_residual + (N - n_i) var_role``,
    ``c`` the connected parts of the design). ``F = [R(role | mu, item) / (n_r - c)] / MS_residual``
    is Wald's exact test of ``var_role = 0`` (Seely & El-Bassiouni 1983, *Ann. Statist.* 11).
    In a balanced table these are exactly the ANOVA estimates.
``nested`` (no item answered by two roles: items i:r)
    One-way random ANOVA with unequal group sizes: ``var_role = (MS_r - MS_i:r) / n0``,
    ``n0 = (N - sum n_r^2 / N) / (n_r - 1)``; item and residual variance are confounded
    (``var_item`` is None); ``F = MS_r / MS_i:r``.

``estimator="reml"`` instead fits the same random-effects model by restricted maximum likelihood
(statsmodels ``MixedLM``: crossed facets as variance components of one group, nested roles as
groups); the mean squares and the F test stay those above; if no optimiser converges, the ANOVA estimates
are kept and the estimator says so. Negative ANOVA estimates are reported
in ``raw`` and set to 0 in the components (Brennan 2001, sec. 3.4).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.stats import f as f_dist
from statsmodels.regression.mixed_linear_model import MixedLM

DESIGNS = ("crossed", "crossed-unbalanced", "nested")
ESTIMATORS = ("anova", "reml")


@dataclass
class Components:
    """Variance components of one roles x items table (see the module docstring).

    Attributes:
        design: ``crossed``, ``crossed-unbalanced`` or ``nested``.
        estimator: the method used, in words.
        n_roles / n_items / n_cells: roles, distinct items and answered cells.
        items_per_role: harmonic mean of the number of items each role answered (``k`` of a value score).
        role / item / residual: variance components (>= 0; ``item`` None when confounded: nested).
        ms_role / df_role, ms_item / df_item, ms_residual / df_residual: mean squares (role and item
            adjusted for the other facet in unbalanced crossed tables).
        f / p: ``ms_role / ms_residual`` and its upper-tail p-value (test of ``var_role = 0``).
        raw: the untruncated estimates.
    """

    design: str
    estimator: str
    n_roles: int
    n_items: int
    n_cells: int
    items_per_role: float
    role: float
    item: float | None
    residual: float
    ms_role: float
    df_role: float
    ms_item: float | None
    df_item: float | None
    ms_residual: float
    df_residual: float
    f: float
    p: float
    raw: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (floats as they are; see :func:`lm_eval_values.measurement.run.clean_json`)."""
        return asdict(self)


def detect_design(table: pd.DataFrame) -> str:
    """``crossed``, ``crossed-unbalanced`` or ``nested`` for a roles x items table (NaN = not answered)."""
    answered = table.notna().to_numpy()
    if answered.all():
        return "crossed"
    if (answered.sum(axis=0) <= 1).all():
        return "nested"
    return "crossed-unbalanced"


def _f_test(ms_num: float, df_num: float, ms_den: float, df_den: float) -> tuple[float, float]:
    if df_num <= 0 or df_den <= 0:
        return math.nan, math.nan
    scale = max(abs(ms_num), abs(ms_den), 1e-300)
    if ms_den <= 1e-12 * scale:
        return (math.inf, 0.0) if ms_num > 1e-12 * scale else (math.nan, math.nan)
    f = ms_num / ms_den
    return f, float(f_dist.sf(f, df_num, df_den))


def _harmonic_items(answered: np.ndarray) -> float:
    per_role = answered.sum(axis=1)
    per_role = per_role[per_role > 0]
    return float(len(per_role) / np.sum(1.0 / per_role))


def _pos(x: float) -> float:
    return max(0.0, x) if math.isfinite(x) else x


def anova_crossed(y: np.ndarray) -> Components:
    """Balanced crossed roles x items table (no NaN): ANOVA / expected mean squares."""
    n_r, n_i = y.shape
    grand = y.mean()
    rm, im = y.mean(axis=1), y.mean(axis=0)
    ss_r = n_i * float(np.sum((rm - grand) ** 2))
    ss_i = n_r * float(np.sum((im - grand) ** 2))
    ss_e = float(np.sum((y - rm[:, None] - im[None, :] + grand) ** 2))
    df_r, df_i, df_e = n_r - 1, n_i - 1, (n_r - 1) * (n_i - 1)
    ms_r, ms_i = ss_r / df_r, ss_i / df_i
    ms_e = ss_e / df_e if df_e > 0 else math.nan
    v_r, v_i = (ms_r - ms_e) / n_i, (ms_i - ms_e) / n_r
    f, p = _f_test(ms_r, df_r, ms_e, df_e)
    return Components("crossed", "ANOVA expected mean squares (balanced)", n_r, n_i, n_r * n_i, float(n_i),
                      _pos(v_r), _pos(v_i), ms_e, ms_r, df_r, ms_i, df_i, ms_e, df_e, f, p,
                      raw={"role": v_r, "item": v_i, "residual": ms_e})


def henderson3_crossed(y: np.ndarray) -> Components:
    """Unbalanced crossed table (NaN = empty cell, at most one answer per cell): Henderson's method III."""
    answered = np.isfinite(y)
    r_idx, i_idx = np.nonzero(answered)
    obs = y[r_idx, i_idx]
    n_r, n_i = y.shape
    n = obs.size
    inc = sparse.csr_matrix((np.ones(n), (r_idx, i_idx)), shape=(n_r, n_i))
    graph = sparse.bmat([[None, inc], [inc.T, None]])
    n_parts = int(connected_components(graph, directed=False)[0])
    rank = n_r + n_i - n_parts
    # additive fit y ~ role + item through its (n_r + n_i) normal equations (minimum-norm solution)
    dense = inc.toarray()
    xtx = np.block([[np.diag(dense.sum(axis=1)), dense], [dense.T, np.diag(dense.sum(axis=0))]])
    xty = np.concatenate([np.bincount(r_idx, obs, n_r), np.bincount(i_idx, obs, n_i)])
    coef = np.linalg.lstsq(xtx, xty, rcond=None)[0]
    sse = float(np.sum((obs - coef[r_idx] - coef[n_r + i_idx]) ** 2))
    role_mean = np.bincount(r_idx, obs, n_r) / np.maximum(np.bincount(r_idx, minlength=n_r), 1)
    item_mean = np.bincount(i_idx, obs, n_i) / np.maximum(np.bincount(i_idx, minlength=n_i), 1)
    ss_items_only = float(np.sum((obs - item_mean[i_idx]) ** 2))
    ss_roles_only = float(np.sum((obs - role_mean[r_idx]) ** 2))
    red_r, red_i = ss_items_only - sse, ss_roles_only - sse
    df_r, df_i, df_e = n_r - n_parts, n_i - n_parts, n - rank
    ms_e = sse / df_e if df_e > 0 else math.nan
    ms_r = red_r / df_r if df_r > 0 else math.nan
    ms_i = red_i / df_i if df_i > 0 else math.nan
    v_r = (red_r - df_r * ms_e) / (n - n_i)
    v_i = (red_i - df_i * ms_e) / (n - n_r)
    f, p = _f_test(ms_r, df_r, ms_e, df_e)
    return Components("crossed-unbalanced", "Henderson method III (fitting constants)", n_r, n_i, n,
                      _harmonic_items(answered), _pos(v_r), _pos(v_i), ms_e, ms_r, df_r, ms_i, df_i, ms_e, df_e,
                      f, p, raw={"role": v_r, "item": v_i, "residual": ms_e, "connected_parts": float(n_parts)})


def anova_nested(y: np.ndarray) -> Components:
    """Items nested in roles (each item answered by one role): one-way random ANOVA, unequal sizes."""
    answered = np.isfinite(y)
    sizes = answered.sum(axis=1)
    keep = sizes > 0
    y, answered, sizes = y[keep], answered[keep], sizes[keep]
    n_r, n = y.shape[0], int(sizes.sum())
    means = np.nansum(y, axis=1) / sizes
    grand = float(np.nansum(y) / n)
    ss_b = float(np.sum(sizes * (means - grand) ** 2))
    ss_w = float(np.nansum((y - means[:, None]) ** 2))
    df_b, df_w = n_r - 1, n - n_r
    ms_b = ss_b / df_b
    ms_w = ss_w / df_w if df_w > 0 else math.nan
    n0 = (n - float(np.sum(sizes ** 2)) / n) / df_b
    v_r = (ms_b - ms_w) / n0
    f, p = _f_test(ms_b, df_b, ms_w, df_w)
    return Components("nested", "one-way random ANOVA, items nested in roles (unequal sizes: n0)", n_r,
                      int(answered.any(axis=0).sum()), n, _harmonic_items(answered), _pos(v_r), None, ms_w,
                      ms_b, df_b, None, None, ms_w, df_w, f, p, raw={"role": v_r, "item": None, "residual": ms_w,
                                                                     "n0": n0})


def reml(y: np.ndarray, design: str) -> dict[str, float | bool]:
    """REML estimates ``role, item, residual, converged`` (statsmodels MixedLM) for the given design.

    The answers are scaled to unit SD for the fit (and the estimates scaled back). L-BFGS, Nelder-Mead
    and Powell are each run (gradient methods can stop short of a zero variance); the converged fit
    with the highest restricted log-likelihood is kept.
    """
    r_idx, i_idx = np.nonzero(np.isfinite(y))
    obs = y[r_idx, i_idx]
    scale = float(obs.std()) or 1.0
    data = pd.DataFrame({"y": obs / scale, "role": r_idx, "item": i_idx, "one": 1})
    if design == "nested":
        model = MixedLM.from_formula("y ~ 1", groups="role", re_formula="1", data=data)
    else:
        model = MixedLM.from_formula("y ~ 1", groups="one", re_formula="0", data=data,
                                     vc_formula={"role": "0 + C(role)", "item": "0 + C(item)"})
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("lbfgs", "nm", "powell"):
            try:
                fits.append(model.fit(reml=True, method=[method]))
            except (ValueError, np.linalg.LinAlgError):
                continue
    converged = [f for f in fits if f.converged and np.isfinite(f.llf)]
    if not converged:
        return {"role": math.nan, "item": math.nan, "residual": math.nan, "converged": False}
    fit = max(converged, key=lambda f: f.llf)
    if design == "nested":
        out: dict[str, float | bool] = {"role": float(fit.cov_re.iloc[0, 0]) * scale ** 2, "item": math.nan}
    else:
        vc = dict(zip(model.exog_vc.names, np.asarray(fit.vcomp, dtype=float) * scale ** 2))
        out = {"role": float(vc["role"]), "item": float(vc["item"])}
    out["residual"] = float(fit.scale) * scale ** 2
    out["converged"] = bool(fit.converged)
    return out


def estimate_components(table: pd.DataFrame, estimator: str = "anova") -> Components:
    """Variance components of a roles x items table (NaN = not answered; at most one answer per cell).

    Args:
        table: rows roles, columns items.
        estimator: ``anova`` (ANOVA/EMS, Henderson III or nested one-way ANOVA by design) or ``reml``.

    Raises:
        ValueError: fewer than 2 roles or 2 items per role on average, or no residual degrees of freedom.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, not {estimator!r}")
    table = table.loc[table.notna().any(axis=1), table.notna().any(axis=0)]
    y = table.to_numpy(dtype=float)
    if y.shape[0] < 2:
        raise ValueError(f"{y.shape[0]} role(s) answered: at least 2 are needed")
    design = detect_design(table)
    if design != "nested" and y.shape[1] < 2:
        raise ValueError(f"{y.shape[1]} item(s) answered: at least 2 are needed")
    comp = {"crossed": anova_crossed, "crossed-unbalanced": henderson3_crossed, "nested": anova_nested}[design](y)
    if not comp.df_residual > 0:
        raise ValueError("no residual degrees of freedom: every role needs at least 2 items")
    if estimator == "reml":
        fit = reml(y, design)
        comp.raw = {**comp.raw, "reml_converged": float(bool(fit["converged"]))}
        if not fit["converged"]:
            comp.estimator += " (REML did not converge)"
            return comp
        comp.estimator = "REML (statsmodels MixedLM)"
        comp.role, comp.residual = _pos(float(fit["role"])), float(fit["residual"])
        comp.item = None if design == "nested" else _pos(float(fit["item"]))
    return comp
