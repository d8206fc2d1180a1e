"""Held-out paired changes and their two-way resampling, for intervals of the side-effect prediction.

The unit of analysis is a held-out role; a value score is the mean of the items the role answered
for that value, and the items are a sample of the items that could have been asked. An interval
of the held-out AUROC must therefore carry both sources of sampling error through the WHOLE
prediction: every replicate recomputes the value scores from resampled items, the paired changes
of resampled roles, the signed-rank tests, the Benjamini-Hochberg decisions (the observed labels)
and every predictor's AUROC.

Replicates (a two-way, "pigeonhole" bootstrap; Owen 2007, *Ann. Appl. Stat.* 1(2)):

* roles: ``n`` draws with replacement from the ``n`` held-out roles (a role drawn twice enters the
  tests twice, as in any nonparametric bootstrap of a statistic computed at its own n);
* items: within each (value, key) stratum, ``k - 1`` draws from its ``k`` items, scaled back to
  ``k`` (the rescaling bootstrap of Rao & Wu 1988, *JASA* 83, which keeps the item variance of a mean
  unbiased with few items); strata with a single item stay fixed
  (:func:`lm_eval_values.measurement.intervals.item_strata`). The same item weights apply to every
  role and every setting: an item is one question, asked steered and unsteered.

Without an item table (a matrix-only input, e.g. the study's published CSVs) only roles are
resampled, and the record says so: such an interval leaves item sampling out and is too narrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.core.conditions import NO_STEERING, normalise_steering_id
from lm_eval_values.matrix.selection import dose_label
from lm_eval_values.measurement.intervals import bootstrap_weights, item_strata

ROLES_AND_ITEMS = "roles and items (two-way bootstrap)"
ROLES_ONLY = "roles only (no item table: item sampling not included, the interval is too narrow)"
_MATCH_TOL = 1e-5  # matrix.csv holds 6 decimals: a paired change of two rounded cells is off by <= 1e-6


@dataclass
class HeldoutChanges:
    """Paired changes of the held-out roles and what is needed to resample them.

    Attributes:
        roles: held-out role ids (rows of every array below).
        values: value columns.
        changes: ``{setting: roles x values}`` paired changes (NaN where a role lacks a row).
        cubes: with items, ``{setting or "none": roles x items}`` keyed item scores (NaN = not asked).
        item_codes: value index of each item column; ``item_strata`` its resampling stratum.
        fixed_strata: strata kept fixed (single items).
        resampling: :data:`ROLES_AND_ITEMS` or a roles-only label with its reason.
    """

    roles: list[str]
    values: list[str]
    changes: dict[str, np.ndarray]
    cubes: dict[str, np.ndarray] | None = None
    item_codes: np.ndarray | None = None
    item_strata: np.ndarray | None = None
    fixed_strata: frozenset[int] = frozenset()
    resampling: str = ROLES_ONLY

    @property
    def n_roles(self) -> int:
        """Held-out roles."""
        return len(self.roles)


def changes_from_frames(frames: Mapping[str, pd.DataFrame], values: Sequence[str]) -> HeldoutChanges:
    """Align ``{setting: roles x values}`` paired changes on the union of their roles (roles-only resampling)."""
    roles = list(dict.fromkeys(r for d in frames.values() for r in d.index.astype(str)))
    changes = {s: d.reindex(index=roles, columns=list(values)).to_numpy(dtype=float) for s, d in frames.items()}
    return HeldoutChanges(roles, list(values), changes)


def _cube(items: pd.DataFrame, setting: str, roles: list[str], item_ids: list[str]) -> np.ndarray:
    """Roles x items keyed scores of one setting (its dose id, else its plain id: as the matrix names it)."""
    rows = items[items["_dose"] == setting]
    if rows.empty:
        rows = items[items["_plain"] == setting]
    tab = rows.groupby(["role_id", "item_id"], sort=False)["score"].mean().unstack("item_id")
    return tab.reindex(index=roles, columns=item_ids).to_numpy(dtype=float)


def attach_items(data: HeldoutChanges, items: pd.DataFrame, split: str | None = None) -> HeldoutChanges:
    """``data`` with item cubes for two-way resampling, or unchanged with the reason in ``resampling``.

    ``items`` is a checked item table (:func:`lm_eval_values.measurement.table.read_items`); rows of
    ``split`` (when given) and of the held-out roles are used. The item means must reproduce the
    paired changes of the matrix (to 1e-5: the matrix is rounded to 6 decimals); otherwise the table
    is not the matrix's and only roles are resampled.
    """
    it = items[items["role_id"].astype(str).isin(data.roles)]
    if split is not None and "split" in it.columns:
        it = it[it["split"].astype(str) == split]
    it = it[it["value"].isin(data.values)]
    if it.empty:
        data.resampling = ROLES_ONLY.replace("no item table", "the item table has no rows of the held-out roles")
        return data
    it = it.assign(_dose=[dose_label(s, c) for s, c in zip(it["steering_id"], it["coefficient"])],
                   _plain=[normalise_steering_id(s) for s in it["steering_id"]])
    info = it.groupby("item_id", sort=True)[["value", "agreement"]].first()
    item_ids = list(info.index)
    codes = info["value"].map({v: j for j, v in enumerate(data.values)}).to_numpy()
    cubes = {s: _cube(it, s, data.roles, item_ids) for s in [NO_STEERING, *data.changes]}
    onehot = _onehot(codes, len(data.values))
    for s, d in data.changes.items():
        rebuilt = _group_means(cubes[s], onehot, np.ones(len(item_ids))) - _group_means(
            cubes[NO_STEERING], onehot, np.ones(len(item_ids)))
        both = np.isfinite(d) & np.isfinite(rebuilt)
        gap = np.abs(d[both] - rebuilt[both]).max(initial=0)
        if (np.isfinite(d) & ~np.isfinite(rebuilt)).any() or gap > _MATCH_TOL:
            data.resampling = ROLES_ONLY.replace("no item table", f"the item table does not reproduce the matrix "
                                                                  f"(setting {s})")
            return data
    answered = np.isfinite(cubes[NO_STEERING])
    strata, fixed, _ = item_strata(answered, codes, info["agreement"].to_numpy(), "key")
    data.cubes, data.item_codes, data.item_strata = cubes, codes, strata
    data.fixed_strata, data.resampling = frozenset(int(f) for f in fixed), ROLES_AND_ITEMS
    return data


def _onehot(codes: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros((codes.size, n_groups))
    out[np.arange(codes.size), codes] = 1.0
    return out


def _group_means(cube: np.ndarray, onehot: np.ndarray, w_items: np.ndarray) -> np.ndarray:
    """Roles x values: weighted mean of each role's answered items of each value."""
    answered = np.isfinite(cube)
    num = (np.where(answered, cube, 0.0) * w_items) @ onehot
    den = (answered * w_items) @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def replicates(data: HeldoutChanges, n_boot: int, seed: int) -> Iterator[dict[str, np.ndarray]]:
    """``n_boot`` replicates of the paired changes, one at a time: ``{setting: (resampled roles) x values}``."""
    rng = np.random.default_rng([int(seed), 19])
    n = data.n_roles
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot) if n else np.zeros((n_boot, 0), int)
    w_items = None
    if data.cubes is not None and data.item_strata is not None:
        _, w_items = bootstrap_weights(max(n, 1), data.item_strata, n_boot, rng, data.fixed_strata, rescaled=True)
        onehot = _onehot(data.item_codes, len(data.values))
    for b in range(n_boot):
        idx = np.repeat(np.arange(n), counts[b])
        if w_items is None:
            yield {s: d[idx] for s, d in data.changes.items()}
            continue
        base = _group_means(data.cubes[NO_STEERING], onehot, w_items[b])
        yield {s: (_group_means(data.cubes[s], onehot, w_items[b]) - base)[idx] for s in data.changes}


__all__ = ["HeldoutChanges", "ROLES_AND_ITEMS", "ROLES_ONLY", "attach_items", "changes_from_frames", "replicates"]
