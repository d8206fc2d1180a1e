"""Tidy tables from per-condition lm-eval outputs: ``matrix.csv`` and ``items.csv``.

Input: the conditions found by :func:`lm_eval_values.matrix.condition_files.read_conditions` (a
sweep folder, or plain ``lm_eval --output_path X --log_samples`` folders).

Item scores come from the per-sample metrics that lm-eval logs (``score_metric``, or the first of
:data:`ITEM_SCORE_METRICS` present); items are grouped by ``doc["value"]`` (the display name),
so task naming does not matter. A value score is the mean of its item scores.

Output is deterministic: rows in sweep grid order (then by condition id), value columns in the
canonical order of :mod:`lm_eval_values.values.names` then alphabetical, floats as ``%.6f``, NaN as
an empty cell, ``\\n`` line ends. The same inputs always give the same bytes.

``lm-eval-values matrix DIR [--out OUT] [--score-metric NAME]`` rebuilds both tables.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from lm_eval_values.core.atomic import atomic_write_files
from lm_eval_values.core.conditions import META_COLUMNS, coefficient_text
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import items_file, matrix_file
from lm_eval_values.core.hashing import sha256_hex
from lm_eval_values.matrix.condition_files import REDO_FIX, ConditionFiles, iter_samples
from lm_eval_values.values.names import SCHWARTZ_VALUES, VCG17_VALUES

#: Columns of ``items.csv``.
ITEM_COLUMNS: tuple[str, ...] = META_COLUMNS + (
    "task", "doc_id", "item_id", "value", "agreement", "format", "inventory", "metric", "score")
#: Per-sample metrics tried, in order, as the item score when none is configured.
ITEM_SCORE_METRICS: tuple[str, ...] = (
    "score", "value_score", "expected_score", "item_score", "score_argmax", "acc")


# ----------------------------------------------------------------------------- formatting
def fmt_float(x: Any) -> str:
    """``%.6f`` with NaN/None -> ``""`` and ``-0.000000`` -> ``0.000000``."""
    if x is None:
        return ""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return ""
    if math.isnan(f):
        return ""
    s = f"{f:.6f}"
    return s[1:] if s == "-0.000000" else s


def order_values(names: Iterable[str]) -> list[str]:
    """Canonical value column order: Schwartz circle, then VCG17, then the rest alphabetically."""
    names = set(names)
    canon = [v for v in dict.fromkeys(SCHWARTZ_VALUES + VCG17_VALUES) if v in names]
    return canon + sorted(names - set(canon))


# ----------------------------------------------------------------------------- tables
def _pick_metric(sample: dict[str, Any], score_metric: str | None, where: str) -> str:
    if score_metric is not None:
        if score_metric not in sample:
            raise UserError("score_metric", f"{score_metric!r} is not a per-sample metric in {where}",
                            f"use one of: {', '.join(map(str, sample.get('metrics') or []))}")
        return score_metric
    names = list(sample.get("metrics") or [])
    for m in ITEM_SCORE_METRICS:
        if m in names and m in sample:
            return m
    raise UserError("score_metric", f"no item score metric in {where} (metrics: {', '.join(map(str, names))})",
                    "set score_metric to one of those")


def _finite_score(score: Any, metric: str, where: str) -> float:
    """An item score as a float: a number (or a boolean metric such as ``acc``) that is finite."""
    if isinstance(score, (int, float)) and math.isfinite(float(score)):
        return float(score)
    raise UserError("DIR", f"{where}: the item score {metric!r} is {score!r}, not a finite number",
                    "re-run that condition (a NaN score means the model's outputs were not finite)")


def condition_items(cond: ConditionFiles, score_metric: str | None = None) -> list[dict[str, Any]]:
    """Item rows (:data:`ITEM_COLUMNS`) of one condition, by task then doc id."""
    rows: list[dict[str, Any]] = []
    for task, path in sorted(cond.sample_files.items()):
        metric: str | None = None
        task_rows = []
        for line, s in iter_samples(path):
            doc = s.get("doc") or {}
            if not isinstance(doc, dict) or "value" not in doc:
                raise UserError("DIR", f"samples of task {task!r} in {cond.source} carry no doc['value']",
                                "use lm-eval-values value tasks (their docs carry item_id and value)")
            if metric is None:
                metric = _pick_metric(s, score_metric, f"{path}")
            doc_id = s.get("doc_id", 0)
            if isinstance(doc_id, bool) or not isinstance(doc_id, int):
                raise UserError("DIR", f"{path}:{line}: doc_id {doc_id!r} is not a whole number", REDO_FIX)
            task_rows.append({
                **cond.meta, "task": task, "doc_id": doc_id,
                "item_id": str(doc.get("item_id", f"{task}:{doc_id}")), "value": str(doc["value"]),
                "agreement": doc.get("agreement", ""), "format": doc.get("format", ""),
                "inventory": doc.get("inventory", ""), "metric": metric,
                "score": _finite_score(s.get(metric), metric, f"{path}:{line}"),
            })
        task_rows.sort(key=lambda r: r["doc_id"])
        rows += task_rows
    return rows


@dataclass
class Tables:
    """``matrix.csv`` and ``items.csv`` as text, plus the values and row count."""

    matrix_csv: str
    items_csv: str
    values: list[str]
    n_rows: int


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _meta_cells(meta: dict[str, Any]) -> list[str]:
    seed = meta.get("seed")
    return [str(meta.get("condition_id", "")), str(meta.get("role_id") or ""), str(meta.get("split") or ""),
            str(meta.get("steering_id") or "none"), coefficient_text(meta.get("coefficient")),
            "" if seed is None or seed == "" else str(int(seed))]


def build_tables(conds: Sequence[ConditionFiles], score_metric: str | None = None) -> Tables:
    """Build both tables (deterministic text) from conditions in the given order."""
    per_cond: list[tuple[dict[str, Any], dict[str, list[float]]]] = []
    item_lines: list[list[str]] = []
    all_values: set[str] = set()
    for c in conds:
        items = condition_items(c, score_metric)
        by_value: dict[str, list[float]] = {}
        for r in items:
            by_value.setdefault(r["value"], []).append(r["score"])
            item_lines.append(_meta_cells(r) + [r["task"], str(r["doc_id"]), r["item_id"], r["value"],
                                                str(r["agreement"]), str(r["format"]), str(r["inventory"]),
                                                r["metric"], fmt_float(r["score"])])
        all_values |= set(by_value)
        per_cond.append((c.meta, by_value))
    values = order_values(all_values)
    matrix_rows = []
    for meta, by_value in per_cond:
        cells = _meta_cells(meta)
        for v in values:
            xs = [x for x in by_value.get(v, []) if not math.isnan(x)]
            cells.append(fmt_float(math.fsum(xs) / len(xs)) if xs else "")
        matrix_rows.append(cells)
    return Tables(matrix_csv=_csv_text(list(META_COLUMNS) + values, matrix_rows),
                  items_csv=_csv_text(ITEM_COLUMNS, item_lines), values=values, n_rows=len(matrix_rows))


def write_tables(out_dir: str | Path, tables: Tables, suffix: str = "") -> dict[str, str]:
    """Write ``matrix{suffix}.csv`` and ``items{suffix}.csv`` atomically; return {file: sha256}."""
    out = Path(out_dir)
    names = {matrix_file(suffix): tables.matrix_csv, items_file(suffix): tables.items_csv}
    # both tables or neither (a full disk must not leave a new matrix next to a stale item table)
    atomic_write_files(out, {name: text.encode("utf-8") for name, text in names.items()}, "output_dir")
    return {name: sha256_hex(text) for name, text in names.items()}
