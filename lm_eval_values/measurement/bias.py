"""Response-bias controls: named scoring choices applied to the item table.

Each choice returns a new item table whose ``score`` column is re-scored (still keyed, so value
scores are still item means), and a record of what was done, for the study to store.

``raw``
    The keyed scores as measured.
``item_centered``
    Remove item difficulty: every item's mean keyed score over the reference conditions (the
    unsteered role conditions, each role once) is subtracted from that item in EVERY condition.
    Paired changes (steered minus unsteered) are unchanged; levels become relative to the roles'
    average on each item.
``acquiescence_residualized``
    Per condition, remove the acquiescence: the unkeyed answers (``score x agreement``) are
    ipsatized (their mean over all of the condition's items is subtracted), then re-keyed
    (multiplied by ``agreement``). A yes-bias that adds the same amount to every unkeyed answer of
    a condition disappears; with balanced keys the value means are unchanged and only the
    role x item variance it caused goes, with unbalanced keys the spurious value differences go too.
``mrat``
    Schwartz's centring on the mean rating (Schwartz 2003, "Computing scores for the 10 human
    values", ESS questionnaire development report, ch. 7): per condition, the mean KEYED score
    over all items is subtracted from every item, so value scores become the respondent's value
    score minus their mean over all items (ipsative: they sum to about 0 over values).

Measured on simulated data (``docs/reliability.md``): a yes-bias that varies between roles and
no value signal, with unbalanced keys, gives spurious role variance under ``raw``,
``item_centered`` and ``mrat``; ``acquiescence_residualized`` removes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from lm_eval_values.measurement.table import NO_STEERING, respondent_cells, unkeyed
from lm_eval_values.core.errors import UserError

SCORINGS: dict[str, str] = {
    "raw": "keyed item scores as measured",
    "item_centered": "each item's mean over the unsteered role conditions subtracted (item difficulty removed)",
    "acquiescence_residualized": "per condition, unkeyed answers minus their mean over all items, then re-keyed",
    "mrat": "per condition, keyed item scores minus their mean over all items (Schwartz 2003 MRAT centring)",
}


@dataclass(frozen=True)
class ScoringRecord:
    """What a scoring choice did: ``name``, ``description`` and per-condition / per-item offsets."""

    name: str
    description: str
    offsets: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {"name": self.name, "description": self.description, "offsets": dict(sorted(self.offsets.items()))}


def check_scoring(name: str, field: str = "--scoring") -> str:
    """``name`` if it is a known scoring choice, else a :class:`UserError`."""
    if name not in SCORINGS:
        raise UserError(field, f"unknown scoring {name!r}", f"use one of: {', '.join(SCORINGS)}")
    return name


def item_centered(items: pd.DataFrame, include_no_role: bool = True) -> tuple[pd.DataFrame, dict[str, float]]:
    """Keyed scores minus each item's mean over the unsteered role conditions (each role once)."""
    ref = respondent_cells(items, NO_STEERING, include_no_role=include_no_role)
    if ref.empty:
        raise UserError("scoring", "item_centered needs unsteered role conditions as the reference",
                        "include unsteered conditions, or use another scoring")
    means = ref.groupby("item_id")["score"].mean()
    out = items[items["item_id"].isin(means.index)].copy()
    out["score"] = out["score"] - out["item_id"].map(means)
    return out.reset_index(drop=True), {str(k): float(v) for k, v in means.items()}


def acquiescence_residualized(items: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per condition: unkeyed answers minus their mean over the condition's items, re-keyed."""
    out = items.copy()
    u = unkeyed(out)
    acq = u.groupby(out["condition_id"]).transform("mean")
    out["score"] = (u - acq) * out["agreement"]
    per_cond = u.groupby(out["condition_id"]).mean()
    return out, {str(k): float(v) for k, v in per_cond.items()}


def mrat(items: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per condition: keyed scores minus their mean over the condition's items."""
    out = items.copy()
    level = out.groupby("condition_id")["score"].transform("mean")
    per_cond = out.groupby("condition_id")["score"].mean()
    out["score"] = out["score"] - level
    return out, {str(k): float(v) for k, v in per_cond.items()}


def apply_scoring(items: pd.DataFrame, name: str, include_no_role: bool = True) -> tuple[pd.DataFrame, ScoringRecord]:
    """Re-score a checked item table with the scoring choice ``name`` (see :data:`SCORINGS`).

    Returns the new table and a :class:`ScoringRecord` (offsets: per item for ``item_centered``,
    per condition for the others; empty for ``raw``).
    """
    check_scoring(name)
    if name == "raw":
        return items.copy(), ScoringRecord(name, SCORINGS[name], {})
    if name == "item_centered":
        out, offsets = item_centered(items, include_no_role)
    elif name == "acquiescence_residualized":
        out, offsets = acquiescence_residualized(items)
    else:
        out, offsets = mrat(items)
    return out, ScoringRecord(name, SCORINGS[name], offsets)
