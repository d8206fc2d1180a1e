"""The human-comparison stage: :func:`run_compare_human`, called by the study (``RUN/<model>/human/``)
and by ``lm-eval-values compare-human`` alike.

The unit of analysis is a respondent: one row of the value matrix, i.e. a role condition (by default
its unsteered row; a condition run in two splits counts once). Files written into ``out``::

    result.json              # the record (lm_eval_values.results.human.HumanResult)
    compare_human.json       # every metric, the human figures next to the model's
    model_correlation.csv    # the model's value correlations (after centring)
    distance_curve.png, mds.png, correlations.png   # unless plots: false
    human_graph.json         # PC graph of the human correlations (unless causal: false)

Settings (the study's ``human:`` section and :meth:`HumanStageSettings.to_dict` use these keys)::

    centering: mrat            # mrat | none
    permutations: 10000        # RTHOR label permutations
    bootstrap: 1000            # row (role) bootstrap resamples for intervals (0 = off)
    alpha: 0.05                # PC level of the causal comparison
    convention: separate       # separate | shared (Tradition and Conformity share a wedge)
    items_per_value: equal     # equal | pvq40 | {Power: 3, ...}: weights of the MRAT item mean
    item_mean_column: null     # plain tables: a column holding each row's mean over all items
    rows: unsteered            # unsteered | all (keep_steer overrides)
    split: null                # rows of one split (null = every split)
    keep_steer: null           # steering ids to keep (id = every dose, id@coef = one dose)
    drop_incomplete: false     # drop rows with a missing Schwartz score
    causal: true               # PC graphs of model and humans compared
    plots: true
    seed: 0                    # permutation and bootstrap seed (the study's top-level seed)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from lm_eval_values.analysis.circumplex.compare import (HumanComparison, compare_causal_with_human, compare_with_human,
                                                        human_pc_graph)
from lm_eval_values.analysis.circumplex.inputs import item_mean_column, parse_items_per_value, select_rows
from lm_eval_values.analysis.circumplex.plots import render_plots
from lm_eval_values.analysis.circumplex.reference import CENTERINGS, CONVENTIONS, load_human_reference
from lm_eval_values.analysis.circumplex.scores import find_schwartz_columns, value_correlations
from lm_eval_values.causal.export import to_json_text
from lm_eval_values.core.atomic import atomic_write_files, check_output_dir
from lm_eval_values.core.conditions import NO_STEERING
from lm_eval_values.core.errors import UserError, settings_dict
from lm_eval_values.core.files import COMPARE_HUMAN_FILE, HUMAN_GRAPH_FILE, RESULT_FILE
from lm_eval_values.core.jsonable import json_ready
from lm_eval_values.matrix.selection import RowSelection
from lm_eval_values.matrix.value_matrix import ValueMatrix, require_rows
from lm_eval_values.results.human import HumanResult
from lm_eval_values.results.records import json_bytes
from lm_eval_values.values.names import SCHWARTZ_VALUES

ROWS = ("unsteered", "all")
_KEYS = ("centering", "permutations", "bootstrap", "alpha", "convention", "items_per_value", "item_mean_column",
         "rows", "split", "keep_steer", "drop_incomplete", "causal", "plots", "seed")


def _whole(x: Any, key: str, minimum: int) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < minimum:
        raise UserError(f"human.{key}", f"must be an integer >= {minimum}, got {x!r}", f"give a whole number >= {minimum}")
    return int(x)


@dataclass(frozen=True)
class HumanStageSettings:
    """Settings of the human comparison (see the module docstring for the keys)."""

    centering: str = "mrat"
    permutations: int = 10000
    bootstrap: int = 1000
    alpha: float = 0.05
    convention: str = "separate"
    items_per_value: str | Mapping[str, float] = "equal"
    item_mean_column: str | None = None
    rows: str = "unsteered"
    split: str | None = None
    keep_steer: tuple[str, ...] | None = None
    drop_incomplete: bool = False
    causal: bool = True
    plots: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        for key, options in (("centering", CENTERINGS), ("convention", CONVENTIONS), ("rows", ROWS)):
            if getattr(self, key) not in options:
                raise UserError(f"human.{key}", f"unknown value {getattr(self, key)!r}", f"use one of: {', '.join(options)}")
        _whole(self.permutations, "permutations", 1)
        _whole(self.bootstrap, "bootstrap", 0)
        _whole(self.seed, "seed", 0)
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 < a < 1:
            raise UserError("human.alpha", f"must be a number in (0, 1), got {a!r}", "e.g. 0.05")
        for key in ("drop_incomplete", "causal", "plots"):
            if not isinstance(getattr(self, key), bool):
                raise UserError(f"human.{key}", f"{getattr(self, key)!r} is not true/false", "use true or false")
        ipv = self.items_per_value
        if not (ipv in ("equal", "pvq40") or isinstance(ipv, (str, Mapping))):
            raise UserError("human.items_per_value", f"{ipv!r}", "use equal, pvq40 or {Power: 3, ...}")
        if self.item_mean_column is not None and not isinstance(self.item_mean_column, str):
            raise UserError("human.item_mean_column", f"{self.item_mean_column!r} is not a column name", "or null")
        object.__setattr__(self, "keep_steer", RowSelection(self.split, self.keep_steer).steering)

    def selection(self, steering_ids: list[str]) -> tuple[RowSelection, list[str]]:
        """The rows to use in a matrix with these steering ids, and notes on what was adapted."""
        if self.keep_steer is not None:
            return RowSelection(self.split, self.keep_steer), []
        if self.rows == "unsteered" and NO_STEERING in steering_ids:
            return RowSelection(self.split, (NO_STEERING,)), []
        notes = ["rows: unsteered was asked but the matrix has no unsteered rows; every row used"] \
            if self.rows == "unsteered" and len(steering_ids) > 0 else []
        return RowSelection(self.split, None), notes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the study config's keys."""
        d = asdict(self)
        d["keep_steer"] = None if self.keep_steer is None else list(self.keep_steer)
        d["items_per_value"] = self.items_per_value if isinstance(self.items_per_value, str) \
            else dict(sorted(self.items_per_value.items()))
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base: "HumanStageSettings | None" = None) -> "HumanStageSettings":
        """Settings from the keys given; others keep ``base``'s values (default: the defaults)."""
        merged = {**(base or cls()).to_dict(), **settings_dict(d, _KEYS, "human")}
        keep = merged["keep_steer"]
        if keep is not None and (isinstance(keep, str) or not isinstance(keep, (list, tuple))):
            raise UserError("human.keep_steer", f"must be a list of steering ids, got {keep!r}", "e.g. [none]")
        merged["keep_steer"] = None if keep is None else tuple(str(s) for s in keep)
        try:
            return cls(**merged)
        except UserError as exc:
            if exc.field.startswith("human."):
                raise
            raise UserError(f"human.{exc.field}", exc.problem, exc.fix) from None


@dataclass
class HumanRun:
    """What :func:`run_compare_human` computed (the files are written already when ``out`` was given)."""

    result: HumanResult
    comparison: HumanComparison
    payload: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def _items_per_value(spec: str | Mapping[str, float], reference: Any) -> dict[str, float] | None:
    if spec == "equal":
        return None
    if spec == "pvq40":
        return dict(reference.items_per_value)
    if isinstance(spec, str):  # command-line text NAME=K,...
        return parse_items_per_value(spec, reference)
    missing = [v for v in SCHWARTZ_VALUES if v not in spec]
    if missing:
        raise UserError("human.items_per_value", f"no count for {', '.join(missing)}", "give all 10 values")
    return {v: float(spec[v]) for v in SCHWARTZ_VALUES}


def select_respondents(data: ValueMatrix | pd.DataFrame, settings: HumanStageSettings
                       ) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """The respondent table (one row per condition), the ``rows`` record and notes."""
    if isinstance(data, ValueMatrix):
        selection, notes = settings.selection(data.steering_ids)
        vm = selection.apply(data)
        table = vm.respondent_scores().reset_index(drop=True)  # a condition run in two splits counts once
        record: dict[str, Any] = {**selection.to_dict(), "rows": settings.rows, "n_matrix_rows": vm.n_rows}
    else:
        if settings.keep_steer is not None or settings.split is not None:
            raise UserError("--keep-steer" if settings.keep_steer is not None else "--split",
                            "the input is a plain table without steering ids or splits",
                            "drop the row selection or pass a sweep matrix")
        table, record = data, {"split": None, "keep_steer": None, "rows": "all", "n_matrix_rows": int(len(data))}
        notes = ["plain table: every row used"] if settings.rows == "unsteered" else []
    table, dropped = select_rows(table, settings.drop_incomplete)
    cols = list(find_schwartz_columns(list(table.columns)).values())
    if settings.causal and len(cols) == len(SCHWARTZ_VALUES):  # the PC comparison needs the rule every
        # partial-correlation analysis shares (more complete rows than values); `causal: false` skips it
        source = data.source if isinstance(data, ValueMatrix) and data.source else "the table"
        require_rows(int(table[cols].notna().all(axis=1).sum()), len(cols), "INPUT", f"the selection of {source}",
                     dropped)
    return table, {**record, "n_rows": int(len(table)), "n_dropped_incomplete": dropped}, notes


def run_compare_human(data: ValueMatrix | pd.DataFrame, settings: HumanStageSettings | None = None,
                      out: str | Path | None = None) -> HumanRun:
    """Compare the value structure of the selected rows with the human PVQ-40 reference and (with
    ``out``) write the stage's files all-or-nothing.

    Raises:
        UserError: bad selection, missing Schwartz columns, degenerate scores, an unwritable ``out``.
    """
    settings = settings or HumanStageSettings()
    if out is not None:
        check_output_dir(out, "--out")
    ref = load_human_reference()
    table, rows, notes = select_respondents(data, settings)
    res = compare_with_human(table, settings.centering, settings.permutations, settings.seed,
                             item_mean=item_mean_column(table, settings.item_mean_column),
                             items_per_value=_items_per_value(settings.items_per_value, ref), reference=ref,
                             convention=settings.convention, bootstrap=settings.bootstrap)
    payload = res.to_dict()
    payload["rows"] = rows
    files: dict[str, bytes] = {}
    if settings.causal:
        raw_corr = value_correlations(table, "none", order=ref.values)
        payload["causal"] = json_ready(compare_causal_with_human(raw_corr, res.n_rows, settings.alpha, ref), 6)
        files[HUMAN_GRAPH_FILE] = to_json_text(human_pc_graph(settings.alpha, ref)).encode()
    files[COMPARE_HUMAN_FILE] = json_bytes(payload)
    files["model_correlation.csv"] = res.correlation.round(6).to_csv().encode()
    if settings.plots:
        files.update(render_plots(res, ref.abbrev))
    result = HumanResult(settings.to_dict(), rows, res.rthor.ci, res.rthor.p_value, res.human_rthor.ci,
                         dict(res.similarity), notes)
    files[RESULT_FILE] = json_bytes(result.to_dict())
    if out is not None:
        atomic_write_files(out, files, "--out")
    return HumanRun(result, res, payload, files)


def human_skipped(settings: HumanStageSettings, reason: str) -> HumanResult:
    """The record of a comparison that could not run (the study writes it instead)."""
    return HumanResult(settings.to_dict(), {"split": settings.split, "keep_steer": settings.to_dict()["keep_steer"],
                                            "rows": settings.rows}, skipped_reason=reason)


__all__ = ["HumanRun", "HumanStageSettings", "ROWS", "human_skipped", "run_compare_human", "select_respondents"]
