"""Run the stock lm-eval CLI with this package's tasks, models and model aliases.

``lm-eval-values <anything lm_eval accepts>`` ends up here. We

1. register our models after lm-eval's own (see :mod:`lm_eval_values.integration.registration`);
2. make every ``TaskManager`` the CLI creates include our task folder (and accept
   ``values_*`` globs without duplicate-task errors);
3. resolve embedded-model aliases in ``--model_args pretrained=...`` to cached folders
   (fetching on first use);
4. check that ``--output_path`` can be written, and our models' ``--model_args`` (names,
   steering, layers against the model's ``config.json``), BEFORE lm-eval indexes its tasks and
   loads the model (lm-eval finds a bad output folder only when it saves the results);

then hand over to lm-eval's own argument parser, so every flag and subcommand behaves
exactly as in ``lm_eval``.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from typing import Sequence

from lm_eval_values.core.atomic import check_output_dir

from lm_eval_values.integration.embedded_models import is_alias, resolve_model_path
from lm_eval_values.integration.registration import (MODEL_ARG_CHECKS, OWN_TASK_PREFIXES, get_task_manager,
                                                     register_models, task_manager_class)

_MODEL_ARGS_FLAGS = ("--model_args", "-a")
_ALIAS_KEYS = ("pretrained", "tokenizer")


def resolve_model_args_aliases(argv: Sequence[str]) -> list[str]:
    """Replace ``pretrained=<alias>`` in model-args tokens by the cached model folder."""
    out: list[str] = []
    in_model_args = False
    for token in argv:
        if token.startswith("-") and not token.startswith(_MODEL_ARGS_FLAGS[0] + "="):
            in_model_args = token in _MODEL_ARGS_FLAGS
            out.append(token)
            continue
        prefix = ""
        body = token
        if token.startswith(_MODEL_ARGS_FLAGS[0] + "="):
            prefix, body = _MODEL_ARGS_FLAGS[0] + "=", token.split("=", 1)[1]
            in_model_args = False
        elif not in_model_args:
            out.append(token)
            continue

        def _sub(match: re.Match[str]) -> str:
            key, value = match.group(1), match.group(2)
            return f"{key}={resolve_model_path(value)}" if is_alias(value) else match.group(0)

        body = re.sub(r"\b(%s)=([^,\s\"']+)" % "|".join(_ALIAS_KEYS), _sub, body)
        out.append(prefix + body)
    return out


_OUTPUT_FLAGS = ("--output_path", "-o")
_MODEL_FLAGS = ("--model", "-m")


def flag_value(argv: Sequence[str], flags: Sequence[str]) -> str | None:
    """The value of the first of ``flags`` in ``argv`` (``--flag v`` or ``--flag=v``; None when absent)."""
    args = list(argv)
    for i, token in enumerate(args):
        for flag in flags:
            if flag.startswith("--") and token.startswith(flag + "="):
                return token.split("=", 1)[1]
            if token == flag and i + 1 < len(args):
                return args[i + 1]
    return None


def output_path_of(argv: Sequence[str]) -> str | None:
    """The value of ``--output_path`` / ``-o`` in ``argv`` (None when absent)."""
    return flag_value(argv, _OUTPUT_FLAGS)


def check_task_names_early(argv: Sequence[str]) -> None:
    """A mistyped name of one of our tasks (``values_schwarz``) fails in a second, not after lm-eval has
    indexed its ~14,700 tasks: names with our prefixes are matched against our tasks (and
    ``--include_path``) alone. No lm-eval task starts with these prefixes."""
    names = [t.strip() for t in (flag_value(argv, ("--tasks", "-t")) or "").split(",") if t.strip()]
    ours = [t for t in names if t.startswith(OWN_TASK_PREFIXES) and not t.endswith((".yaml", ".yml"))
            and not Path(t).is_dir()]
    if not ours:
        return
    include = flag_value(argv, ("--include_path",))
    get_task_manager(include_path=[include] if include else None).match_tasks(ours)


def check_model_args_early(argv: Sequence[str]) -> None:
    """Run the ``--model_args`` check of our model named by ``--model`` (:data:`MODEL_ARG_CHECKS`), if any.

    The check is imported by name, like lm-eval's own lazy model registry, so that commands which
    never run a model do not import torch.
    """
    target = MODEL_ARG_CHECKS.get(flag_value(argv, _MODEL_FLAGS) or "")
    if target is None:
        return
    from lm_eval.utils import simple_parse_args_string

    raw = flag_value(argv, _MODEL_ARGS_FLAGS) or ""
    try:
        model_args = json.loads(raw) if raw.strip().startswith("{") else simple_parse_args_string(raw)
    except ValueError:
        return  # lm-eval reports a malformed --model_args itself
    if not isinstance(model_args, dict):
        return
    module_name, _, function = target.partition(":")
    getattr(importlib.import_module(module_name), function)(model_args)


def check_output_path(argv: Sequence[str]) -> None:
    """One-line :class:`UserError` now, not after the evaluation, if ``--output_path`` cannot be written.

    lm-eval writes into the folder (or, for a ``.json`` path, into its parent folder).
    """
    out = output_path_of(argv)
    if out:
        path = Path(out).expanduser()
        check_output_dir(path.parent if path.suffix == ".json" else path, "--output_path")


def install_into_lm_eval() -> None:
    """Register models and route lm-eval's TaskManager through ours (idempotent)."""
    import lm_eval.tasks

    register_models()
    lm_eval.tasks.TaskManager = task_manager_class()


def run_lm_eval(argv: Sequence[str]) -> int:
    """Run lm-eval's own CLI on ``argv`` with our registrations in place."""
    from lm_eval.__main__ import cli_evaluate

    check_output_path(argv)
    argv = resolve_model_args_aliases(argv)
    check_task_names_early(argv)
    check_model_args_early(argv)
    install_into_lm_eval()
    saved = sys.argv
    sys.argv = ["lm-eval-values", *argv]
    try:
        cli_evaluate()
    except SystemExit as exc:  # argparse --help / errors
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = saved
    return 0
