"""Reserved names: the ids and task names a user may not take, checked where the names enter.

* Steering ids (:func:`check_steering_id`): ``none`` (and whatever reads as it: ``None``, ``nan``,
  an empty id) means "unsteered" everywhere downstream (``--keep-steer none``, the baseline of every
  change table), so a steering entry that does steer may not use it; ids may not hold ``,`` (lists of
  ids are split at commas) or ``@`` (the dose separator of :func:`~lm_eval_values.core.conditions.dose_id`).
* Task names (:func:`check_new_task_names`): generated tasks, groups and tags may not take a name
  that lm-eval's own task folders or this package's tasks already define; lm-eval would silently
  index one of the two.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from pathlib import Path
from typing import Iterable, Mapping

from lm_eval_values.core.conditions import NO_STEERING, normalise_steering_id
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.paths import tasks_dir

#: characters a steering id may not contain, and why
_ID_SEPARATORS = {",": "lists of steering ids (--keep-steer) are split at commas",
                  "@": "'@' separates a steering id from its coefficient in dose ids"}
#: a top-level ``task:``, ``group:`` or ``tag:`` line of an lm-eval task YAML with a single name
_NAME_LINE = re.compile(r"^(?:task|group|tag):[ \t]*['\"]?([A-Za-z0-9_.\-]+)['\"]?[ \t]*$", re.M)
#: list items of a top-level ``tag:`` list
_TAG_LIST = re.compile(r"^tag:[ \t]*\n((?:[ \t]+-[ \t]*\S+[ \t]*\n?)+)", re.M)


def check_steering_id(sid: str, steers: bool, where: str) -> str:
    """Refuse a reserved or ambiguous steering id; returns ``sid``.

    Args:
        sid: the id as written.
        steers: whether the entry changes the model (every type but ``none``).
        where: the config field, for the message.
    """
    if steers and normalise_steering_id(sid) == NO_STEERING:
        raise UserError(where, f"steering id {sid!r} is reserved for unsteered conditions, but this entry steers "
                        "(its rows would pass as the unsteered baseline)", "give the entry another id, e.g. vec1")
    for ch, why in _ID_SEPARATORS.items():
        if ch in sid:
            raise UserError(where, f"steering id {sid!r} contains {ch!r}: {why}", "choose an id without it")
    return sid


def _names_in_yaml_text(text: str) -> set[str]:
    names = set(_NAME_LINE.findall(text))
    for block in _TAG_LIST.findall(text):
        names |= {line.strip()[1:].strip().strip("'\"") for line in block.splitlines() if line.strip()}
    return names


def _names_in_folder(root: Path) -> set[str]:
    names: set[str] = set()
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.endswith((".yaml", ".yml")):
                try:
                    names |= _names_in_yaml_text(Path(dirpath, f).read_text(encoding="utf-8", errors="replace"))
                except OSError:
                    continue
    return names


@functools.lru_cache(maxsize=1)
def known_task_names() -> frozenset[str]:
    """Task, group and tag names defined by lm-eval's own task folders and by this package's tasks.

    Read from the YAML text (about 14,000 files, 1-2 s, once per process) without indexing them with
    lm-eval's TaskManager.
    """
    names = _names_in_folder(tasks_dir())
    spec = importlib.util.find_spec("lm_eval.tasks")
    for loc in (spec.submodule_search_locations or []) if spec is not None else []:
        names |= _names_in_folder(Path(loc))
    return frozenset(names)


def generated_task_names(files: Mapping[str, str]) -> set[str]:
    """The task, group and tag names that task YAML texts (``{relative path: text}``) define."""
    return {n for rel, text in files.items() if rel.endswith((".yaml", ".yml")) for n in _names_in_yaml_text(text)}


def check_new_task_names(names: Iterable[str], field: str, fix: str) -> None:
    """Refuse task names that lm-eval or this package already define (one line naming up to 5)."""
    clash = sorted(set(names) & known_task_names())
    if clash:
        more = f" and {len(clash) - 5} more" if len(clash) > 5 else ""
        raise UserError(field, f"the generated task name(s) {', '.join(clash[:5])}{more} already name lm-eval or "
                        "lm-eval-values tasks, which they would shadow", fix)
