"""The side-effect stage: :func:`run_side_effects`, called by the study (``RUN/<model>/side_effects/``)
and by ``lm-eval-values side-effects`` alike.

Inputs are a training and a held-out value matrix: either one matrix split by its ``split`` column
(:meth:`SideEffectInputs.from_matrix`, the study's case) or two files
(:meth:`SideEffectInputs.from_pair`), optionally the item table (``items.csv`` of the sweep: the
AUROC intervals then resample items as well as roles) and the graph's descendant probabilities
(``descendant_probabilities.csv`` of the graph stage: a second predictor). Each dose of a steering
setting is its own intervention (steering id ``<id>@<coefficient>``). Files written into ``out``::

    result.json              # the record (lm_eval_values.results.side_effects.SideEffectsResult)
    study_metric.json        # the study's Expected / Unexpected co-change metric per kind of change and graph
    heldout.json, heldout_auroc.csv, heldout_pairs.csv, heldout_pvalues.csv   # the held-out prediction

Settings (the study's ``side_effects:`` section and :meth:`SideEffectsSettings.to_dict`)::

    fdr: 0.05               # FDR level of the held-out changes
    n_random: 100           # degree-preserving random graphs
    policy: possible        # how non-directed edges are read for descendants
    heldout_split: test     # held-out rows (one matrix)
    train_split: train      # training rows (one matrix; the study: the graph's split; null = all)
    tol: 0                  # a change counts when |D| > tol (the study metric with tol 0 on continuous
                            # scores is degenerate: every change counts; it is marked so)
    centering: none         # none | median | mrat: remove each change vector's common shift
    keep_steer: null        # steering (dose) ids evaluated (null = every steered held-out setting)
    metric_role: ""         # role whose steering changes feed the study metric ("" = no role)
    baseline_role: null     # baseline of the role-prompting changes (null = first named role)
    targets: {}             # designed targets the ids do not name: {steering id or id@coef: value}
    target_rule: designed   # designed (given or named in the id, else unknown: reported, left out)
                            # | moved-most (the study's rule: the value moved most on training rows, labelled)
    n_boot: 1000            # two-way bootstrap replicates of the AUROC intervals (0 = none)
    level: 0.95             # interval level
    power_effects: [0.5, 1.0]   # standardized effects whose power is reported before testing
    seed: 0                 # random-graph and bootstrap seed (the study's top-level seed)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from lm_eval_values.analysis.heldout import HeldoutResult, heldout_evaluation
from lm_eval_values.analysis.side_effects_power import DEFAULT_EFFECTS
from lm_eval_values.analysis.side_effects_targets import base_steering_id, check_target_rule, parse_target_items
from lm_eval_values.analysis.side_effects import (CENTERINGS, center_changes, cochange_frequencies, descendant_sets,
                                                  role_changes, steering_changes, study_side_effects)
from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.causal.stage_settings import DEFAULT_POLICY
from lm_eval_values.core.atomic import atomic_write_files, check_output_dir
from lm_eval_values.core.conditions import NO_ROLE, NO_STEERING
from lm_eval_values.core.errors import UserError, settings_dict
from lm_eval_values.core.files import RESULT_FILE
from lm_eval_values.matrix.selection import RowSelection, with_dose_ids
from lm_eval_values.matrix.value_matrix import ValueMatrix
from lm_eval_values.results.records import ANALYSIS_ERRORS, json_bytes, skip_reason
from lm_eval_values.results.side_effects import HeldoutRecord, SideEffectsResult

POLICIES = ("study", "possible", "directed")
_KEYS = ("fdr", "n_random", "policy", "heldout_split", "train_split", "tol", "centering", "keep_steer",
         "metric_role", "baseline_role", "targets", "target_rule", "n_boot", "level", "power_effects", "seed")
#: share of changed cells at which the study's metric says nothing about the graph
DEGENERATE_SHARE = 0.95


@dataclass(frozen=True)
class SideEffectsSettings:
    """Settings of the side-effect stage (see the module docstring for the keys)."""

    fdr: float = 0.05
    n_random: int = 100
    policy: str = DEFAULT_POLICY
    heldout_split: str = "test"
    train_split: str | None = "train"
    tol: float = 0.0
    centering: str = "none"
    keep_steer: tuple[str, ...] | None = None
    metric_role: str = NO_ROLE
    baseline_role: str | None = None
    targets: tuple[tuple[str, str], ...] = ()
    target_rule: str = "designed"
    n_boot: int = 1000
    level: float = 0.95
    power_effects: tuple[float, ...] = DEFAULT_EFFECTS
    seed: int = 0

    def __post_init__(self) -> None:
        f = self.fdr
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1:
            raise UserError("side_effects.fdr", f"must be a number in (0, 1), got {f!r}", "e.g. 0.05")
        for key, minimum in (("n_random", 0), ("seed", 0), ("n_boot", 0)):
            x = getattr(self, key)
            if isinstance(x, bool) or not isinstance(x, int) or x < minimum:
                raise UserError(f"side_effects.{key}", f"must be an integer >= {minimum}, got {x!r}", "e.g. 100")
        t = self.tol
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (t >= 0 and math.isfinite(t)):
            raise UserError("side_effects.tol", f"must be a number >= 0, got {t!r}", "e.g. 0 (the study) or 0.01")
        for key, options in (("policy", POLICIES), ("centering", CENTERINGS)):
            if getattr(self, key) not in options:
                raise UserError(f"side_effects.{key}", f"unknown value {getattr(self, key)!r}",
                                f"use one of: {', '.join(options)}")
        for key in ("heldout_split", "metric_role"):
            if not isinstance(getattr(self, key), str):
                raise UserError(f"side_effects.{key}", f"{getattr(self, key)!r} is not text", "give a name")
        for key in ("train_split", "baseline_role"):
            if getattr(self, key) is not None and not isinstance(getattr(self, key), str):
                raise UserError(f"side_effects.{key}", f"{getattr(self, key)!r} is not text", "give a name or null")
        check_target_rule(self.target_rule, "side_effects.target_rule")
        lv = self.level
        if isinstance(lv, bool) or not isinstance(lv, (int, float)) or not 0.5 <= lv < 1:
            raise UserError("side_effects.level", f"must be a number in [0.5, 1), got {lv!r}", "e.g. 0.95")
        eff = self.power_effects
        if isinstance(eff, (str, bytes)) or not all(isinstance(e, (int, float)) and not isinstance(e, bool)
                                                    and math.isfinite(e) and e > 0 for e in eff):
            raise UserError("side_effects.power_effects", f"must be a list of positive numbers, got {eff!r}",
                            "e.g. [0.5, 1.0]")
        object.__setattr__(self, "power_effects", tuple(float(e) for e in eff))
        object.__setattr__(self, "targets", parse_target_items(dict(self.targets), "side_effects.targets"))
        object.__setattr__(self, "level", float(self.level))
        object.__setattr__(self, "keep_steer", RowSelection(None, self.keep_steer).steering)
        object.__setattr__(self, "tol", float(self.tol))
        object.__setattr__(self, "fdr", float(self.fdr))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the study config's keys."""
        d = asdict(self)
        d["keep_steer"] = None if self.keep_steer is None else list(self.keep_steer)
        d["targets"] = dict(self.targets)
        d["power_effects"] = list(self.power_effects)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base: "SideEffectsSettings | None" = None) -> "SideEffectsSettings":
        """Settings from the keys given; others keep ``base``'s values (default: the defaults)."""
        merged = {**(base or cls()).to_dict(), **settings_dict(d, _KEYS, "side_effects")}
        keep = merged["keep_steer"]
        if keep is not None and (isinstance(keep, str) or not isinstance(keep, (list, tuple))):
            raise UserError("side_effects.keep_steer", f"must be a list of steering ids, got {keep!r}", "e.g. [vec:Power@0.5]")
        merged["keep_steer"] = None if keep is None else tuple(str(s) for s in keep)
        targets = merged["targets"] if merged["targets"] is not None else {}
        if not isinstance(targets, Mapping):
            raise UserError("side_effects.targets", f"must map steering ids to values, got {targets!r}",
                            "e.g. {'sae:1085': Power}")
        merged["targets"] = parse_target_items(targets, "side_effects.targets")
        eff = merged["power_effects"]
        if isinstance(eff, (int, float)) and not isinstance(eff, bool):
            eff = [eff]
        if not isinstance(eff, (list, tuple)):
            raise UserError("side_effects.power_effects", f"must be a list of numbers, got {eff!r}", "e.g. [0.5, 1.0]")
        merged["power_effects"] = tuple(eff)
        for key in ("heldout_split", "train_split", "metric_role", "baseline_role"):
            if isinstance(merged[key], (int, float)) and not isinstance(merged[key], bool):
                merged[key] = str(merged[key])
        return cls(**merged)


@dataclass
class SideEffectInputs:
    """Training and held-out rows (steering ids with doses)."""

    train: ValueMatrix
    heldout: ValueMatrix
    rows: dict[str, Any] = field(default_factory=dict)
    items: pd.DataFrame | None = None
    items_split: str | None = None

    @classmethod
    def from_matrix(cls, vm: ValueMatrix, settings: SideEffectsSettings,
                    items: pd.DataFrame | None = None) -> "SideEffectInputs":
        """One matrix: training rows of ``train_split`` (every row when None), held-out rows of ``heldout_split``;
        ``items``: the matrix's item table (its held-out rows are used)."""
        vm = with_dose_ids(vm)
        train = vm.filter(split=settings.train_split) if settings.train_split is not None else vm
        held = vm.filter(split=settings.heldout_split)
        return cls(train, held, {"source": "one matrix", "train": _part(train, settings.train_split),
                                 "heldout": _part(held, settings.heldout_split), "items": items is not None},
                   items, settings.heldout_split)

    @classmethod
    def from_pair(cls, train: ValueMatrix, heldout: ValueMatrix,
                  items: pd.DataFrame | None = None) -> "SideEffectInputs":
        """Two matrices: every row of each; ``items``: the held-out matrix's item table."""
        t, h = with_dose_ids(train), with_dose_ids(heldout)
        return cls(t, h, {"source": "two matrices", "train": _part(t, None), "heldout": _part(h, None),
                          "items": items is not None}, items)


def _part(vm: ValueMatrix, split: str | None) -> dict[str, Any]:
    return {"split": split, "n_rows": vm.n_rows, "n_roles": len(vm.role_ids), "steering_ids": vm.steering_ids}


@dataclass
class SideEffectsRun:
    """What :func:`run_side_effects` computed (the files are written already when ``out`` was given)."""

    result: SideEffectsResult
    heldout: HeldoutResult | None
    files: dict[str, bytes]


def degeneracy(changes: pd.DataFrame, tol: float) -> dict[str, Any]:
    """Whether the study's metric can say anything: when (nearly) every cell counts as a change, every
    co-change frequency is (nearly) 1 and Expected = Unexpected whatever the graph."""
    cells = changes.to_numpy(dtype=float)
    cells = cells[np.isfinite(cells)]
    share = float(np.mean(np.abs(cells) > tol)) if cells.size else math.nan
    out: dict[str, Any] = {"changed_share": share, "degenerate": bool(cells.size and share >= DEGENERATE_SHARE)}
    if out["degenerate"]:
        out["degenerate_reason"] = (f"{share:.0%} of the {cells.size} changes exceed tol = {tol:g}"
                                    + (" (continuous scores: almost every difference is non-zero)" if tol == 0 else "")
                                    + ": co-change frequencies are all near 1 and Expected and Unexpected cannot "
                                    "differ whatever the graph; raise tol above the noise of a change")
    return out


def _metric_entry(changes: pd.DataFrame, graphs: Mapping[str, ValueGraph], values: list[str],
                  settings: SideEffectsSettings) -> dict[str, Any]:
    changes = center_changes(changes, settings.centering)
    co = cochange_frequencies(changes, settings.tol)
    return {"n_rows": int(changes.shape[0]), **degeneracy(changes, settings.tol),
            "cochange": {str(v): {str(w): co.loc[v, w] for w in co.columns} for v in co.index},
            "graphs": {name: study_side_effects(changes, descendant_sets(g, values, settings.policy),
                                                settings.tol).to_json() for name, g in graphs.items()}}


def study_metric(inputs: SideEffectInputs | None, graphs: Mapping[str, ValueGraph], settings: SideEffectsSettings,
                 changes: pd.DataFrame | None = None) -> dict[str, Any]:
    """The study's metric on role-prompting changes, steering changes of ``metric_role`` and given changes.

    Changes are read from the held-out rows (the training rows when there are none, or when the
    metric role is only there).
    """
    out: dict[str, Any] = {}
    if inputs is None:
        if changes is not None:
            out["given changes"] = _metric_entry(changes, graphs, list(changes.columns), settings)
        return out
    held, train = inputs.heldout, inputs.train
    values = (held if held.n_rows else train).values
    src = held if held.n_rows else train
    try:
        out["role prompting"] = _metric_entry(role_changes(src, settings.baseline_role), graphs, values, settings)
    except ANALYSIS_ERRORS as exc:
        out["role prompting"] = {"skipped_reason": skip_reason(exc)}
    role = settings.metric_role
    kind = "steering (no role)" if role == NO_ROLE else f"steering ({role})"
    try:
        src = held if held.n_rows and role in held.role_ids else train
        sc = steering_changes(src, role, settings.keep_steer and [s for s in settings.keep_steer if s != NO_STEERING])
        out[kind] = _metric_entry(sc, graphs, values, settings)
    except ANALYSIS_ERRORS as exc:
        out[kind] = {"skipped_reason": skip_reason(exc)}
    if changes is not None:
        out["given changes"] = _metric_entry(changes, graphs, list(changes.columns), settings)
    return out


def _check_steering(inputs: SideEffectInputs | None, settings: SideEffectsSettings) -> None:
    if settings.keep_steer is None or inputs is None:
        return
    have = set(inputs.heldout.steering_ids) | set(inputs.train.steering_ids)
    unknown = [s for s in settings.keep_steer if s not in have]
    if unknown:
        raise UserError("--keep-steer", f"unknown steering id(s) {unknown}",
                        f"use some of (each dose is id@coefficient): {', '.join(sorted(have)[:30])}")


def _evaluated_ids(settings: SideEffectsSettings, heldout: ValueMatrix) -> list[str] | None:
    """``keep_steer`` as held-out dose ids (a plain id keeps every dose of its setting); None: every setting."""
    if settings.keep_steer is None:
        return None
    want = [s for s in settings.keep_steer if s != NO_STEERING]
    have = [s for s in heldout.steering_ids if s != NO_STEERING]
    out = [s for s in have if s in want or base_steering_id(s) in want]
    missing = [w for w in want if w not in have and not any(base_steering_id(s) == w for s in have)]
    if missing:
        raise UserError("--keep-steer", f"steering id(s) {missing} have no held-out rows",
                        f"use some of: {', '.join(have[:30])}")
    return out


def run_side_effects(inputs: SideEffectInputs | None, graphs: Mapping[str, ValueGraph],
                     settings: SideEffectsSettings | None = None, out: str | Path | None = None,
                     changes: pd.DataFrame | None = None,
                     probabilities: pd.DataFrame | None = None) -> SideEffectsRun:
    """The study's metric and the held-out prediction for every graph (the first is the learned one; its
    descendant ``probabilities`` over bootstrap resamples, when given, are a second predictor) and
    (with ``out``) the stage's files, written all-or-nothing.

    Parts that the data cannot support (no held-out rows, no steered setting in both parts, ...) are
    recorded with their reason; bad settings raise :class:`UserError` before anything is computed.
    Without ``inputs`` only the study's metric of the given ``changes`` (rows = interventions,
    columns = values) is computed.
    """
    settings = settings or SideEffectsSettings()
    if out is not None:
        check_output_dir(out, "--out")
    if not graphs:
        raise UserError("--graph", "no graph to evaluate", "give the learned graph")
    _check_steering(inputs, settings)
    names = list(graphs)
    metric = study_metric(inputs, graphs, settings, changes)
    files: dict[str, bytes] = {"study_metric.json": json_bytes(metric)}
    ho, reason = None, None
    try:
        if inputs is None:
            raise UserError("--heldout", "no value matrices given", "give --matrix, or --train and --heldout")
        if not inputs.heldout.n_rows:
            raise UserError("side_effects.heldout_split", f"no held-out rows (split {settings.heldout_split!r})",
                            "add test roles (roles.generate.test) or give --heldout")
        dg = {name: g.to_digraph(settings.policy) for name, g in graphs.items()}
        ho = heldout_evaluation(dg[names[0]], inputs.train, inputs.heldout,
                                reference={k: v for k, v in dg.items() if k != names[0]}, q=settings.fdr,
                                n_random=settings.n_random, seed=settings.seed,
                                steering_ids=_evaluated_ids(settings, inputs.heldout),
                                centering=settings.centering, tol=settings.tol, targets=settings.targets,
                                target_rule=settings.target_rule, items=inputs.items, items_split=inputs.items_split,
                                probabilities=probabilities, n_boot=settings.n_boot, level=settings.level,
                                effects=settings.power_effects)
    except ANALYSIS_ERRORS as exc:
        ho, reason = None, skip_reason(exc)
    record = None
    if ho is not None:
        doc = ho.to_json()
        record = HeldoutRecord.from_dict(doc)
        files["heldout.json"] = json_bytes(doc)
        files["heldout_auroc.csv"] = ho.table.to_csv(index=False, float_format="%.4f").encode()
        files["heldout_pairs.csv"] = ho.per_condition.to_csv(index=False, float_format="%.4f").encode()
        files["heldout_pvalues.csv"] = ho.pvalues.to_csv(float_format="%.6g").encode()
    rows = inputs.rows if inputs is not None else {"source": "given changes", "n_rows": int(changes.shape[0])
                                                   if changes is not None else 0}
    result = SideEffectsResult(settings.to_dict(), rows, names, metric, record, reason)
    files[RESULT_FILE] = json_bytes(result.to_dict())
    if out is not None:
        atomic_write_files(out, files, "--out")
    return SideEffectsRun(result, ho, files)


__all__ = ["DEGENERATE_SHARE", "SideEffectInputs", "SideEffectsRun", "SideEffectsSettings", "degeneracy",
           "run_side_effects", "study_metric"]
