"""Tidy tables from per-condition lm-eval outputs: ``matrix.csv`` and ``items.csv``.

Input (:func:`read_conditions`), either

* a sweep folder: ``conditions/<condition_id>/condition.json`` + ``samples_<task>.jsonl``
  (written by :mod:`lm_eval_values.sweep`); or
* plain lm-eval output folders (``lm_eval --output_path X --log_samples``, one per condition),
  anywhere below the given folder: ``X/<model>/results_<ts>.json`` + ``samples_<task>_<ts>.jsonl``.
  The condition id is the folder path relative to the input (``X``); role and steering are read
  from the recorded ``values_hf`` condition or ``model_args`` when present.

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
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from lm_eval_values.core.atomic import atomic_write_files, check_output_dir
from lm_eval_values.core.conditions import META_COLUMNS, coefficient_text
from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.core.files import CONDITION_FILE, CONDITIONS_DIR, ITEMS_FILE, MATRIX_FILE, items_file, matrix_file
from lm_eval_values.core.hashing import sha256_hex
from lm_eval_values.values.names import SCHWARTZ_VALUES, VCG17_VALUES

#: Columns of ``items.csv``.
ITEM_COLUMNS: tuple[str, ...] = META_COLUMNS + (
    "task", "doc_id", "item_id", "value", "agreement", "format", "inventory", "metric", "score")
#: Per-sample metrics tried, in order, as the item score when none is configured.
ITEM_SCORE_METRICS: tuple[str, ...] = (
    "score", "value_score", "expected_score", "item_score", "score_argmax", "acc")


@dataclass
class ConditionFiles:
    """One condition on disk: its meta columns, a sort key and its sample files per task."""

    meta: dict[str, Any]
    order: tuple[Any, ...]
    sample_files: dict[str, Path]
    source: str
    record: dict[str, Any] = field(default_factory=dict)


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


# ----------------------------------------------------------------------------- reading
def _read_json(path: Path, field_name: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(field_name, f"cannot read {path} ({exc})", "remove or re-run that condition") from None


def iter_samples(path: Path) -> Iterator[dict[str, Any]]:
    """The samples of one lm-eval ``samples_*.jsonl`` file."""
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                raise UserError("DIR", f"{path}:{n} is not valid JSON", "remove or re-run that condition") from None


def read_sweep_condition(cdir: Path) -> ConditionFiles:
    """A sweep condition folder (``condition.json`` + ``samples_<task>.jsonl``)."""
    rec = _read_json(cdir / CONDITION_FILE, "DIR")
    meta = {k: rec.get(k) for k in META_COLUMNS}
    if meta["condition_id"] != cdir.name:
        raise UserError("DIR", f"{cdir} holds condition {meta['condition_id']!r}", "do not rename condition folders")
    files = {str(t): cdir / f for t, f in sorted((rec.get("sample_files") or {}).items())}
    for t, f in files.items():
        if not f.is_file():
            raise UserError("DIR", f"{f} is missing", "delete the condition folder and re-run the sweep")
    return ConditionFiles(meta=meta, order=(0, int(rec.get("index", 0)), cdir.name), sample_files=files,
                          source=str(cdir), record=rec)


def _model_args_dict(cfg: dict[str, Any]) -> dict[str, Any]:
    ma = cfg.get("model_args")
    if isinstance(ma, dict):
        return ma
    if isinstance(ma, str) and ma:
        out: dict[str, Any] = {}
        for part in ma.split(","):
            if "=" in part:
                k, v = part.split("=", 1)
                out[k.strip()] = v.strip()
        return out
    return {}


def _steering_from_record(steer: dict[str, Any], steer_hash: str | None) -> tuple[str, float]:
    ivs = steer.get("interventions") or []
    coef = float(ivs[0].get("coeff", float("nan"))) if len(ivs) == 1 else float("nan")
    if len(ivs) == 1 and ivs[0].get("feature") is not None:
        return str(ivs[0]["feature"]), coef
    if steer.get("name") and steer.get("name") != "model_args":
        return str(steer["name"]), coef
    if len(ivs) == 1 and isinstance(ivs[0].get("vector"), str):
        return Path(ivs[0]["vector"]).stem, coef
    return (steer_hash or "steered")[:12], coef


def _plain_meta(results: dict[str, Any], cond_id: str) -> dict[str, Any]:
    """Meta columns of a plain lm-eval run (``values_hf`` condition record or model_args)."""
    cfg = results.get("config") or {}
    rec = cfg.get("values_condition") or results.get("values_condition") or {}
    ma = _model_args_dict(cfg)
    role_id = rec.get("role_id") or ma.get("role_id") or ""
    steering_id, coef = "none", 0.0
    if rec.get("steer"):
        steering_id, coef = _steering_from_record(rec["steer"], rec.get("steer_hash"))
    elif ma.get("feature") not in (None, ""):
        steering_id, coef = str(ma["feature"]), float(ma.get("coeff", "nan"))
    elif ma.get("steer"):
        steering_id, coef = Path(str(ma["steer"])).stem, float("nan")
    return {"condition_id": cond_id, "role_id": str(role_id), "split": "", "steering_id": steering_id,
            "coefficient": coef, "seed": cfg.get("random_seed")}


_RESULTS_RE = re.compile(r"^results_(.+)\.json$")


def read_plain_conditions(root: Path) -> list[ConditionFiles]:
    """Plain lm-eval ``--output_path ... --log_samples`` folders below ``root``, one per condition."""
    found: list[ConditionFiles] = []
    models: dict[str, str] = {}  # pretrained -> first condition id
    result_files = sorted(p for p in root.rglob("results_*.json") if CONDITIONS_DIR not in p.relative_to(root).parts
                          and not any(part.startswith(".tmp-") for part in p.relative_to(root).parts))
    by_folder: dict[Path, list[Path]] = {}
    for rf in result_files:
        out_folder = rf.parent.parent if rf.parent != root else root
        by_folder.setdefault(out_folder, []).append(rf)
    for out_folder, rfs in sorted(by_folder.items()):
        for rf in rfs:
            m = _RESULTS_RE.match(rf.name)
            if not m:
                continue
            ts = m.group(1)
            files = {}
            for sf in sorted(rf.parent.glob(f"samples_*_{ts}.jsonl")):
                task = sf.name[len("samples_"):-len(f"_{ts}.jsonl")]
                files[task] = sf
            if not files:
                raise UserError("DIR", f"{rf} has no samples_*_{ts}.jsonl next to it",
                                "run lm_eval with --log_samples")
            rel = out_folder.relative_to(root).as_posix() if out_folder != root else "."
            cid = rel if len(rfs) == 1 else f"{rel}#{ts}"
            results = _read_json(rf, "DIR")
            found.append(ConditionFiles(meta=_plain_meta(results, cid), order=(1, 0, cid), sample_files=files,
                                        source=str(rf)))
            models.setdefault(str(_model_args_dict(results.get("config") or {}).get("pretrained") or ""), cid)
    models.pop("", None)
    if len(models) > 1:
        (m1, c1), (m2, c2) = sorted(models.items())[:2]
        raise UserError("DIR", f"{root} mixes results of {len(models)} models ({m1!r} in {c1}, {m2!r} in {c2})",
                        "build one matrix per model: give a folder holding one model's runs")
    return found


def read_conditions(path: str | Path, condition_ids: Sequence[str] | None = None) -> list[ConditionFiles]:
    """All finished conditions under ``path`` (sweep folder or lm-eval output folders), sorted.

    Args:
        path: the folder.
        condition_ids: keep only these (sweep folders; error if one is missing).
    """
    root = Path(path)
    if not root.is_dir():
        raise UserError("DIR", f"{root} is not a folder", "give a sweep output folder or lm-eval output folders")
    cdir = root / CONDITIONS_DIR
    conds: list[ConditionFiles] = []
    if cdir.is_dir():
        names = sorted(p.name for p in cdir.iterdir() if p.is_dir() and not p.name.startswith(".tmp-")
                       and (p / CONDITION_FILE).is_file())
        if condition_ids is not None:
            missing = [c for c in condition_ids if c not in set(names)]
            if missing:
                raise UserError("DIR", f"{len(missing)} condition(s) missing in {cdir} (e.g. {missing[0]})",
                                "run the remaining shards or re-run the sweep to finish them")
            names = list(condition_ids)
        conds = [read_sweep_condition(cdir / n) for n in names]
        idents = sorted({str(c.record.get("identity_hash")) for c in conds})
        if len(idents) > 1:
            raise UserError("DIR", f"{cdir} mixes conditions of {len(idents)} different sweeps "
                            "(model, tasks, format or sampling differ)",
                            "give each sweep its own output folder, or delete the stale condition folders")
    if condition_ids is None:
        conds += read_plain_conditions(root)
    if not conds:
        raise UserError("DIR", f"no finished conditions in {root}",
                        "give a sweep folder (conditions/) or folders written by lm_eval --log_samples")
    conds.sort(key=lambda c: c.order)
    return conds


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


def condition_items(cond: ConditionFiles, score_metric: str | None = None) -> list[dict[str, Any]]:
    """Item rows (:data:`ITEM_COLUMNS`) of one condition, by task then doc id."""
    rows: list[dict[str, Any]] = []
    for task, path in sorted(cond.sample_files.items()):
        metric: str | None = None
        task_rows = []
        for s in iter_samples(path):
            doc = s.get("doc") or {}
            if "value" not in doc:
                raise UserError("DIR", f"samples of task {task!r} in {cond.source} carry no doc['value']",
                                "use lm-eval-values value tasks (their docs carry item_id and value)")
            if metric is None:
                metric = _pick_metric(s, score_metric, f"{path}")
            score = s.get(metric)
            doc_id = int(s.get("doc_id", 0))
            task_rows.append({
                **cond.meta, "task": task, "doc_id": doc_id,
                "item_id": str(doc.get("item_id", f"{task}:{doc_id}")), "value": str(doc["value"]),
                "agreement": doc.get("agreement", ""), "format": doc.get("format", ""),
                "inventory": doc.get("inventory", ""), "metric": metric,
                "score": float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else
                (float(score) if isinstance(score, bool) else float("nan")),
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


def matrix_from_results_dir(path: str | Path, score_metric: str | None = None):
    """A :class:`~lm_eval_values.value_matrix.ValueMatrix` built from per-condition files alone."""
    import pandas as pd

    from lm_eval_values.value_matrix import frame_to_value_matrix

    tables = build_tables(read_conditions(path), score_metric)
    df = pd.read_csv(io.StringIO(tables.matrix_csv), dtype={"condition_id": str, "role_id": str, "split": str,
                                                            "steering_id": str}, keep_default_na=False,
                     na_values={v: [""] for v in tables.values + ["coefficient", "seed"]})
    return frame_to_value_matrix(df, str(path), field="DIR")


def main(argv: list[str]) -> int:
    """``lm-eval-values matrix DIR [--out OUT] [--score-metric NAME]``."""
    parser = ArgumentParser(
        prog="lm-eval-values matrix",
        description="Rebuild matrix.csv (one row per condition, one column per value) and items.csv from a "
                    "sweep folder's per-condition files, or from plain `lm_eval --output_path X --log_samples` "
                    "folders (one per condition) below DIR.")
    parser.add_argument("dir", metavar="DIR")
    parser.add_argument("--out", default=None, help="output folder (default: DIR)")
    parser.add_argument("--score-metric", default=None,
                        help=f"per-sample metric used as the item score (default: first of {', '.join(ITEM_SCORE_METRICS)})")
    args = parser.parse_args(argv)
    conds = read_conditions(args.dir)
    tables = build_tables(conds, args.score_metric)
    out = check_output_dir(args.out or args.dir, "--out")
    try:
        write_tables(out, tables)
    except UserError as exc:
        raise UserError("--out", exc.problem, exc.fix) from None
    print(f"{tables.n_rows} conditions x {len(tables.values)} values -> {out / MATRIX_FILE}, {out / ITEMS_FILE}",
          file=sys.stderr)
    return 0
