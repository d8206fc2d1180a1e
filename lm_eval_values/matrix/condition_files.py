"""The per-condition files a value matrix is built from, found and read.

Either a sweep folder (``conditions/<condition_id>/condition.json`` + ``samples_<task>.jsonl``,
written by :mod:`lm_eval_values.sweep.run`) or plain lm-eval output folders (``lm_eval
--output_path X --log_samples``, one per condition) anywhere below the given folder:
``X/<model>/results_<ts>.json`` + ``samples_<task>_<ts>.jsonl``. The condition id of a plain run is
its folder path relative to the input; role and steering are read from the recorded ``values_hf``
condition or ``model_args`` when present.

A sweep condition is trusted only after :func:`verify_condition`: its ``condition.json`` records, when
the folder was written, the SHA-256 of every samples file (older sweeps: the doc indices of every
task), and the files on disk must still match. A file that lost a line or was edited is refused here
(``matrix``, ``graph`` and every other reader) and redone by a resumed sweep.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import CONDITION_FILE, CONDITIONS_DIR
from lm_eval_values.core.hashing import file_sha256
from lm_eval_values.core.inputs import reading

#: fix named when a condition folder does not match its record
REDO_FIX = "re-run the sweep into this folder (it redoes damaged conditions), or delete the condition folder"


@dataclass
class ConditionFiles:
    """One condition on disk: its meta columns, a sort key and its sample files per task."""

    meta: dict[str, Any]
    order: tuple[Any, ...]
    sample_files: dict[str, Path]
    source: str
    record: dict[str, Any] = field(default_factory=dict)


def _read_json(path: Path, field_name: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(field_name, f"cannot read {path} ({exc})", "remove or re-run that condition") from None


def _count_samples(path: Path) -> int:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return sum(1 for line in fh if line.strip())


def verify_condition(cdir: Path, rec: Any) -> str | None:
    """``None`` if the condition folder ``cdir`` matches its record ``rec`` (``condition.json``), else the problem.

    Checks what the record holds: ``sample_sha256`` (the content hash of every samples file, written
    since content hashes were recorded), else ``samples`` (the doc indices per task: the number of
    samples per file) and ``n_items``.
    """
    if not isinstance(rec, dict):
        return f"{CONDITION_FILE} is not a JSON object"
    files, hashes, expected = rec.get("sample_files") or {}, rec.get("sample_sha256"), rec.get("samples")
    if not isinstance(files, dict) or not isinstance(hashes or {}, dict) or not isinstance(expected or {}, dict):
        return f"{CONDITION_FILE} has a malformed sample_files, sample_sha256 or samples entry"
    if expected and set(map(str, expected)) != set(map(str, files)):
        return (f"{CONDITION_FILE} records samples of {sorted(map(str, expected))} but files of "
                f"{sorted(map(str, files))}")
    counted = 0
    for task, name in sorted(files.items()):
        f = cdir / str(name)
        if not f.is_file():
            return f"{f.name} is missing"
        if hashes:
            if file_sha256(f) != hashes.get(task):
                return f"{f.name} is not the file the sweep wrote (its SHA-256 differs from {CONDITION_FILE})"
            continue
        n = _count_samples(f)
        counted += n
        if expected and n != len(expected.get(task) or []):
            return f"{f.name} has {n} samples, {CONDITION_FILE} records {len(expected.get(task) or [])}"
    n_items = rec.get("n_items")
    if not hashes and expected and isinstance(n_items, int) and counted != n_items:
        return f"the samples files hold {counted} samples, {CONDITION_FILE} records {n_items} items"
    return None


def iter_samples(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, sample)`` of one lm-eval ``samples_*.jsonl`` file."""
    with reading(path, "DIR", "an intact samples file"), open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                sample = json.loads(line)
            except json.JSONDecodeError:
                raise UserError("DIR", f"{path}:{n} is not valid JSON", "remove or re-run that condition") from None
            if not isinstance(sample, dict):
                raise UserError("DIR", f"{path}:{n} is not a sample (a JSON object)", "remove or re-run that condition")
            yield n, sample


def read_sweep_condition(cdir: Path) -> ConditionFiles:
    """A sweep condition folder (``condition.json`` + ``samples_<task>.jsonl``), verified before it is trusted."""
    with reading(cdir / CONDITION_FILE, "DIR", "an intact sweep condition folder"):
        rec = _read_json(cdir / CONDITION_FILE, "DIR")
        problem = verify_condition(cdir, rec)
        if problem is not None:
            raise UserError("DIR", f"{cdir}: {problem}", REDO_FIX)
        meta = {k: rec.get(k) for k in META_COLUMNS}
        if meta["condition_id"] != cdir.name:
            raise UserError("DIR", f"{cdir} holds condition {meta['condition_id']!r}",
                            "do not rename condition folders")
        files = {str(t): cdir / str(f) for t, f in sorted((rec.get("sample_files") or {}).items())}
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
