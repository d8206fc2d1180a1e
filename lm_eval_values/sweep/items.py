"""Which items a sweep asks: the value tasks loaded once, indexed by value, sampled per condition.

Item sampling: for each (seed, role, value), ``round(fraction x n_items)`` items (at least one)
are drawn with ``random.Random("<sampling.seed>|<seed>|<role_id>|<value>")``, the same for every
steering setting of that role (as in the study, where the seed was role name + value name).
"""

from __future__ import annotations

import math
import random
from typing import Any

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.hashing import canonical_json
from lm_eval_values.integration.registration import get_task_manager
from lm_eval_values.sweep.conditions import Condition
from lm_eval_values.sweep.config import SweepConfig

#: task -> list of (doc index, value display name, item id, key: +1 keyed towards the value, -1 reverse-keyed)
DocIndex = dict[str, list[tuple[int, str, str, int]]]


_TASK_MANAGERS: dict[str, Any] = {}


def make_task_manager(cfg: SweepConfig):
    """The plugin's TaskManager with the config's extra task folders and metadata.

    Indexing the task folders takes seconds, so one manager is kept per (folders, metadata)
    for the life of the process (task loading does not change the index).
    """
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
