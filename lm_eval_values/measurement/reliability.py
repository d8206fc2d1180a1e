"""Generalizability study per value: is there between-role value signal above item-by-role noise?

Unit of analysis: respondents are the unsteered role conditions (each role once; see
:mod:`lm_eval_values.measurement.table`); the facets are roles and items, both random (Cronbach,
Gleser, Nanda & Rajaratnam 1972, *The Dependability of Behavioral Measurements*; Brennan 2001,
*Generalizability Theory*). For one value, with the components of
:func:`lm_eval_values.measurement.components.estimate_components` and ``k`` items per value score:

* G coefficient (relative decisions: ordering roles) ``var_role / (var_role + var_residual / k)``;
* dependability Phi (absolute decisions) ``var_role / (var_role + (var_item + var_residual) / k)``
  (nested items: item variance is inside ``var_residual``, so Phi = G);
* D study: items needed for G = ``g_target``: ``k* = g/(1-g) x var_residual / var_role``
  (Spearman-Brown).

Signal rule (:data:`SIGNAL_RULE`): ``signal`` is true only when the F test of ``var_role = 0``
(``MS_role / MS_residual``) rejects at ``alpha`` AND ``G >= g_floor``. The first says roles differ
beyond role x item noise at all; the second that a k-item value score orders roles reliably
enough to build correlations, circumplexes or graphs on it.

Response bias: the acquiescence of a condition is its mean UNKEYED answer over all items
(``score x agreement``; +1 = says yes to everything). Whether roles differ in it is the same G
study on the unkeyed answers over all items. The keyed vs reverse-keyed correlation of a value is
Pearson's r across roles between the mean keyed score of its positively keyed items and that of
its reverse-keyed items: content moves both the same way (r > 0), a yes-bias moves them in
opposite directions (r near -1 is the signature of acquiescence).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from lm_eval_values.measurement.components import ESTIMATORS, Components, estimate_components
from lm_eval_values.measurement.table import NO_STEERING, cell_matrix, respondent_cells, unkeyed
from lm_eval_values.core.errors import UserError, settings_dict
from lm_eval_values.matrix.tables import order_values

SIGNAL_RULE = ("signal = the F test of var_role = 0 (MS_role / MS_role_x_item) rejects at alpha "
               "AND the G coefficient of the k-item value score is at least g_floor")


@dataclass(frozen=True)
class GStudySettings:
    """Settings of the generalizability study.

    Attributes:
        alpha: level of the F test of ``var_role = 0``.
        g_floor: smallest G coefficient that counts as signal.
        g_target: G aimed at by the D study (items needed).
        estimator: ``anova`` (ANOVA/EMS, Henderson III or nested ANOVA by design) or ``reml``.
        include_no_role: count the model without a role as a respondent.
    """

    alpha: float = 0.05
    g_floor: float = 0.5
    g_target: float = 0.8
    estimator: str = "anova"
    include_no_role: bool = True

    def __post_init__(self) -> None:
        for name in ("alpha", "g_floor", "g_target"):
            x = getattr(self, name)
            if not isinstance(x, (int, float)) or not 0.0 < float(x) < 1.0:
                raise UserError(f"reliability.{name}", f"{x!r} is not a number in (0, 1)", "use e.g. 0.05 / 0.5 / 0.8")
        if self.estimator not in ESTIMATORS:
            raise UserError("reliability.estimator", f"unknown estimator {self.estimator!r}",
                            f"use one of: {', '.join(ESTIMATORS)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GStudySettings":
        """Inverse of :meth:`to_dict` (unknown keys are refused)."""
        return cls(**settings_dict(d, sorted(f.name for f in fields(cls)), "reliability"))


@dataclass
class ValueReliability:
    """G study of one value (see the module docstring); ``components`` None when not estimable."""

    value: str
    components: Components | None
    g: float | None
    phi: float | None
    g_one_item: float | None
    items_for_g_target: float | None
    signal: bool
    verdict: str
    keyed_reverse_r: float | None
    n_keyed_items: int
    n_reverse_items: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (components flattened under ``components``)."""
        d = asdict(self)
        d["components"] = None if self.components is None else self.components.to_dict()
        return d


def g_coefficients(comp: Components, k: float) -> tuple[float | None, float | None]:
    """(G, Phi) of a ``k``-item score; None where undefined (no variance at all)."""
    item = comp.item or 0.0
    g_den = comp.role + comp.residual / k
    phi_den = comp.role + (item + comp.residual) / k
    g = comp.role / g_den if g_den > 0 else None
    phi = comp.role / phi_den if phi_den > 0 else None
    return g, phi


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


def verdict(comp: Components | None, g: float | None, settings: GStudySettings, why: str = "") -> tuple[bool, str]:
    """(signal, reason in words) by :data:`SIGNAL_RULE`."""
    if comp is None or g is None:
        return False, f"not estimable ({why or 'no variance'})"
    f_txt = f"MS_role / MS_role_x_item = {comp.f:.3g} ({_fmt_p(comp.p)})"
    if not (comp.p < settings.alpha):
        return False, f"no signal: {f_txt}: roles do not differ beyond role x item noise"
    if g < settings.g_floor:
        return False, f"no signal: {f_txt} but G = {g:.2f} < {settings.g_floor:g} with k = {comp.items_per_role:.3g} items"
    return True, f"signal: {f_txt}, G = {g:.2f} >= {settings.g_floor:g}"


def keyed_reverse_correlation(cells: pd.DataFrame) -> float | None:
    """Pearson r across roles between mean keyed-item and mean reverse-keyed-item (keyed) scores."""
    keyed = cells[cells["agreement"] == 1].groupby("role_id")["score"].mean()
    reverse = cells[cells["agreement"] == -1].groupby("role_id")["score"].mean()
    both = pd.concat([keyed, reverse], axis=1, join="inner").dropna()
    if len(both) < 3 or both.iloc[:, 0].std() == 0 or both.iloc[:, 1].std() == 0:
        return None
    return float(np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1])


def value_reliability(value: str, cells: pd.DataFrame, settings: GStudySettings) -> ValueReliability:
    """G study of one value from its respondent cells (:func:`~lm_eval_values.measurement.table.respondent_cells`)."""
    keys = cells.groupby("item_id")["agreement"].first()
    n_keyed, n_rev = int((keys == 1).sum()), int((keys == -1).sum())
    r = keyed_reverse_correlation(cells)
    try:
        comp: Components | None = estimate_components(cell_matrix(cells), settings.estimator)
    except ValueError as exc:
        signal, text = verdict(None, None, settings, str(exc))
        return ValueReliability(value, None, None, None, None, None, signal, text, r, n_keyed, n_rev)
    g, phi = g_coefficients(comp, comp.items_per_role)
    g1, _ = g_coefficients(comp, 1.0)
    need = None
    if comp.role > 0:
        need = settings.g_target / (1.0 - settings.g_target) * comp.residual / comp.role
    signal, text = verdict(comp, g, settings)
    return ValueReliability(value, comp, g, phi, g1, need, signal, text, r, n_keyed, n_rev)


def g_study(items: pd.DataFrame, settings: GStudySettings = GStudySettings()) -> dict[str, ValueReliability]:
    """Per value (canonical order), the G study of the unsteered role conditions of a checked item table."""
    cells = respondent_cells(items, NO_STEERING, include_no_role=settings.include_no_role)
    if cells.empty:
        raise UserError("SOURCE", "the item table has no unsteered conditions (steering_id none)",
                        "the respondents are the unsteered role conditions: include them in the sweep")
    return {v: value_reliability(v, cells[cells["value"] == v], settings)
            for v in order_values(cells["value"].unique())}


def acquiescence_by_condition(items: pd.DataFrame) -> pd.DataFrame:
    """Per condition: ``condition_id, role_id, split, steering_id, coefficient, acquiescence, n_items``
    (acquiescence = mean unkeyed answer over all its items), in table order."""
    df = items.assign(_u=unkeyed(items))
    out = (df.groupby("condition_id", sort=False)
           .agg(role_id=("role_id", "first"), split=("split", "first"), steering_id=("steering_id", "first"),
                coefficient=("coefficient", "first"), acquiescence=("_u", "mean"), n_items=("_u", "size"))
           .reset_index())
    return out


def acquiescence_study(items: pd.DataFrame, settings: GStudySettings = GStudySettings()) -> dict[str, Any]:
    """Do roles differ in acquiescence? The G study of unkeyed answers over all items (unsteered roles).

    Returns ``mean`` (over roles), ``per_role`` (role -> mean unkeyed answer), ``components``,
    ``g`` (of the all-item acquiescence index) and ``roles_differ`` (the F test rejects at alpha).
    """
    cells = respondent_cells(items, NO_STEERING, include_no_role=settings.include_no_role)
    cells = cells.assign(score=cells["score"] * cells["agreement"])
    per_role = cells.groupby("role_id")["score"].mean()
    out: dict[str, Any] = {"mean": float(per_role.mean()) if len(per_role) else math.nan,
                           "per_role": {str(k): float(v) for k, v in per_role.items()}}
    try:
        comp = estimate_components(cell_matrix(cells), settings.estimator)
    except ValueError as exc:
        return {**out, "components": None, "g": None, "roles_differ": None, "note": str(exc)}
    g, _ = g_coefficients(comp, comp.items_per_role)
    return {**out, "components": comp.to_dict(), "g": g, "roles_differ": bool(comp.p < settings.alpha)}
