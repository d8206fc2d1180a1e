"""The whole measurement-validity analysis of one item table: :func:`run_reliability`.

Writes ``OUT/reliability.json`` (atomically; same input and settings -> same bytes)::

    {"format": "lm-eval-values/reliability", "version": 1, "source": ..., "settings": {...},
     "units": "...", "rule": "...", "scoring": {...}, "formats": ["yesno"], "n_roles": 11, "roles": [...],
     "values": {"Power": {"g": 0.0, "signal": false, "phi": ..., "verdict": "...", "design": "crossed",
                          "components": {"role": ..., "item": ..., "role_x_item": ...}, "raw_components": {...},
                          "ms_role": ..., "ms_role_x_item": ..., "f": ..., "p": ..., "k_items": 2, ...,
                          "keyed_reverse_r": ..., "profile": {"mean": ..., "ci_lo": ..., ...}}, ...},
     "acquiescence": {"per_condition": [...], "roles": {...}},
     "scoring_comparison": {"raw": {"Power": {"g": ..., "signal": ...}}, ...},
     "manipulation": [...], "summary": ["...", ...]}

Floats are rounded to 6 decimals; non-finite numbers are written as null.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lm_eval_values.measurement.bias import SCORINGS, apply_scoring, check_scoring
from lm_eval_values.measurement.intervals import IntervalSettings, value_profile
from lm_eval_values.measurement.manipulation import FLAG_RULES, ManipulationSettings, manipulation_checks
from lm_eval_values.measurement.reliability import (SIGNAL_RULE, GStudySettings, ValueReliability,
                                                 acquiescence_by_condition, acquiescence_study, g_study)
from lm_eval_values.measurement.table import NO_STEERING, read_items, role_label
from lm_eval_values.core.atomic import atomic_write_json, check_output_dir
from lm_eval_values.core.errors import settings_dict
from lm_eval_values.core.files import RELIABILITY_FILE
from lm_eval_values.results.reliability import RELIABILITY_FORMAT

FORMAT = RELIABILITY_FORMAT
UNITS = ("respondents are the unsteered role conditions (steering_id none), each role once: repeated conditions "
         "of a role (the no-role condition in both splits, several seeds) and the answer formats of an item (both "
         "option orders of a counterbalanced sweep) are averaged per item; steered rows are "
         "interventions, used only by the manipulation checks (paired with the same role unsteered); items are "
         "a second random facet")


@dataclass(frozen=True)
class ReliabilitySettings:
    """Settings of :func:`run_reliability`.

    Attributes:
        scoring: response-bias scoring choice applied first (see :data:`~lm_eval_values.measurement.bias.SCORINGS`).
        score_metric: per-sample metric used as item score when reading lm-eval samples (None: auto).
        g_study / intervals / manipulation: settings of the parts.
        compare_scorings: also report G and the verdict per value under every scoring choice.
        manipulation_checks: run the steering manipulation checks (when steered rows exist).
    """

    scoring: str = "raw"
    score_metric: str | None = None
    g_study: GStudySettings = field(default_factory=GStudySettings)
    intervals: IntervalSettings = field(default_factory=IntervalSettings)
    manipulation: ManipulationSettings = field(default_factory=ManipulationSettings)
    compare_scorings: bool = True
    manipulation_checks: bool = True

    def __post_init__(self) -> None:
        check_scoring(self.scoring, "reliability.scoring")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {"scoring": self.scoring, "score_metric": self.score_metric, "g_study": self.g_study.to_dict(),
                "intervals": self.intervals.to_dict(), "manipulation": self.manipulation.to_dict(),
                "compare_scorings": self.compare_scorings, "manipulation_checks": self.manipulation_checks}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ReliabilitySettings":
        """Inverse of :meth:`to_dict` (unknown keys are refused)."""
        d = settings_dict(d, sorted({"scoring", "score_metric", "g_study", "intervals", "manipulation",
                                     "compare_scorings", "manipulation_checks"}), "reliability")
        parts = {"g_study": GStudySettings, "intervals": IntervalSettings, "manipulation": ManipulationSettings}
        for key, kind in parts.items():
            if key in d:
                d[key] = kind.from_dict(d[key] or {})
        return cls(**d)


def clean_json(x: Any) -> Any:
    """Floats rounded to 6 decimals (non-finite -> None), numpy scalars unwrapped, recursively."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return round(f, 6) + 0.0 if math.isfinite(f) else None
    if isinstance(x, dict):
        return {str(k): clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean_json(v) for v in x]
    return x


def _value_entry(r: ValueReliability, profile: dict[str, Any] | None) -> dict[str, Any]:
    c = r.components
    entry: dict[str, Any] = {"g": r.g, "phi": r.phi, "signal": r.signal, "verdict": r.verdict,
                             "g_one_item": r.g_one_item, "items_for_g_target": r.items_for_g_target,
                             "keyed_reverse_r": r.keyed_reverse_r, "n_keyed_items": r.n_keyed_items,
                             "n_reverse_items": r.n_reverse_items, "profile": profile}
    if c is None:
        return {**entry, "design": None, "components": None}
    return {**entry, "design": c.design, "estimator": c.estimator, "n_roles": c.n_roles, "n_items": c.n_items,
            "n_cells": c.n_cells, "k_items": c.items_per_role,
            "components": {"role": c.role, "item": c.item, "role_x_item": c.residual},
            "raw_components": c.raw, "ms_role": c.ms_role, "df_role": c.df_role, "ms_item": c.ms_item,
            "df_item": c.df_item, "ms_role_x_item": c.ms_residual, "df_role_x_item": c.df_residual,
            "f": c.f, "p": c.p}


def _summary(values: dict[str, ValueReliability], acq: dict[str, Any], manip: list[dict[str, Any]]) -> list[str]:
    lines = []
    for v, r in values.items():
        lines.append(f"{v}: G = {'n/a' if r.g is None else f'{r.g:.2f}'}; {r.verdict}")
    n_sig = sum(r.signal for r in values.values())
    lines.append(f"{n_sig} of {len(values)} values carry between-role signal")
    rs = [r.keyed_reverse_r for r in values.values() if r.keyed_reverse_r is not None]
    if rs:
        lines.append(f"keyed vs reverse-keyed item means across roles: median r = {float(np.median(rs)):+.2f} "
                     f"({min(rs):+.2f} to {max(rs):+.2f}; near -1 = a yes/no bias, not values)")
    if acq.get("components"):
        c = acq["components"]
        lines.append(f"acquiescence (mean unkeyed answer over roles) {acq['mean']:+.2f}; roles "
                     f"{'differ' if acq['roles_differ'] else 'do not differ'} in it "
                     f"(F = {c['f']:.3g}, p = {c['p']:.2g})")
    for s in manip:
        lines.extend(s["words"])
    return lines


def analyse_items(items: pd.DataFrame, settings: ReliabilitySettings = ReliabilitySettings(),
                  source: str = "") -> dict[str, Any]:
    """The analysis of a checked item table as a JSON-able dict (what :func:`run_reliability` writes)."""
    scored, record = apply_scoring(items, settings.scoring, settings.g_study.include_no_role)
    values = g_study(scored, settings.g_study)
    profile = value_profile(scored, settings.intervals, settings.g_study.estimator).set_index("value")
    acq_rows = acquiescence_by_condition(items)
    acq = {"definition": "mean unkeyed answer (score x agreement) over all items of a condition; +1 = yes to all",
           "per_condition": [{**row, "role": role_label(row["role_id"])}
                             for row in acq_rows.to_dict(orient="records")],
           "roles": acquiescence_study(items, settings.g_study)}
    comparison: dict[str, Any] = {}
    if settings.compare_scorings:
        for name in SCORINGS:
            alt = values if name == settings.scoring else g_study(
                apply_scoring(items, name, settings.g_study.include_no_role)[0], settings.g_study)
            comparison[name] = {v: {"g": r.g, "signal": r.signal, "f": r.components.f if r.components else None}
                                for v, r in alt.items()}
    steered = bool((items["steering_id"] != NO_STEERING).any())
    manip = (manipulation_checks(scored, settings.manipulation, items)
             if settings.manipulation_checks and steered else [])
    roles = sorted(scored.loc[scored["steering_id"] == NO_STEERING, "role_id"].unique())
    if not settings.g_study.include_no_role:
        roles = [r for r in roles if r]
    g = settings.g_study
    return clean_json({
        "format": FORMAT, "version": 1, "source": source, "settings": settings.to_dict(), "units": UNITS,
        "rule": {"text": SIGNAL_RULE, "alpha": g.alpha, "g_floor": g.g_floor,
                 "g": "var_role / (var_role + var_role_x_item / k), k = items per value score",
                 "phi": "var_role / (var_role + (var_item + var_role_x_item) / k)"},
        "scoring": record.to_dict(), "formats": sorted(map(str, items["format"].unique())),
        "n_roles": len(roles), "roles": [role_label(r) for r in roles],
        "values": {v: _value_entry(r, profile.loc[v].to_dict() if v in profile.index else None)
                   for v, r in values.items()},
        "acquiescence": acq, "scoring_comparison": comparison, "manipulation": manip,
        "manipulation_flag_rules": FLAG_RULES if manip else {},
        "summary": _summary(values, acq["roles"], manip)})


def run_reliability(source: str | Path | pd.DataFrame, settings: ReliabilitySettings = ReliabilitySettings(),
                    out: str | Path | None = None, label: str | None = None) -> dict[str, Any]:
    """Analyse ``source`` (a sweep folder, an ``items.csv``, plain ``lm_eval --log_samples`` folders, or a
    checked item frame) and, when ``out`` is given, write ``out/reliability.json``. Returns the result.

    ``label`` names the source in the file (default: the path given); the study and
    ``reliability --study`` use ``<model id>/sweep`` so that both write the same bytes.

    Raises:
        UserError: unreadable or unsuitable input, or an unwritable ``out`` (checked before any work).
    """
    if out is not None:
        check_output_dir(out, "--out")
    if isinstance(source, pd.DataFrame):
        items, where = source, "items"
    else:
        items, where = read_items(source, settings.score_metric), str(source)
    result = analyse_items(items, settings, where if label is None else label)
    if out is not None:
        atomic_write_json(Path(out) / RELIABILITY_FILE, result)
    return result
