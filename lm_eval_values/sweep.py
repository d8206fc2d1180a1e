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
complete (:func:`lm_eval_values.atomic.atomic_directory`), so a SIGKILL at any point loses at most
the condition in flight; a re-run skips every condition whose folder exists. The condition id is a
hash of everything that determines its result (model, model_args, tasks, format, sampling, seed,
role text, steering), so a changed config never reuses a stale result. Shards (``--shard i/N``)
run disjoint conditions (round robin over the grid) and write shard-named tables and manifests,
so N shards can share one output folder; ``lm-eval-values merge`` joins them.

Item sampling: for each (seed, role, value), ``round(fraction x n_items)`` items (at least one)
are drawn with ``random.Random("<sampling.seed>|<seed>|<role_id>|<value>")``, the same for every
steering setting of that role (as in the study, where the seed was role name + value name).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from lm_eval_values.atomic import TMP_PREFIX, atomic_directory, atomic_write_json, check_output_dir
from lm_eval_values.errors import ArgumentParser, UserError
from lm_eval_values.matrix import (CONDITION_FILE, CONDITIONS_DIR, RESULTS_FILE, build_tables, read_conditions,
                                   write_tables)
from lm_eval_values.sweep_config import (Condition, SweepConfig, canonical_json, load_config, parse_shard,
                                         sha256_hex, shard_conditions)

MANIFEST_FORMAT = "lm-eval-values/sweep-manifest"
MANIFEST_VERSION = 1

#: task -> list of (doc index, value display name, item id, key: +1 keyed towards the value, -1 reverse-keyed)
DocIndex = dict[str, list[tuple[int, str, str, int]]]


# ----------------------------------------------------------------------------- tasks and sampling
_TASK_MANAGERS: dict[str, Any] = {}


def make_task_manager(cfg: SweepConfig):
    """The plugin's TaskManager with the config's extra task folders and metadata.

    Indexing the task folders takes seconds, so one manager is kept per (folders, metadata)
    for the life of the process (task loading does not change the index).
    """
    from lm_eval_values.registration import get_task_manager

    metadata = dict(cfg.task_metadata)
    key = canonical_json({"include": [str(p) for p in cfg.include_path], "metadata": metadata})
    if key not in _TASK_MANAGERS:
        kwargs: dict[str, Any] = {"metadata": metadata} if metadata else {}
        _TASK_MANAGERS[key] = get_task_manager(include_path=[str(p) for p in cfg.include_path], **kwargs)
    return _TASK_MANAGERS[key]


def load_doc_index(cfg: SweepConfig, task_manager: Any) -> DocIndex:
    """Load the config's tasks once and index every doc by value and item id.

    Raises:
        UserError: unknown task names, or docs without a ``value`` field.
    """
    try:
        loaded = task_manager.load(list(cfg.tasks))
    except (KeyError, ValueError) as exc:
        known = ", ".join(sorted(n for n in task_manager.all_subtasks if n.startswith("values"))[:20])
        raise UserError("tasks", f"cannot load {cfg.tasks} ({str(exc).splitlines()[0][:200]})",
                        f"use task names such as: {known or 'values_schwartz'}") from None
    index: DocIndex = {}
    for name in sorted(loaded["tasks"]):
        task = loaded["tasks"][name]
        entries = []
        for i, doc in enumerate(task.eval_docs):
            if not isinstance(doc, dict) or "value" not in doc:
                raise UserError("tasks", f"docs of task {name!r} carry no 'value' field",
                                "use lm-eval-values value tasks (values_*) or tasks whose docs have value/item_id")
            entries.append((i, str(doc["value"]), str(doc.get("item_id", f"{name}:{i}")),
                            -1 if _number_or(doc.get("agreement"), 1) < 0 else 1))
        if not entries:
            raise UserError("tasks", f"task {name!r} has no documents", "check the task's data source")
        index[name] = entries
    if not index:
        raise UserError("tasks", f"{cfg.tasks} matched no tasks", "check the task names")
    return index


def select_items(doc_index: DocIndex, cfg: SweepConfig, cond: Condition) -> dict[str, list[int]]:
    """Doc indices to ask in ``cond`` per task (sorted; tasks with no chosen item are left out)."""
    frac = cfg.sampling.fraction_for(cond.role.split)
    cap = cfg.sampling.max_items_per_value
    by_value: dict[str, list[tuple[str, str, int, int]]] = {}
    asked_in: dict[str, list[tuple[str, int]]] = {}  # item id -> every (task, doc) asking it (both option orders)
    for task, entries in doc_index.items():
        for i, value, item_id, key in entries:
            by_value.setdefault(value, []).append((item_id, task, i, key))
            asked_in.setdefault(item_id, []).append((task, i))
    chosen: dict[str, list[int]] = {t: [] for t in doc_index}
    for value in sorted(by_value):
        # items are drawn by item id: an item asked in several formats (counterbalanced orders) is drawn once
        items = sorted({it[0]: it for it in sorted(by_value[value], reverse=True)}.values())
        k = len(items) if frac >= 1 else max(1, int(math.floor(frac * len(items) + 0.5)))
        if cap is not None:
            k = min(k, cap)
        if k < len(items):
            key = (f"{cfg.sampling.seed}|{cond.seed}|{cond.role.id}|{value}" if cfg.sampling.per_role
                   else f"all-roles|{cfg.sampling.seed}|{cond.seed}|{value}")   # the same draw for every role
            rng = random.Random(key)
            items = sorted(balanced_sample(rng, items, k, equal=cfg.sampling.balance_keys == "equal")
                           if cfg.sampling.balance_keys else rng.sample(items, k))
        for item_id, *_ in items:
            for task, i in asked_in[item_id]:
                chosen[task].append(i)
    return {t: sorted(ix) for t, ix in chosen.items() if ix}


def _number_or(x: Any, default: float) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return default


def balanced_sample(rng: random.Random, items: list[tuple[str, str, int, int]], k: int,
                    equal: bool = False) -> list[tuple[str, str, int, int]]:
    """``k`` of ``items`` with the keys (last field, +1 / -1) in proportion to the whole set
    (``equal``: in equal numbers, as far as each key has items).

    Each key gets the floor of its share, at least one when ``k`` allows one per key; the rest goes
    to the largest remainders (ties: the reverse key first); a key with fewer items than its equal
    share gives the shortfall to the other key. Within a key the draw is ``rng.sample``. With 7
    positive and 3 reverse items: k = 2 -> 1 + 1, k = 4 -> 3 + 1, k = 6 -> 4 + 2; equal: k = 6 ->
    3 + 3, k = 8 -> 5 + 3.
    """
    groups = {key: [it for it in items if it[3] == key] for key in (1, -1)}
    groups = {key: g for key, g in groups.items() if g}
    share = {key: k * (1 / len(groups) if equal else len(g) / len(items)) for key, g in groups.items()}
    take = {key: int(math.floor(x)) for key, x in share.items()}
    if k >= len(groups):  # with two keys this never overshoots k: a share below 1 has floor 0
        take = {key: max(1, n) for key, n in take.items()}
    order = sorted(groups, key=lambda key: (-(share[key] - math.floor(share[key])), key))
    for key in order:
        if sum(take.values()) >= k:
            break
        take[key] += 1
    for key in groups:  # only an equal share can exceed a key's items: move the excess to the other key
        excess = take[key] - len(groups[key])
        if excess > 0:
            take[key] -= excess
            for other in groups:
                if other != key:
                    take[other] = min(len(groups[other]), take[other] + excess)
    out: list[tuple[str, str, int, int]] = []
    for key in sorted(groups, reverse=True):
        out += rng.sample(groups[key], min(take[key], len(groups[key])))
    return out


# ----------------------------------------------------------------------------- the model
def default_device(device: str | None) -> str:
    """``device`` or, when unset, ``cuda`` if available else ``cpu``."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class ConditionRunner:
    """A model loaded once, evaluated under one condition at a time."""

    def __init__(self, cfg: SweepConfig, task_manager: Any) -> None:
        import lm_eval.api.registry

        from lm_eval_values.embedded_models import resolve_model_path
        from lm_eval_values.registration import register_models

        register_models()
        self.cfg = cfg
        self.task_manager = task_manager
        args = dict(cfg.model_args)
        args["pretrained"] = resolve_model_path(str(args["pretrained"]))
        cls = lm_eval.api.registry.get_model(cfg.model)
        self.lm = cls.create_from_arg_obj(args, {"batch_size": cfg.batch_size, "device": default_device(cfg.device)})
        self.has_set_condition = hasattr(self.lm, "set_condition")
        if cfg.model == "values_hf" and not self.has_set_condition:
            raise UserError("model", "this values_hf model has no set_condition()", "update lm-eval-values")

    def check_steering(self, settings: dict[str, Any]) -> None:
        """Compile every steering setting against the loaded model once, before any condition runs.

        Raises:
            UserError: a spec that does not fit the model (layer, feature index, SAE width...).
        """
        if not self.has_set_condition:
            return
        from steering_hooks.errors import SpecError

        try:
            for key, setting in settings.items():
                if setting.steer is not None:
                    self.lm.set_condition(role=None, role_id=None, steer=setting.steer)
        except SpecError as exc:
            raise UserError(f"steering[{setting.id}].{exc.field}", exc.problem, exc.fix) from None
        finally:
            with contextlib.suppress(Exception):
                self.lm.set_condition(role=None, role_id=None, steer=None)

    def run(self, cond: Condition, samples: dict[str, list[int]],
            tasks: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Evaluate ``cond`` on the given doc indices; returns (lm-eval results, model condition record).

        ``tasks`` defaults to the config's task names; pass the leaf tasks of ``samples`` when some
        leaf has no chosen item (lm-eval would otherwise evaluate all of its docs).
        """
        import lm_eval

        cfg = self.cfg
        system_instruction = None
        record: dict[str, Any] = {}
        if self.has_set_condition:
            self.lm.set_condition(role=cond.role_prompt or None, role_id=cond.role.id or None,
                                  steer=cond.steering.steer)
        else:
            system_instruction = cond.role_prompt or None
        results = lm_eval.simple_evaluate(
            model=self.lm, tasks=list(tasks or cfg.tasks), task_manager=self.task_manager, log_samples=True,
            samples=samples, num_fewshot=cfg.num_fewshot, gen_kwargs=cfg.gen_kwargs,
            apply_chat_template=cfg.apply_chat_template, fewshot_as_multiturn=cfg.fewshot_as_multiturn,
            system_instruction=system_instruction, bootstrap_iters=cfg.bootstrap_iters,
            random_seed=cond.seed, numpy_random_seed=cond.seed, torch_random_seed=cond.seed,
            fewshot_random_seed=cond.seed,
        )
        if self.has_set_condition and hasattr(self.lm, "condition_record"):
            record = dict(self.lm.condition_record() or {})  # after the run: the receipt is filled in
        if results is None:  # pragma: no cover - only on non-zero ranks
            raise RuntimeError("simple_evaluate returned no results")
        return dict(results), record

    def close(self) -> None:
        """Clear any condition left on the model."""
        if self.has_set_condition:
            with contextlib.suppress(Exception):
                self.lm.set_condition(role=None, role_id=None, steer=None)


# ----------------------------------------------------------------------------- writing
def _json_default(o: Any) -> Any:
    try:
        from lm_eval.utils import handle_non_serializable

        return handle_non_serializable(o)
    except Exception:  # pragma: no cover
        return str(o)


def condition_record(cfg: SweepConfig, cond: Condition, samples: dict[str, list[int]]) -> dict[str, Any]:
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
        for task in sorted(logged):
            name = f"samples_{task}.jsonl"
            lines = [json.dumps(s, default=_json_default, ensure_ascii=False) for s in logged[task]]
            (tmp / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
            sample_files[task] = name
        (tmp / RESULTS_FILE).write_text(json.dumps(results, default=_json_default, indent=2, sort_keys=True,
                                                   ensure_ascii=False) + "\n", encoding="utf-8")
        rec = condition_record(cfg, cond, samples)
        rec.update({"sample_files": sample_files, "model_condition": model_record, "elapsed_s": round(elapsed_s, 3)})
        (tmp / CONDITION_FILE).write_text(json.dumps(rec, default=_json_default, indent=2, sort_keys=True,
                                                     ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def is_finished(out: Path, cond: Condition) -> bool:
    """True if ``cond``'s folder is complete (it only appears by an atomic rename)."""
    return (out / CONDITIONS_DIR / cond.condition_id / CONDITION_FILE).is_file()


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
def package_versions() -> dict[str, str]:
    """Versions of the packages that determine results."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("lm-eval-values", "lm_eval", "torch", "transformers", "datasets"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def identity_hash(cfg: SweepConfig) -> str:
    """Hash of what every condition of this sweep shares (model, tasks, format, sampling...)."""
    return sha256_hex(canonical_json(cfg.result_identity()))


def shard_suffix(shard: tuple[int, int]) -> str:
    """``""`` for an unsharded run, ``".shard-i-of-N"`` otherwise."""
    i, n = shard
    return "" if n == 1 else f".shard-{i}-of-{n}"


def build_manifest(cfg: SweepConfig, conds: Sequence[Condition], n_items: dict[str, int],
                   shard: tuple[int, int], files: dict[str, str] | None, complete: bool) -> dict[str, Any]:
    """The manifest (deterministic: no timestamps)."""
    mine = {c.condition_id for c in shard_conditions(conds, shard)}
    return {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "versions": package_versions(),
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
    for m in sorted(out.glob("manifest*.json")):
        try:
            old = json.loads(m.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
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


@contextlib.contextmanager
def _quiet_lm_eval() -> Iterator[None]:
    loggers = [logging.getLogger(n) for n in ("lm_eval", "lm-eval", "lm_eval.evaluator", "lm_eval.api.task")]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, old):
            lg.setLevel(lv)


@contextlib.contextmanager
def _cached_env_info() -> Iterator[None]:
    """Collect lm-eval's environment info (``pip list`` etc., ~3 s) once per process, not per condition."""
    import lm_eval.evaluator as ev

    original = ev.add_env_info
    cache: dict[str, Any] = {}

    def cached(storage: dict[str, Any]) -> None:
        if not cache:
            tmp: dict[str, Any] = {}
            original(tmp)
            cache.update(tmp)
        storage.update(cache)

    ev.add_env_info = cached
    try:
        yield
    finally:
        ev.add_env_info = original


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
    with _quiet_lm_eval():
        tm = make_task_manager(cfg)
        doc_index = load_doc_index(cfg, tm)
    selections = {c.condition_id: select_items(doc_index, cfg, c) for c in all_conds}
    n_items = {cid: sum(map(len, s.values())) for cid, s in selections.items()}
    check_output_dir(out_dir, "output_dir")  # creates nothing: a bad steering spec below leaves no folder
    _check_output_compatible(out_dir, cfg)
    pending = [c for c in mine if not is_finished(out_dir, c)]
    n_skipped = len(mine) - len(pending)
    runner: ConditionRunner | None = None
    t_load = time.time()
    if pending:
        with _quiet_lm_eval():
            runner = ConditionRunner(cfg, tm)
            runner.check_steering({c.steering.id + "|" + repr(c.steering.coefficient): c.steering for c in pending})
    load_s = time.time() - t_load
    # -- everything validated (config, tasks, model, steering specs): now write
    suffix = shard_suffix(shard)
    atomic_write_json(out_dir / f"manifest{suffix}.json", build_manifest(cfg, all_conds, n_items, shard, None, False))
    clean_own_temp_dirs(out_dir, mine)
    if n_skipped:
        print(f"sweep: {n_skipped} of {len(mine)} conditions already finished in {out_dir}; skipping them",
              file=sys.stderr)
    computed: list[str] = []
    items_run = 0
    t_run = time.time()
    if runner is not None:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(n_items[c.condition_id] for c in pending), unit="item", file=sys.stderr,
                   disable=not progress, desc="sweep", dynamic_ncols=True)
        try:
            with _cached_env_info(), _quiet_lm_eval():
                for k, cond in enumerate(pending):
                    if max_conditions is not None and k >= max_conditions:
                        break
                    bar.set_postfix_str(f"condition {k + 1}/{len(pending)} ({cond.role.id or 'no-role'}, "
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
                    computed.append(cond.condition_id)
                    items_run += n_items[cond.condition_id]
                    bar.update(n_items[cond.condition_id])
        finally:
            bar.close()
            runner.close()
    elapsed_run = time.time() - t_run
    finished = [c for c in mine if is_finished(out_dir, c)]
    complete = len(finished) == len(mine)
    files = None
    matrix_path = out_dir / f"matrix{suffix}.csv"
    if finished:
        tables = build_tables(read_conditions(out_dir, [c.condition_id for c in finished]), cfg.score_metric)
        files = write_tables(out_dir, tables, suffix)
    atomic_write_json(out_dir / f"manifest{suffix}.json",
                      build_manifest(cfg, all_conds, n_items, shard, files, complete))
    summary = SweepSummary(out=out_dir, n_conditions=len(mine), n_run=len(computed), n_skipped=n_skipped,
                           n_items_run=items_run, elapsed_s=elapsed_run, matrix_path=matrix_path, computed=computed,
                           load_s=load_s, total_s=time.time() - t0)
    print(f"sweep: {summary.n_run} conditions run ({items_run} items in {elapsed_run:.1f} s, "
          f"{summary.items_per_s:.2f} items/s; model load {load_s:.1f} s), {n_skipped} skipped, "
          f"total {summary.total_s:.1f} s -> {matrix_path}", file=sys.stderr)
    return summary


def main(argv: list[str]) -> int:
    """``lm-eval-values sweep CONFIG [--shard i/N] [--out DIR] [--no-progress]``."""
    parser = ArgumentParser(
        prog="lm-eval-values sweep",
        description="Run roles x steering settings (x seeds) with the model loaded once; write per-condition "
                    "lm-eval results and samples, matrix.csv, items.csv and manifest.json. Re-running resumes "
                    "(finished conditions are skipped).")
    parser.add_argument("config", metavar="CONFIG", help="sweep YAML (see lm_eval_values/sweep_config.py)")
    parser.add_argument("--shard", default=None, help="run shard i of N (0-based), e.g. 0/4; join with `merge`")
    parser.add_argument("--out", default=None, help="output folder (overrides output_dir in the config)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--max-conditions", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    shard = parse_shard(args.shard)
    cfg = load_config(args.config)
    summary = run_sweep(cfg, shard=shard, out=args.out, progress=not args.no_progress,
                        max_conditions=args.max_conditions)
    return 0 if summary.n_run + summary.n_skipped >= summary.n_conditions or args.max_conditions else 1
