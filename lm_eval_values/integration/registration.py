"""Make this package's tasks and models visible to lm-eval.

lm-eval 0.4.13 has no plugin mechanism for tasks or models:

* tasks are found through ``include_path``: :func:`tasks_dir` is the folder to pass,
  :func:`get_task_manager` returns a ready :class:`ValuesTaskManager`;
* models are registered by :func:`register_models` AFTER ``lm_eval.models`` has filled
  the registry with the built-in lazy placeholders (registering earlier leaves the
  registry non-empty, so lm-eval never imports its own models and ``--model hf``
  breaks). Later lm-eval releases read the ``lm_eval.models`` entry point declared in
  ``pyproject.toml`` instead.
"""

from __future__ import annotations

import difflib
import fnmatch
import sys
from pathlib import Path
from typing import Any, Sequence

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.paths import tasks_dir
from lm_eval_values.values.inventory import VALUEBENCH_TASK_PREFIX, valuebench_hint

#: model name -> lazy "module:Class" target
MODELS: dict[str, str] = {"values_hf": "lm_eval_values.model.values_hf:ValuesHFLM"}
#: model name -> lazy "module:function" checking its ``--model_args`` dict without loading weights
MODEL_ARG_CHECKS: dict[str, str] = {"values_hf": "lm_eval_values.model.values_hf:check_model_args"}


def register_models() -> None:
    """Register this package's lm-eval models (idempotent, keeps built-ins working)."""
    import lm_eval.models  # noqa: F401  (fills the registry with built-in placeholders first)
    from lm_eval.api.registry import model_registry

    for name, target in MODELS.items():
        if name not in model_registry:
            model_registry.register(name, target=target)


def _group_members(index: dict[str, Any], name: str, seen: set[str] | None = None) -> set[str]:
    """All names (subgroups and leaf tasks) reachable from group ``name`` in a task index."""
    seen = set() if seen is None else seen
    entry = index.get(name)
    cfg = getattr(entry, "cfg", None) or {}
    members = cfg.get("task") or []
    if isinstance(members, str):
        members = [members]
    out: set[str] = set()
    for member in members:
        member_name = member.get("task") if isinstance(member, dict) else member
        if not isinstance(member_name, str) or member_name in seen:
            continue
        seen.add(member_name)
        out.add(member_name)
        out |= _group_members(index, member_name, seen)
    return out


def _leaf_tasks(index: dict[str, Any], name: str, groups: set[str]) -> frozenset[str]:
    """The leaf tasks (not groups or tags) reachable from ``name``."""
    return frozenset(m for m in _group_members(index, name) if m not in groups)


def _is_glob(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def drop_covered(matches: list[str], index: dict[str, Any], groups: set[str]) -> list[str]:
    """Matches of a glob without repeats: a name that a matched group already contains is dropped,
    and so is a matched group whose tasks another matched group runs (``valuebench_vcg17`` inside
    ``valuebench_all``), so lm-eval never sees one task twice."""
    covered: set[str] = set()
    leaves: dict[str, frozenset[str]] = {}
    for name in matches:
        if name in groups:
            covered |= _group_members(index, name)
            leaves[name] = _leaf_tasks(index, name, groups)
    kept = [m for m in matches if m not in covered]
    subsumed = {g for g in leaves if g in kept and any(
        h != g and h in kept and leaves[g] and (leaves[g] < leaves[h] or (leaves[g] == leaves[h] and h < g))
        for h in leaves)}
    return [m for m in kept if m not in subsumed]


#: the prefixes of this package's task and group names (no lm-eval task starts with them)
OWN_TASK_PREFIXES: tuple[str, ...] = ("values", f"{VALUEBENCH_TASK_PREFIX}")
#: printed once per process when a ``values_*`` glob runs (see :func:`valuebench_hint`)
_NOTICE_SHOWN: set[str] = set()


def _notice_values_glob(pattern: str) -> None:
    """One line on stderr: what ``values_*`` leaves out (ValueBench) and how to add it."""
    if pattern in _NOTICE_SHOWN or fnmatch.fnmatchcase(f"{VALUEBENCH_TASK_PREFIX}_x", pattern):
        return
    if not fnmatch.fnmatchcase("values_schwartz", pattern):
        return
    _NOTICE_SHOWN.add(pattern)
    print(f"lm-eval-values: {pattern} runs the offline inventories only. {valuebench_hint()}.", file=sys.stderr)


def unknown_task_error(name: str, known: Sequence[str]) -> UserError:
    """The one-line error for a task name that matches nothing, with the closest names."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.75)
    if close:
        fix = f"did you mean {close[0]}?" + (f" (also close: {', '.join(close[1:])})" if close[1:] else "")
    else:
        fix = "`lm-eval-values ls tasks` lists every task and group (ours start with values_ or valuebench_)"
    what = "no task or group matches the pattern" if _is_glob(name) else "no such task or group"
    return UserError("--tasks", f"{what} {name!r}", fix)


def include_paths(include_path: Any) -> list[str | Path]:
    """``include_path`` as a list of folders: one folder (``str`` / ``Path``) or a list / tuple of them.

    A single string is one folder, never a sequence of one-character folders (which would make
    lm-eval index every task YAML below ``/``).
    """
    if include_path is None:
        return []
    if isinstance(include_path, (str, Path)):
        return [include_path] if str(include_path) else []
    if isinstance(include_path, (list, tuple)) and all(isinstance(p, (str, Path)) for p in include_path):
        return [p for p in include_path if str(p)]
    raise TypeError(f"include_path must be a folder or a list of folders, got {type(include_path).__name__}")


def _make_task_manager_class() -> type:
    from lm_eval.tasks import TaskManager

    class ValuesTaskManager(TaskManager):
        """A TaskManager that always includes this package's tasks.

        It also makes glob patterns such as ``values_*`` usable: a name that a matched
        group already contains is dropped from the matches, so a group and its own
        members are never both requested (stock lm-eval raises "Duplicate task"). A name
        that matches nothing is a one-line :class:`UserError` with the closest names
        (``values_schwarz`` -> ``values_schwartz``), raised before any model loads.
        """

        def __init__(self, *args: Any, include_path: Any = None, **kwargs: Any) -> None:
            paths = include_paths(include_path)
            ours = tasks_dir()
            if not any(Path(p).resolve() == ours for p in paths):
                paths.append(ours)
            super().__init__(*args, include_path=paths, **kwargs)

        def match_tasks(self, task_list: list[str]) -> list[str]:
            matches = super().match_tasks(task_list)
            for name in task_list:
                if not isinstance(name, str) or name.endswith((".yaml", ".yml")) or Path(name).is_dir():
                    continue  # lm-eval's own routes for config files and folders
                if not super().match_tasks([name]):
                    raise unknown_task_error(name, self.all_tasks)
                if _is_glob(name):
                    _notice_values_glob(name)
            if not any(_is_glob(t) for t in task_list if isinstance(t, str)):
                return matches
            return drop_covered(matches, self.task_index, set(self.all_groups) | set(self.all_tags))

    return ValuesTaskManager


_TM_CLASS: type | None = None


def task_manager_class() -> type:
    """The :class:`ValuesTaskManager` class (a subclass of lm-eval's TaskManager)."""
    global _TM_CLASS
    if _TM_CLASS is None:
        _TM_CLASS = _make_task_manager_class()
    return _TM_CLASS


def get_task_manager(include_defaults: bool = False, include_path: str | Path | Sequence[str | Path] | None = None,
                     **kwargs: Any):
    """A lm-eval ``TaskManager`` with this package's tasks, for ``lm_eval.simple_evaluate``.

    Args:
        include_defaults: also index lm-eval's ~14,700 built-in tasks (about 5 s slower).
        include_path: an extra task folder of your own, or a list of them.
        **kwargs: passed to ``TaskManager`` (e.g. ``metadata``).

    Example::

        import lm_eval
        from lm_eval_values import get_task_manager
        lm_eval.simple_evaluate(model="hf", model_args="pretrained=...", tasks=["values_schwartz"],
                                task_manager=get_task_manager())
    """
    cls = task_manager_class()
    return cls(include_path=include_paths(include_path), include_defaults=include_defaults, **kwargs)
