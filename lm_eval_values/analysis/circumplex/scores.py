"""Value scores from any table, MRAT centring and value correlations (Schwartz 1992; Schwartz et al. 2001).

MRAT-centered correlations: each row's mean rating over all items is subtracted first, as the PVQ
scoring instructions prescribe.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.analysis.circumplex.reference import check_centering
from lm_eval_values.core.errors import UserError
from lm_eval_values.values.names import SCHWARTZ_VALUES, slugify


def find_schwartz_columns(columns: Sequence[Any]) -> dict[str, Any]:
    """Map each Schwartz value to the input column that names it (exact, case or slug match)."""
    by_slug: dict[str, Any] = {}
    for col in columns:
        by_slug.setdefault(slugify(str(col)), col)
    found: dict[str, Any] = {}
    for value in SCHWARTZ_VALUES:
        if value in columns:
            found[value] = value
        elif slugify(value) in by_slug:
            found[value] = by_slug[slugify(value)]
    return found


def schwartz_scores(frame: pd.DataFrame, order: Sequence[str] = SCHWARTZ_VALUES,
                    field_name: str = "matrix") -> pd.DataFrame:
    """The 10 Schwartz columns of ``frame`` as floats, in ``order``; other columns are ignored.

    Columns match by exact name, case-insensitively or by slug (``self_direction``).
    Raises :class:`UserError` for missing or non-numeric columns, missing cells, fewer
    than 3 rows or a constant column (its correlations would be undefined).
    """
    found = find_schwartz_columns(list(frame.columns))
    missing = [v for v in order if v not in found]
    if missing:
        raise UserError(field_name, f"missing Schwartz value column(s): {', '.join(missing)}",
                        f"give one column per value: {', '.join(order)}")
    scores = frame[[found[v] for v in order]].copy()
    scores.columns = list(order)
    try:
        scores = scores.apply(pd.to_numeric, errors="raise").astype(float)
    except (ValueError, TypeError):
        raise UserError(field_name, "a Schwartz value column holds non-numeric cells",
                        "keep only numbers in the value columns") from None
    _check_finite(scores, field_name)
    if len(scores) < 3:
        raise UserError(field_name, f"{len(scores)} row(s); correlations need at least 3",
                        "give one row per role or condition, 3 or more (30+ recommended)")
    _check_not_constant(scores, field_name, "")
    return scores


def _check_finite(scores: pd.DataFrame, field_name: str) -> None:
    bad = ~np.isfinite(scores.to_numpy())
    if bad.any():
        rows = int(bad.any(axis=1).sum())
        cols = [c for c, b in zip(scores.columns, bad.any(axis=0)) if b]
        raise UserError(field_name, f"{rows} row(s) have missing or infinite scores in {', '.join(cols)}",
                        "drop or re-run those rows (compare-human --drop-incomplete drops them)")


def _check_not_constant(scores: pd.DataFrame, field_name: str, what: str) -> None:
    spread = scores.max() - scores.min()
    const = [c for c, s in spread.items() if not s > 1e-12 * max(1.0, float(scores[c].abs().max()))]
    if const:
        raise UserError(field_name, f"constant {what}column(s) {', '.join(const)}: correlations are undefined",
                        "use rows (roles, conditions) on which the value scores vary")


def row_item_mean(scores: pd.DataFrame, items_per_value: Mapping[str, float] | None = None) -> pd.Series:
    """Each row's mean over all items of all values, from value scores alone.

    With ``items_per_value`` it is the item-count-weighted mean of the value scores
    (exact when each value score is the mean of its items); without it all values
    count equally.
    """
    if items_per_value is None:
        return scores.mean(axis=1)
    missing = [c for c in scores.columns if c not in items_per_value]
    if missing:
        raise UserError("items_per_value", f"no item count for {', '.join(missing)}",
                        "give a count for each of the 10 values")
    weights = np.array([float(items_per_value[c]) for c in scores.columns])
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise UserError("items_per_value", "item counts must be positive numbers", "e.g. 4 items per value")
    return pd.Series(scores.to_numpy() @ weights / weights.sum(), index=scores.index)


def mrat_center(scores: pd.DataFrame, item_mean: pd.Series | Sequence[float] | None = None,
                items_per_value: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Subtract each row's mean rating over all items (MRAT) from its value scores.

    ``item_mean`` is the per-row mean over all items when known (e.g. from the item table);
    otherwise it is derived from the value scores by :func:`row_item_mean`. This is the
    centering the PVQ scoring instructions prescribe (Schwartz et al. 2001).
    """
    if item_mean is None:
        mean = row_item_mean(scores, items_per_value)
    else:
        mean = pd.Series(np.asarray(item_mean, dtype=float).ravel())
        if len(mean) != len(scores):
            raise UserError("item_mean", f"{len(mean)} item means for {len(scores)} rows", "give one per row")
        if not np.all(np.isfinite(mean.to_numpy())):
            raise UserError("item_mean", "missing or infinite item means", "give a number for every row")
    return scores.sub(mean.to_numpy(), axis=0)


def value_correlations(scores: pd.DataFrame, centering: str = "mrat",
                       item_mean: pd.Series | Sequence[float] | None = None,
                       items_per_value: Mapping[str, float] | None = None,
                       order: Sequence[str] = SCHWARTZ_VALUES) -> pd.DataFrame:
    """Pearson correlations between the 10 value columns of ``scores`` (in ``order``).

    ``centering="mrat"`` subtracts each row's item mean first (:func:`mrat_center`).
    """
    check_centering(centering)
    values = schwartz_scores(scores, order)
    if centering == "mrat":
        values = mrat_center(values, item_mean, items_per_value)
        _check_not_constant(values, "matrix", "MRAT-centered ")
    return values.corr(method="pearson")
