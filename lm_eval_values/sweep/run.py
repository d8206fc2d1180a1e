"""``lm-eval-values sweep CONFIG``: roles x steering settings -> one tidy value matrix.

The model is loaded ONCE; every condition (seed, role, steering setting) runs in-process through
``lm_eval.simple_evaluate(model=<loaded LM>, task_manager=get_task_manager(), log_samples=True,
samples={task: [doc indices]})``, swapping the role and steering on the loaded ``values_hf`` model
with ``set_condition`` (the stock ``hf`` model gets the role as ``system_instruction``).

Output folder::

    conditions/<condition_id>/condition.json   # meta, role text, steering, model condition record
    conditions/<condition_id>/results.json     # lm-eval results (samples removed)
    conditions/<condition_id>/samples_<task>.jsonl
    matrix.csv, items.csv, manifest.json       # (shards: matrix.shard-i-of-N.csv, ... )

Crash safety: each condition folder is built in a ``.tmp-`` sibling and renamed into place when
complete (:func:`lm_eval_values.core.atomic.atomic_directory`), so a SIGKILL at any point loses at most
the condition in flight. ``condition.json`` records the SHA-256 of every samples file; a re-run skips
a condition only when its folder still matches that record
(:func:`lm_eval_values.matrix.condition_files.verify_condition`) and redoes a damaged one. Every
condition is run under a lock (``conditions/.lock-<condition_id>``, removed when it is done), so two
sweeps into one folder never both run a condition: the second skips it, or waits for it at the end
and redoes it only if the first did not finish it. The condition id is a
hash of everything that determines its result (model, model_args, tasks, format, sampling, seed,
role text, steering), so a changed config never reuses a stale result. Shards (``--shard i/N``)
run disjoint conditions (round robin over the grid) and write shard-named tables and manifests,
so N shards can share one output folder; ``lm-eval-values merge`` joins them.

Item sampling: see :mod:`lm_eval_values.sweep.items`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from lm_eval_values.core.atomic import TMP_PREFIX, atomic_directory, atomic_write_json, check_output_dir
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import (CONDITION_FILE, CONDITIONS_DIR, RESULTS_FILE, manifest_file, matrix_file,
                                      shard_suffix)
from lm_eval_values.core.hashing import canonical_json, sha256_hex
from lm_eval_values.core.locks import file_lock
from lm_eval_values.core.versions import SWEEP_PACKAGES, package_versions
from lm_eval_values.matrix.condition_files import read_conditions, verify_condition
from lm_eval_values.matrix.tables import build_tables, write_tables
from lm_eval_values.sweep.conditions import Condition, shard_conditions
from lm_eval_values.sweep.config import SweepConfig
from lm_eval_values.sweep.items import load_doc_index, make_task_manager, select_items
from lm_eval_values.sweep.runner import ConditionRunner, cached_env_info, quiet_lm_eval

MANIFEST_FORMAT = "lm-eval-values/sweep-manifest"
MANIFEST_VERSION = 1


# ----------------------------------------------------------------------------- writing
def _json_default(o: Any) -> Any:
    try:
        from lm_eval.utils import handle_non_serializable

        return handle_non_serializable(o)
    except Exception:  # pragma: no cover
        return str(o)


def condition_file_record(cfg: SweepConfig, cond: Condition, samples: dict[str, list[int]]) -> dict[str, Any]:
    """The deterministic part of ``condition.json``."""
    return {
        **cond.meta(), "index": cond.index, "role_text": cond.role.text, "role_prompt": cond.role_prompt,
        "steering": cond.steering.record(), "identity_hash": identity_hash(cfg),
        "samples": {t: list(ix) for t, ix in sorted(samples.items())}, "n_items": sum(map(len, samples.values())),
    }


def write_condition(out: Path, cfg: SweepConfig, cond: Condition, samples: dict[str, list[int]],
                    results: dict[str, Any], model_record: dict[str, Any], elapsed_s: float) -> Path:
    """Write one finished condition folder atomically (built in a temp sibling, then renamed)."""
    logged = results.pop("samples", None) or {}
    target = out / CONDITIONS_DIR / cond.condition_id
    with atomic_directory(target) as tmp:
        sample_files: dict[str, str] = {}
        digests: dict[str, str] = {}
        for task in sorted(logged):
            name = f"samples_{task}.jsonl"
            lines = [json.dumps(s, default=_json_default, ensure_ascii=False) for s in logged[task]]
            data = ("\n".join(lines) + "\n").encode("utf-8")
            (tmp / name).write_bytes(data)
            sample_files[task] = name
            digests[task] = hashlib.sha256(data).hexdigest()  # verified before the folder is trusted
        (tmp / RESULTS_FILE).write_text(json.dumps(results, default=_json_default, indent=2, sort_keys=True,
                                                   ensure_ascii=False) + "\n", encoding="utf-8")
        rec = condition_file_record(cfg, cond, samples)
        rec.update({"sample_files": sample_files, "sample_sha256": digests, "model_condition": model_record,
                    "elapsed_s": round(elapsed_s, 3)})
        (tmp / CONDITION_FILE).write_text(json.dumps(rec, default=_json_default, indent=2, sort_keys=True,
                                                     ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def condition_state(out: Path, cond: Condition) -> str | None:
    """``None`` if ``cond``'s folder is finished and intact, ``"missing"`` if there is none, else the problem."""
    cdir = out / CONDITIONS_DIR / cond.condition_id
    if not (cdir / CONDITION_FILE).is_file():
        return "missing"
    try:
        rec = json.loads((cdir / CONDITION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{CONDITION_FILE} is unreadable ({type(exc).__name__})"
    problem = verify_condition(cdir, rec)
    if problem is None and rec.get("condition_id") != cond.condition_id:
        problem = f"{CONDITION_FILE} names condition {rec.get('condition_id')!r}"
    return problem


def is_finished(out: Path, cond: Condition) -> bool:
    """True if ``cond``'s folder is complete and still matches what was written (samples count and SHA-256)."""
    return condition_state(out, cond) is None


def condition_lock(out: Path, cond: Condition) -> Path:
    """The lock file of ``cond`` (held while it runs, removed when it is done)."""
    return out / CONDITIONS_DIR / f".lock-{cond.condition_id}"


def clean_own_temp_dirs(out: Path, conds: Sequence[Condition]) -> int:
    """Remove temp folders left by a killed run for these conditions only (never other shards')."""
    cdir = out / CONDITIONS_DIR
    if not cdir.is_dir():
        return 0
    ours = {c.condition_id for c in conds}
    n = 0
    for p in cdir.iterdir():
        if p.name.startswith(TMP_PREFIX) and p.name[len(TMP_PREFIX):].split(".", 1)[0] in ours:
            shutil.rmtree(p, ignore_errors=True)
            n += 1
    return n


# ----------------------------------------------------------------------------- manifest
def identity_hash(cfg: SweepConfig) -> str:
    """Hash of what every condition of this sweep shares (model, tasks, format, sampling...)."""
    return sha256_hex(canonical_json(cfg.result_identity()))


def build_manifest(cfg: SweepConfig, conds: Sequence[Condition], n_items: dict[str, int],
                   shard: tuple[int, int], files: dict[str, str] | None, complete: bool) -> dict[str, Any]:
    """The manifest (deterministic: no timestamps)."""
    mine = {c.condition_id for c in shard_conditions(conds, shard)}
    return {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "versions": package_versions(SWEEP_PACKAGES),
        "config": cfg.raw, "resolved": {**cfg.result_identity(), "batch_size": cfg.batch_size, "device": cfg.device,
                                        "score_metric": cfg.score_metric},
        "config_hash": cfg.config_hash(), "identity_hash": identity_hash(cfg),
        "seeds": {"run_seeds": list(cfg.seeds), "sampling_seed": cfg.sampling.seed,
                  "role_generator_seed": (cfg.raw.get("roles") or {}).get("generate", {}).get("seed")
                  if isinstance((cfg.raw.get("roles") or {}).get("generate"), dict) else None},
        "shard": None if shard[1] == 1 else {"index": shard[0], "count": shard[1]},
        "conditions": [{**c.meta(), "index": c.index, "n_items": n_items.get(c.condition_id, 0)}
                       for c in conds if shard[1] == 1 or c.condition_id in mine],
        "all_condition_ids": [c.condition_id for c in conds],
        "files": dict(sorted((files or {}).items())), "complete": complete,
    }


def _check_output_compatible(out: Path, cfg: SweepConfig) -> None:
    for m in sorted(out.glob(manifest_file("*"))):
        try:
            old = json.loads(m.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(old, dict):
            raise UserError("output_dir", f"{m} is not a sweep manifest (a JSON {type(old).__name__})",
                            "remove that file or use a new output_dir")
        if old.get("identity_hash") not in (None, identity_hash(cfg)):
            raise UserError("output_dir", f"{out} holds a sweep with another model/tasks/format/sampling ({m.name})",
                            "use a new output_dir for this config")


# ----------------------------------------------------------------------------- the sweep
@dataclass
class SweepSummary:
    """What a sweep call did."""

    out: Path
    n_conditions: int
    n_run: int
    n_skipped: int
    n_items_run: int
    elapsed_s: float
    matrix_path: Path
    computed: list[str]
    load_s: float = 0.0
    total_s: float = 0.0

    @property
    def items_per_s(self) -> float:
        return self.n_items_run / self.elapsed_s if self.elapsed_s > 0 else float("nan")


def run_sweep(cfg: SweepConfig, shard: tuple[int, int] = (0, 1), out: str | Path | None = None,
              progress: bool = True, max_conditions: int | None = None) -> SweepSummary:
    """Run (or resume) a sweep; returns a summary. See the module docstring.

    Args:
        cfg: a validated config.
        shard: ``(i, N)``: run only conditions with ``index % N == i``.
        out: output folder (default: ``cfg.output_dir``).
        progress: show a tqdm bar on stderr.
        max_conditions: stop after computing this many conditions (for tests and dry runs).
    """
    out_dir = Path(out) if out is not None else cfg.output_dir
    if out_dir is None:
        raise UserError("output_dir", "missing", "set output_dir in the config or pass --out")
    all_conds = cfg.conditions()
    mine = shard_conditions(all_conds, shard)
    t0 = time.time()
    check_output_dir(out_dir, "output_dir")  # first, and creates nothing: a bad spec below leaves no folder
    _check_output_compatible(out_dir, cfg)
    with quiet_lm_eval():
        tm = make_task_manager(cfg)
        doc_index = load_doc_index(cfg, tm)
    selections = {c.condition_id: select_items(doc_index, cfg, c) for c in all_conds}
    n_items = {cid: sum(map(len, s.values())) for cid, s in selections.items()}
    states = {c.condition_id: condition_state(out_dir, c) for c in mine}
    pending = [c for c in mine if states[c.condition_id] is not None]
    damaged = [(c, states[c.condition_id]) for c in pending if states[c.condition_id] != "missing"]
    n_skipped = len(mine) - len(pending)
    runner: ConditionRunner | None = None
    t_load = time.time()
    if pending:
        with quiet_lm_eval():
            runner = ConditionRunner(cfg, tm)
            runner.check_steering({c.steering.id + "|" + repr(c.steering.coefficient): c.steering for c in pending})
    load_s = time.time() - t_load
    # -- everything validated (config, tasks, model, steering specs): now write
    suffix = shard_suffix(shard)
    atomic_write_json(out_dir / manifest_file(suffix), build_manifest(cfg, all_conds, n_items, shard, None, False))
    clean_own_temp_dirs(out_dir, mine)
    if n_skipped:
        print(f"sweep: {n_skipped} of {len(mine)} conditions already finished in {out_dir}; skipping them",
              file=sys.stderr)
    for c, problem in damaged:
        print(f"sweep: condition {c.condition_id} in {out_dir} is damaged ({problem}); redoing it", file=sys.stderr)
    computed: list[str] = []
    items_run = 0
    t_run = time.time()
    if runner is not None:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(n_items[c.condition_id] for c in pending), unit="item", file=sys.stderr,
                   disable=not progress, desc="sweep", dynamic_ncols=True)
        def run_one(cond: Condition, wait: bool) -> str:
            """Run ``cond`` under its lock: "run", "done elsewhere" or "busy" (another sweep holds it)."""
            lock = condition_lock(out_dir, cond)
            with file_lock(lock, wait=wait) as held:
                if not held:
                    return "busy"
                if is_finished(out_dir, cond):  # another sweep into this folder finished it meanwhile
                    lock.unlink(missing_ok=True)
                    return "done elsewhere"
                bar.set_postfix_str(f"condition {len(computed) + 1}/{len(pending)} ({cond.role.id or 'no-role'}, "
                                    f"{cond.steering.id})", refresh=False)
                samples = selections[cond.condition_id]
                tc = time.time()
                leaves = None if set(samples) == set(doc_index) else sorted(samples)
                results, record = runner.run(cond, samples, leaves)
                try:
                    write_condition(out_dir, cfg, cond, samples, results, record, time.time() - tc)
                except OSError as exc:  # disk full, permissions changed mid-run...
                    raise UserError("output_dir", f"cannot write condition {cond.condition_id} to {out_dir} "
                                    f"({exc.strerror or exc})", "free disk space or fix permissions, then "
                                    "re-run: finished conditions are kept") from None
                lock.unlink(missing_ok=True)  # done and visible: see lm_eval_values.core.locks
            return "run"

        try:
            with cached_env_info(), quiet_lm_eval():
                busy: list[Condition] = []
                for cond in pending:
                    if max_conditions is not None and len(computed) >= max_conditions:
                        break
                    outcome = run_one(cond, wait=False)
                    if outcome == "busy":
                        busy.append(cond)
                        continue
                    if outcome == "run":
                        computed.append(cond.condition_id)
                        items_run += n_items[cond.condition_id]
                    else:
                        n_skipped += 1  # finished by another sweep into this folder
                    bar.update(n_items[cond.condition_id])
                for cond in busy:  # run by another sweep: wait for it, redo it only if it was not finished
                    if max_conditions is not None and len(computed) >= max_conditions:
                        break
                    if run_one(cond, wait=True) == "run":
                        computed.append(cond.condition_id)
                        items_run += n_items[cond.condition_id]
                    else:
                        n_skipped += 1
                    bar.update(n_items[cond.condition_id])
        finally:
            bar.close()
            runner.close()
    elapsed_run = time.time() - t_run
    finished = [c for c in mine if is_finished(out_dir, c)]
    complete = len(finished) == len(mine)
    files = None
    matrix_path = out_dir / matrix_file(suffix)
    if finished:
        tables = build_tables(read_conditions(out_dir, [c.condition_id for c in finished]), cfg.score_metric)
        files = write_tables(out_dir, tables, suffix)
    atomic_write_json(out_dir / manifest_file(suffix),
                      build_manifest(cfg, all_conds, n_items, shard, files, complete))
    summary = SweepSummary(out=out_dir, n_conditions=len(mine), n_run=len(computed), n_skipped=n_skipped,
                           n_items_run=items_run, elapsed_s=elapsed_run, matrix_path=matrix_path, computed=computed,
                           load_s=load_s, total_s=time.time() - t0)
    print(f"sweep: {summary.n_run} conditions run ({items_run} items in {elapsed_run:.1f} s, "
          f"{summary.items_per_s:.2f} items/s; model load {load_s:.1f} s), {n_skipped} skipped, "
          f"total {summary.total_s:.1f} s -> {matrix_path}", file=sys.stderr)
    return summary
