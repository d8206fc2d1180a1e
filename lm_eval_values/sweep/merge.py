"""``lm-eval-values merge OUT [SHARD_DIR ...]``: join the shards of one sweep.

Shards (``lm-eval-values sweep CONFIG --shard i/N``) write ``conditions/<id>/`` folders plus
``manifest.shard-i-of-N.json`` and shard tables. Shards may share one folder (then
``merge OUT`` alone) or write to separate folders (``merge OUT DIR0 DIR1 ...``; their condition
folders are copied into ``OUT`` atomically, never overwriting one already there).

The merge checks that all shard manifests belong to the same sweep (same config hash), that
every shard 0..N-1 is present and that every condition of the sweep is finished, then writes
``matrix.csv``, ``items.csv`` and ``manifest.json`` exactly as an unsharded run would.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Sequence

from lm_eval_values.core.atomic import atomic_directory, atomic_write_json, check_writable_dir
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import CONDITION_FILE, CONDITIONS_DIR, MANIFEST_FILE, MATRIX_FILE
from lm_eval_values.matrix.condition_files import read_conditions
from lm_eval_values.matrix.tables import build_tables, write_tables

_SHARD_RE = re.compile(r"^manifest\.shard-(\d+)-of-(\d+)\.json$")


def _load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError("merge", f"cannot read {path} ({exc})", "re-run that shard") from None
    if not isinstance(data, dict) or "all_condition_ids" not in data:
        raise UserError("merge", f"{path} is not a sweep manifest", "give sweep output folders")
    return data


def find_shard_manifests(dirs: Sequence[Path]) -> dict[int, tuple[Path, dict[str, Any]]]:
    """Shard index -> (folder, manifest) over ``dirs``; checks they belong to one sweep."""
    found: dict[int, tuple[Path, dict[str, Any]]] = {}
    count: int | None = None
    config_hash: str | None = None
    for d in dirs:
        for m in sorted(d.glob("manifest.shard-*-of-*.json")):
            match = _SHARD_RE.match(m.name)
            if not match:
                continue
            i, n = int(match.group(1)), int(match.group(2))
            data = _load_manifest(m)
            if count is None:
                count, config_hash = n, data.get("config_hash")
            if n != count:
                raise UserError("merge", f"{m} is shard {i}/{n} but other shards are of {count}",
                                "merge the shards of one `--shard i/N` run only")
            if data.get("config_hash") != config_hash:
                raise UserError("merge", f"{m} belongs to another sweep (config hash differs)",
                                "merge shards run with the same config")
            if i in found and found[i][0] != d:
                raise UserError("merge", f"shard {i}/{n} appears in {found[i][0]} and {d}", "give each shard once")
            found[i] = (d, data)
    if count is None:
        raise UserError("merge", f"no manifest.shard-*-of-*.json in {', '.join(map(str, dirs))}",
                        "give the output folder(s) of `lm-eval-values sweep --shard i/N`")
    missing = [i for i in range(count) if i not in found]
    if missing:
        raise UserError("merge", f"shard(s) {', '.join(f'{i}/{count}' for i in missing)} not found",
                        "run the missing shards (or give their folders) before merging")
    return found


def _copy_condition(src: Path, dst: Path) -> None:
    with atomic_directory(dst) as tmp:
        shutil.copytree(src, tmp, dirs_exist_ok=True)


def merge_shards(out: str | Path, inputs: Sequence[str | Path] = (), score_metric: str | None = None) -> dict[str, Any]:
    """Merge shard outputs into ``out``; returns the merged manifest.

    Raises:
        UserError: no shards, shards of different sweeps or counts, missing shards or conditions.
    """
    out_dir = Path(out)
    dirs = [Path(p) for p in inputs] or [out_dir]
    for d in dirs:
        if not d.is_dir():
            raise UserError("merge", f"{d} is not a folder", "give shard output folders")
    shards = find_shard_manifests(dirs)
    first = shards[min(shards)][1]
    all_ids: list[str] = list(first["all_condition_ids"])
    unfinished = [f"{i}" for i, (_, m) in sorted(shards.items()) if not m.get("complete")]
    # locate every condition folder
    where: dict[str, Path] = {}
    for d in dict.fromkeys([out_dir] + dirs):
        cdir = d / CONDITIONS_DIR
        for cid in all_ids:
            if cid not in where and (cdir / cid / CONDITION_FILE).is_file():
                where[cid] = cdir / cid
    missing = [c for c in all_ids if c not in where]
    if missing:
        hint = f" (shard(s) {', '.join(unfinished)} did not finish)" if unfinished else ""
        raise UserError("merge", f"{len(missing)} of {len(all_ids)} conditions are not finished{hint}",
                        "re-run the unfinished shards (they resume), then merge again")
    check_writable_dir(out_dir, "OUT")
    for cid in all_ids:
        target = out_dir / CONDITIONS_DIR / cid
        if where[cid] != target and not (target / CONDITION_FILE).is_file():
            _copy_condition(where[cid], target)
    conds = read_conditions(out_dir, all_ids)
    for c in conds:
        if c.record.get("identity_hash") not in (None, first.get("identity_hash")):
            raise UserError("merge", f"condition {c.meta['condition_id']} belongs to another sweep",
                            "remove it from the output folder")
    tables = build_tables(conds, score_metric if score_metric is not None
                          else (first.get("resolved") or {}).get("score_metric"))
    files = write_tables(out_dir, tables)
    by_id: dict[str, dict[str, Any]] = {}
    for _, m in shards.values():
        for c in m.get("conditions", []):
            by_id[c["condition_id"]] = c
    merged = dict(first)
    merged["shard"] = None
    merged["conditions"] = [by_id[c] for c in all_ids if c in by_id]
    merged["files"] = dict(sorted(files.items()))
    merged["complete"] = True
    versions = {str(i): m.get("versions") for i, (_, m) in sorted(shards.items())}
    if len({json.dumps(v, sort_keys=True) for v in versions.values()}) > 1:
        merged["versions_by_shard"] = versions
    atomic_write_json(out_dir / MANIFEST_FILE, merged)
    print(f"merge: {len(shards)} shards, {len(all_ids)} conditions x {len(tables.values)} values -> "
          f"{out_dir / MATRIX_FILE}", file=sys.stderr)
    return merged
