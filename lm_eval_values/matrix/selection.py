"""Which rows of a value matrix an analysis uses: one split, some steering settings, single doses.

Every analysis stage (graph, human comparison, side effects) and its command select rows the same
way, through :class:`RowSelection`:

* ``split``: keep one split (``train``, ``test``, ...); None keeps every row;
* ``steering``: keep some steering settings. A plain id (``prompt:Power``, ``1025``, ``none``)
  keeps every dose of that setting; ``<id>@<coefficient>`` (``prompt:Power@1``) keeps one dose.

:func:`with_dose_ids` relabels steered rows as ``<id>@<coefficient>`` so that each dose is its own
intervention (a prompt "inclined" at +1 and "disinclined" at -1 are opposite interventions, not
one). Rows without a known coefficient (study-format CSVs) or with coefficient 0 keep their plain id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from lm_eval_values.core.conditions import NO_STEERING, dose_id, normalise_steering_id
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.value_matrix import ValueMatrix

DOSE_SEPARATOR = "@"


def dose_label(steering_id: Any, coefficient: Any) -> str:
    """``<id>@<coefficient>`` for a steered row with a known, non-zero coefficient; the plain id otherwise."""
    sid = normalise_steering_id(steering_id)
    try:
        coef = float(coefficient)
    except (TypeError, ValueError):
        coef = math.nan
    if sid == NO_STEERING or not math.isfinite(coef) or coef == 0:
        return sid
    return dose_id(sid, coef)


def with_dose_ids(vm: ValueMatrix) -> ValueMatrix:
    """A copy whose steered rows carry :func:`dose_label` as steering id (each dose one intervention)."""
    meta = vm.meta.copy()
    meta["steering_id"] = [dose_label(s, c) for s, c in zip(meta["steering_id"], meta["coefficient"])]
    return ValueMatrix(vm.scores.copy(), meta, vm.source)


def split_ids(items: Iterable[str] | None) -> list[str] | None:
    """Command-line id lists: each item may hold several ids separated by commas."""
    if items is None:
        return None
    return [s.strip() for it in items for s in str(it).split(",") if s.strip()]


@dataclass(frozen=True)
class RowSelection:
    """Rows an analysis uses (see the module docstring).

    Attributes:
        split: keep rows of this split (None: every split).
        steering: keep these steering settings (plain ids: every dose; ``id@coef``: one dose);
            None keeps every setting.
    """

    split: str | None = None
    steering: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.split is not None and (not isinstance(self.split, str) or not self.split):
            raise UserError("split", f"{self.split!r} is not a split name", "e.g. train, test, or null for all rows")
        if self.steering is not None:
            if isinstance(self.steering, (str, bytes)) or not all(isinstance(s, (str, int)) for s in self.steering):
                raise UserError("keep_steer", f"must be a list of steering ids, got {self.steering!r}",
                                "e.g. [none, 'prompt:Power@1']")
            object.__setattr__(self, "steering", tuple(_normalise(s) for s in self.steering))

    def apply(self, vm: ValueMatrix) -> ValueMatrix:
        """The selected rows of ``vm`` (steering ids unchanged). Unknown ids raise :class:`UserError`."""
        out = vm.filter(split=self.split) if self.split is not None else vm
        if self.steering is None:
            return out
        plain = out.meta["steering_id"].map(normalise_steering_id)
        doses = [dose_label(s, c) for s, c in zip(out.meta["steering_id"], out.meta["coefficient"])]
        known_plain, known_doses = set(plain), set(doses)
        unknown = [s for s in self.steering if s not in known_plain and s not in known_doses]
        if unknown:
            have = sorted(known_plain | known_doses)
            raise UserError("keep_steer", f"unknown steering id(s) {unknown} in {vm.source or 'the matrix'}"
                            + (f" (split {self.split})" if self.split else ""),
                            f"use some of: {', '.join(have[:30])}")
        want = set(self.steering)
        keep = [p in want or d in want for p, d in zip(plain, doses)]
        return ValueMatrix(out.scores.loc[keep].copy(), out.meta.loc[keep].copy(), out.source)

    def to_dict(self) -> dict[str, Any]:
        """``{"split", "keep_steer"}`` (the keys of the study config sections)."""
        return {"split": self.split, "keep_steer": None if self.steering is None else list(self.steering)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "") -> "RowSelection":
        """From ``{"split", "keep_steer"}`` (missing keys: every row)."""
        keep = d.get("keep_steer")
        if keep is not None and (not isinstance(keep, (list, tuple)) or
                                 not all(isinstance(s, (str, int)) and not isinstance(s, bool) for s in keep)):
            raise UserError(f"{where}keep_steer", f"must be a list of steering ids, got {keep!r}",
                            "e.g. [none, 'prompt:Power@1']")
        split = d.get("split")
        if split is not None and not isinstance(split, str):
            raise UserError(f"{where}split", f"must be a split name or null, got {split!r}", "e.g. train")
        return cls(split, None if keep is None else tuple(str(s) for s in keep))


def _normalise(s: Any) -> str:
    text = str(s).strip()
    sid, sep, coef = text.rpartition(DOSE_SEPARATOR)
    try:
        number = float(coef) if sep and sid else math.nan
    except ValueError:
        number = math.nan
    return dose_label(sid, number) if math.isfinite(number) else normalise_steering_id(s)


__all__ = ["DOSE_SEPARATOR", "RowSelection", "dose_label", "split_ids", "with_dose_ids"]
