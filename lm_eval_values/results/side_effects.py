"""The side-effect stage's record (``result.json`` of ``RUN/<model>/side_effects/`` or ``side-effects --out``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lm_eval_values.core.files import RESULT_FILE
from lm_eval_values.results.records import read_json_object

SIDE_EFFECTS_RESULT_FORMAT = "lm-eval-values/side-effects-result"
SIDE_EFFECTS_RESULT_VERSION = 2


@dataclass(frozen=True)
class HeldoutRecord:
    """The held-out side-effect prediction (``heldout.json`` holds the same).

    Attributes:
        params: test, FDR level, centring, tolerance, target rule, held-out role count, interval, ...
        targets: ``{steering id: value taken as its direct target}`` (the settings evaluated).
        n_significant, n_tests: observed (setting, value) changes and pairs tested.
        table: one row per predictor (``predictor``, ``precision``, ``recall``, ``auroc``,
            ``auroc_lo``, ``auroc_hi``, ...).
        target_sources: ``{steering id: how its target is known}`` (given, named in the id, moved most).
        unknown_targets: ``{steering id: why it has no target}`` (left out, not guessed).
        named_targets: ``{steering id: value its id names, or None}``.
        excluded: held-out rows left out because their role is among the training rows.
        power: smallest attainable p, power at stated effects, ``informative`` and its reason.
    """

    params: Mapping[str, Any]
    targets: Mapping[str, str]
    n_significant: int
    n_tests: int
    table: list[Mapping[str, Any]]
    target_sources: Mapping[str, str] = field(default_factory=dict)
    unknown_targets: Mapping[str, str] = field(default_factory=dict)
    named_targets: Mapping[str, Any] = field(default_factory=dict)
    excluded: Mapping[str, Any] = field(default_factory=dict)
    power: Mapping[str, Any] = field(default_factory=dict)

    def predictor(self, name_or_prefix: str) -> Mapping[str, Any]:
        """The table row of a predictor (exact name, else the first name starting with it; ``{}`` if none)."""
        for row in self.table:
            if row.get("predictor") == name_or_prefix:
                return row
        return next((r for r in self.table if str(r.get("predictor", "")).startswith(name_or_prefix)), {})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"params": dict(self.params), "targets": dict(self.targets),
                "target_sources": dict(self.target_sources), "unknown_targets": dict(self.unknown_targets),
                "named_targets": dict(self.named_targets), "excluded": dict(self.excluded), "power": dict(self.power),
                "n_significant": self.n_significant, "n_tests": self.n_tests, "table": [dict(r) for r in self.table]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "HeldoutRecord":
        """Inverse of :meth:`to_dict`."""
        return cls(dict(d.get("params") or {}), dict(d.get("targets") or {}), int(d.get("n_significant") or 0),
                   int(d.get("n_tests") or 0), [dict(r) for r in d.get("table") or []],
                   dict(d.get("target_sources") or {}), dict(d.get("unknown_targets") or {}),
                   dict(d.get("named_targets") or {}), dict(d.get("excluded") or {}), dict(d.get("power") or {}))


@dataclass(frozen=True)
class SideEffectsResult:
    """What the side-effect stage found.

    Attributes:
        settings: the stage settings (:meth:`SideEffectsSettings.to_dict`).
        rows: ``{"train": {...}, "heldout": {...}}`` with the split, rows and roles of each part.
        graphs: names of the graphs evaluated (the learned graph first).
        study_metric: per kind of change (``role prompting``, ``steering (<role>)``, ``given changes``):
            ``{"n_rows", "cochange", "graphs": {name: {"expected", "unexpected", ...}}}`` or
            ``{"skipped_reason"}``.
        heldout: the held-out prediction, or None.
        heldout_skipped_reason: why it was not run, or None.
        notes: what was adapted, in words.
    """

    settings: Mapping[str, Any]
    rows: Mapping[str, Any]
    graphs: list[str] = field(default_factory=list)
    study_metric: Mapping[str, Any] = field(default_factory=dict)
    heldout: HeldoutRecord | None = None
    heldout_skipped_reason: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the file's content)."""
        return {"format": SIDE_EFFECTS_RESULT_FORMAT, "version": SIDE_EFFECTS_RESULT_VERSION, "stage": "side_effects",
                "settings": dict(self.settings), "rows": dict(self.rows), "graphs": list(self.graphs),
                "study_metric": dict(self.study_metric),
                "heldout": None if self.heldout is None else self.heldout.to_dict(),
                "heldout_skipped_reason": self.heldout_skipped_reason, "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SideEffectsResult":
        """Inverse of :meth:`to_dict`."""
        ho = d.get("heldout")
        return cls(dict(d.get("settings") or {}), dict(d.get("rows") or {}), list(d.get("graphs") or []),
                   dict(d.get("study_metric") or {}), None if not ho else HeldoutRecord.from_dict(ho),
                   d.get("heldout_skipped_reason"), list(d.get("notes") or []))


def _num(x: Any) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{float(x):.2f}"


def auroc_text(row: Mapping[str, Any]) -> str:
    """``0.81 [0.72, 0.88]`` for a predictor row of the held-out table (``n/a`` when undefined)."""
    point = row.get("auroc")
    if point is None or (isinstance(point, float) and not math.isfinite(point)):
        observed = row.get("n_observed")
        why = "no observed change" if observed == 0 else ("every pair changed" if observed == row.get("n_pairs")
                                                          else "undefined")
        return f"n/a ({why})"
    text = _num(point)
    if row.get("auroc_lo") is not None:
        text += f" [{_num(row.get('auroc_lo'))}, {_num(row.get('auroc_hi'))}]"
    return text


def power_sentence(power: Mapping[str, Any]) -> str:
    """The power report of a held-out record in one line (``""`` when absent)."""
    if not power:
        return ""
    n = power.get("n_roles")
    head = (f"power before testing: {n} held-out roles, smallest attainable p = {power.get('min_p_text')} "
            f"(FDR {power.get('fdr')}, {power.get('n_tests')} tests)")
    parts = [f"power at d = {d}: {v['at_fdr']:.2f} at level q, {v['at_fdr_over_m']:.2f} at q/m"
             for d, v in (power.get("power") or {}).items()]
    verdict = "informative" if power.get("informative") else f"NOT informative: {power.get('reason')}"
    return "; ".join([head, *parts, verdict])


def read_side_effects_result(folder: Path) -> SideEffectsResult | None:
    """The side-effect record in ``folder``, or None."""
    d = read_json_object(Path(folder) / RESULT_FILE)
    if d is None or d.get("format") != SIDE_EFFECTS_RESULT_FORMAT:
        return None
    return SideEffectsResult.from_dict(d)


__all__ = ["HeldoutRecord", "SIDE_EFFECTS_RESULT_FORMAT", "SideEffectsResult", "auroc_text", "power_sentence",
           "read_side_effects_result"]
