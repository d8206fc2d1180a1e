"""Steering manipulation checks: did the designed target move, the intended way, more than the rest?

For each steered setting (steering id) and dose (coefficient), the change of every item is
paired by role: the role's keyed item score steered minus the same role's unsteered score on the
same item (each role once; unit of analysis: roles, with items as a second random facet).

* ``target_change``: mean change of the designed target value's items;
* ``specificity``: target change minus the median change of the other values;
* ``acquiescence_shift``: mean change of the UNKEYED answers (``change x agreement``) over all
  items: a yes/no-bias shift, which balanced keys hide in value means;
* intervals: two-way (pigeonhole) bootstrap over roles AND items (items within their (value, key)
  stratum; rescaled n - 1 draws, see :mod:`lm_eval_values.measurement.intervals`), percentile
  intervals; ``item_sampling`` says per value whether item sampling could be included (not with a
  single item per key).

The designed target: ``settings.targets`` (steering id -> value) when given, else the value a
steering id names after its kind (``prompt:Power``, ``vec:Power`` -> Power); otherwise (e.g.
``sae:1085``) the target is *unknown* and labelled so. The designed direction is the sign of the
coefficient (prompts: +1 inclined, -1 disinclined).

Flags per dose (:data:`FLAG_RULES`), in words: ``wrong-signed``, ``no-effect``, ``non-specific``,
``bias-only``, ``target unknown``, or ``ok`` when none applies. Across doses (the unsteered
condition counts as dose 0, change 0): Spearman's rho of target change on coefficient, the share
of doses whose change has the coefficient's sign, monotonicity, and ``direction ignored`` when
negative and positive doses move the target the same way (a V-shaped dose response).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from lm_eval_values.measurement.intervals import (bootstrap_weights, item_strata, percentile_interval,
                                               weighted_group_means)
from lm_eval_values.measurement.table import (NO_STEERING, cell_matrix, item_info, respondent_cells,
                                           steered_settings)
from lm_eval_values.core.errors import UserError, settings_dict
from lm_eval_values.matrix.tables import order_values

FLAG_RULES: dict[str, str] = {
    "wrong-signed": "the target's change, oriented by the coefficient's sign, has its whole interval below 0",
    "no-effect": "the target's oriented change has an interval that includes 0",
    "non-specific": "the target moved the intended way, but the oriented specificity's interval includes or "
                    "lies below 0 (other values moved as much)",
    "bias-only": "the acquiescence shift's interval excludes 0 and |acquiescence shift| > |specificity| "
                 "(for an unknown target: > the largest |value change - median of the others|)",
    "target unknown": "the setting names no value and none was given",
    "ok": "none of the above",
}


@dataclass(frozen=True)
class ManipulationSettings:
    """Settings of the manipulation checks.

    Attributes:
        level: interval level.
        n_boot: bootstrap replicates per (setting, dose).
        seed: bootstrap seed (each (setting, dose) draws from ``[seed, crc32(id@coef)]``).
        rescaled: draw n - 1 of n roles / items per replicate.
        strata: ``key``: resample items within (value, key) strata; ``none``: within value.
        targets: (steering id, value) pairs naming designed targets the ids do not name.
        include_no_role: count the model without a role as a respondent.
    """

    level: float = 0.95
    n_boot: int = 2000
    seed: int = 0
    rescaled: bool = True
    strata: str = "key"
    targets: tuple[tuple[str, str], ...] = ()
    include_no_role: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.level, (int, float)) or not 0.5 <= float(self.level) < 1.0:
            raise UserError("manipulation.level", f"{self.level!r} is not in [0.5, 1)", "use e.g. 0.95")
        if not isinstance(self.n_boot, int) or self.n_boot < 100:
            raise UserError("manipulation.n_boot", f"{self.n_boot!r} is below 100", "use e.g. 2000")
        if self.strata not in ("key", "none"):
            raise UserError("manipulation.strata", f"unknown strata {self.strata!r}", "use key or none")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (``targets`` as a mapping)."""
        return {"level": self.level, "n_boot": self.n_boot, "seed": self.seed, "rescaled": self.rescaled,
                "strata": self.strata, "targets": dict(self.targets), "include_no_role": self.include_no_role}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ManipulationSettings":
        """Inverse of :meth:`to_dict` (unknown keys are refused)."""
        d = settings_dict(d, sorted({"level", "n_boot", "seed", "rescaled", "strata", "targets", "include_no_role"}),
                          "manipulation")
        targets = d.pop("targets", {}) or {}
        if not isinstance(targets, dict):
            raise UserError("manipulation.targets", "must map steering ids to value names", 'e.g. {"sae:1085": "Power"}')
        return cls(**d, targets=tuple(sorted((str(k), str(v)) for k, v in targets.items())))


def designed_target(steering_id: str, values: list[str], targets: dict[str, str]) -> tuple[str | None, str]:
    """(target value or None, how it is known: ``given``, ``named in the id`` or ``unknown``)."""
    if steering_id in targets:
        if targets[steering_id] not in values:
            raise UserError("targets", f"target {targets[steering_id]!r} of {steering_id!r} is not a measured value",
                            f"use one of: {', '.join(values)}")
        return targets[steering_id], "given"
    tail = steering_id.split(":", 1)[-1] if ":" in steering_id else ""
    return (tail, "named in the id") if tail in values else (None, "unknown")


def _est(point: float, lo: float, hi: float) -> dict[str, float]:
    return {"estimate": point, "lo": lo, "hi": hi}


def _paired_changes(items: pd.DataFrame, steering_id: str, coefficient: float,
                    include_no_role: bool) -> pd.DataFrame:
    base = respondent_cells(items, NO_STEERING, include_no_role=include_no_role)
    steered = respondent_cells(items, steering_id, coefficient, include_no_role=include_no_role)
    both = steered.merge(base[["role_id", "item_id", "score"]], on=["role_id", "item_id"], suffixes=("", "_base"))
    return both.assign(score=both["score"] - both["score_base"]).drop(columns="score_base")


def dose_check(items: pd.DataFrame, steering_id: str, coefficient: float, values: list[str],
               settings: ManipulationSettings, raw_items: pd.DataFrame | None = None) -> dict[str, Any]:
    """The manipulation check of one (setting, dose) (see the module docstring).

    ``raw_items``: the table before a bias-control scoring, from which the acquiescence shift is
    taken (a scoring such as ``acquiescence_residualized`` removes it from ``items`` by design).
    """
    target, source = designed_target(steering_id, values, dict(settings.targets))
    cells = _paired_changes(items, steering_id, coefficient, settings.include_no_role)
    out: dict[str, Any] = {"coefficient": coefficient, "target": target, "n_roles": int(cells["role_id"].nunique()),
                           "n_items": int(cells["item_id"].nunique())}
    if out["n_roles"] < 2:
        return {**out, "flags": ["not estimable"], "note": "fewer than 2 roles answered both steered and unsteered"}
    info = item_info(cells)
    names = order_values(info["value"].unique())
    codes = info["value"].map({v: j for j, v in enumerate(names)}).to_numpy()
    d = cell_matrix(cells).reindex(columns=info.index).to_numpy(dtype=float)
    if raw_items is not None:
        raw = cell_matrix(_paired_changes(raw_items, steering_id, coefficient, settings.include_no_role))
        d_raw = raw.reindex(index=cell_matrix(cells).index, columns=info.index).to_numpy(dtype=float)
    else:
        d_raw = d
    u = d_raw * info["agreement"].to_numpy(dtype=float)[None, :]
    rng = np.random.default_rng([settings.seed, zlib.crc32(f"{steering_id}@{coefficient!r}".encode())])
    keys = info["agreement"].to_numpy()
    strata, fixed, notes = item_strata(np.isfinite(d), codes, keys, settings.strata)
    w_r, w_i = bootstrap_weights(d.shape[0], strata, settings.n_boot, rng, frozenset(fixed), settings.rescaled)
    out["item_sampling"] = {names[j]: note for j, note in sorted(notes.items())}
    ones_r, ones_i = np.ones((1, d.shape[0])), np.ones((1, d.shape[1]))
    zeros = np.zeros(codes.size, dtype=int)
    vals = np.vstack([weighted_group_means(d, codes, len(names), ones_r, ones_i), weighted_group_means(
        d, codes, len(names), w_r, w_i)])
    acq = np.concatenate([weighted_group_means(u, zeros, 1, ones_r, ones_i)[:, 0],
                          weighted_group_means(u, zeros, 1, w_r, w_i)[:, 0]])
    level = settings.level
    a_lo, a_hi = percentile_interval(acq[1:, None], level)
    out["acquiescence_shift"] = _est(float(acq[0]), float(a_lo[0]), float(a_hi[0]))
    out["value_changes"] = {v: float(vals[0, j]) for j, v in enumerate(names)}
    direction = 0.0 if not math.isfinite(coefficient) else float(np.sign(coefficient))
    out["direction"] = direction
    flags: list[str] = []
    if target is None or target not in names:
        spec_all = vals - np.stack([np.median(np.delete(vals, j, axis=1), axis=1) for j in range(len(names))], axis=1)
        biggest = int(np.argmax(np.abs(spec_all[0])))
        out["largest_specific_change"] = {"value": names[biggest], "specificity": float(spec_all[0, biggest])}
        flags.append("target unknown")
        acq_sig = a_lo[0] > 0 or a_hi[0] < 0
        if acq_sig and abs(acq[0]) > float(np.max(np.abs(spec_all[0]))):
            flags.append("bias-only")
        out["flags"] = flags
        out["target_source"] = source if target is None else "not measured"
        return out
    t = names.index(target)
    others = np.delete(vals, t, axis=1)
    median_other = np.median(others, axis=1) if others.shape[1] else np.zeros(vals.shape[0])
    spec = vals[:, t] - median_other
    t_lo, t_hi = percentile_interval(vals[1:, t:t + 1], level)
    s_lo, s_hi = percentile_interval(spec[1:, None], level)
    out.update(target_source=source, target_change=_est(float(vals[0, t]), float(t_lo[0]), float(t_hi[0])),
               median_other_change=float(median_other[0]),
               specificity=_est(float(spec[0]), float(s_lo[0]), float(s_hi[0])))
    sgn = direction if direction != 0 else 1.0
    o_lo, o_hi = sorted((sgn * t_lo[0], sgn * t_hi[0]))
    so_lo = min(sgn * s_lo[0], sgn * s_hi[0])
    if o_hi < 0:
        flags.append("wrong-signed")
    elif o_lo <= 0:
        flags.append("no-effect")
    elif so_lo <= 0:
        flags.append("non-specific")
    if (a_lo[0] > 0 or a_hi[0] < 0) and abs(acq[0]) > abs(spec[0]):
        flags.append("bias-only")
    out["flags"] = flags or ["ok"]
    return out


def dose_summary(doses: list[dict[str, Any]]) -> dict[str, Any]:
    """Across doses of one setting: Spearman rho, sign agreement, monotonicity, flags."""
    known = [d for d in doses if "target_change" in d and math.isfinite(d["coefficient"])]
    out: dict[str, Any] = {"spearman_rho": None, "sign_agreement": None, "monotonic": None}
    flags = sorted({f for d in doses for f in d.get("flags", []) if f != "ok"})
    if known:
        pts = sorted([(0.0, 0.0)] + [(d["coefficient"], d["target_change"]["estimate"]) for d in known
                                     if d["coefficient"] != 0])
        xs, ys = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
        if len(pts) >= 3 and np.ptp(ys) > 0:
            out["spearman_rho"] = float(spearmanr(xs, ys).statistic)
        nz = [(x, y) for x, y in pts if x != 0]
        out["sign_agreement"] = float(np.mean([np.sign(y) == np.sign(x) for x, y in nz])) if nz else None
        out["monotonic"] = bool(np.all(np.diff(ys) >= 0))
        if not out["monotonic"]:
            flags.append("non-monotonic")
        neg, pos = ys[xs < 0], ys[xs > 0]
        if neg.size and pos.size and np.sign(neg.mean()) == np.sign(pos.mean()) != 0:
            flags.append("direction ignored")
    out["flags"] = flags or ["ok"]
    return out


def _iv(e: dict[str, Any]) -> str:
    return f"{e['estimate']:+.3f} [{e['lo']:+.3f}, {e['hi']:+.3f}]"


#: what each flag means, as a clause of the sentence of a dose
_FLAG_CLAUSES = {
    "bias-only": "the yes-bias moved more than {t} specifically",
    "wrong-signed": "{t} moved against the coefficient's sign",
    "no-effect": "{t}'s interval includes 0",
    "non-specific": "the other values moved as much as {t}",
}


def _words(sid: str, d: dict[str, Any]) -> str:
    """One dose's check as a sentence: flags first, then the numbers with their intervals."""
    head = f"{sid} at {d['coefficient']:+g}"
    order = ("wrong-signed", "bias-only", "non-specific", "no-effect", "ok")
    flags = sorted((f for f in d["flags"] if f != "target unknown"), key=lambda f: order.index(f) if f in order else 9)
    if "acquiescence_shift" not in d:
        return f"{head}: not estimable ({d.get('note', '')})"
    aq = _iv(d["acquiescence_shift"])
    if "target_change" not in d:
        big = d["largest_specific_change"]
        text = (f"{head}: no designed target (the setting names no value); it moved the yes-bias (acquiescence) by "
                f"{aq}; largest value-specific change {big['value']} {big['specificity']:+.3f}")
        return text + (" (bias-only: the yes-bias moved more than any value specifically)" if "bias-only" in flags
                       else "")
    t = d["target"]
    numbers = f"{t} by {_iv(d['target_change'])}, specificity {_iv(d['specificity'])}"
    if "bias-only" in flags:
        moved = f"it moved the yes-bias (acquiescence) by {aq} and {numbers}"
    else:
        moved = f"it moved {numbers}, and the yes-bias (acquiescence) by {aq}"
    why = "; ".join(_FLAG_CLAUSES[f].format(t=t) for f in flags if f in _FLAG_CLAUSES)
    scope = "" if d.get("item_sampling", {}).get(t) == "included" else \
        "; intervals over roles only: one item per key, item sampling not estimable"
    return f"{head}: {', '.join(flags)}: {moved}" + (f" ({why}{scope})" if why or scope else "")


def _dose_words(sid: str, target: str | None, doses: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """The dose-response of one setting as a sentence."""
    coefs = ", ".join(f"{d['coefficient']:+g}" for d in doses)
    if target is None:
        return f"{sid} across doses ({coefs}): no designed target, so direction and monotonicity are not checked"
    rho, agree = summary["spearman_rho"], summary["sign_agreement"]
    nums = ", ".join(x for x in ("" if rho is None else f"Spearman rho {rho:+.2f}",
                                 "" if agree is None else f"sign agreement {agree:.2f}") if x)
    notes = []
    if "direction ignored" in summary["flags"]:
        notes.append(f"direction ignored: negative and positive doses move {target} the same way (V-shaped)")
    if "non-monotonic" in summary["flags"]:
        notes.append(f"non-monotonic: {target} does not rise steadily with the dose")
    text = f"{sid} (target {target}) across doses ({coefs}, unsteered = 0): {nums or 'one dose'}"
    return text + ("; " + "; ".join(notes) if notes else "") + f"; flags: {', '.join(summary['flags'])}"


def manipulation_checks(items: pd.DataFrame, settings: ManipulationSettings = ManipulationSettings(),
                        raw_items: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """Per steered setting (first-seen order): target, per-dose checks (coefficient order), summary, words.

    ``raw_items``: the unscored table when ``items`` went through a bias-control scoring (the
    acquiescence shift is measured on it).
    """
    values = order_values(items["value"].unique())
    out: list[dict[str, Any]] = []
    by_id: dict[str, list[float]] = {}
    for sid, coef in steered_settings(items):
        by_id.setdefault(sid, []).append(coef)
    for sid, coefs in by_id.items():
        target, source = designed_target(sid, values, dict(settings.targets))
        doses = [dose_check(items, sid, c, values, settings, raw_items)
                 for c in sorted(coefs, key=lambda c: (math.isnan(c), c))]
        summary = dose_summary(doses)
        head = _dose_words(sid, target, doses, summary)
        out.append({"steering_id": sid, "target": target, "target_source": source, "doses": doses,
                    "summary": summary, "words": [_words(sid, d) for d in doses] + [head]})
    return out
