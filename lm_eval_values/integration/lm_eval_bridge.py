"""Run the stock lm-eval CLI with this package's tasks, models and model aliases.

``lm-eval-values <anything lm_eval accepts>`` ends up here. We

1. register our models after lm-eval's own (see :mod:`lm_eval_values.integration.registration`);
2. make every ``TaskManager`` the CLI creates include our task folder (and accept
   ``values_*`` globs without duplicate-task errors);
3. resolve embedded-model aliases in ``--model_args pretrained=...`` to cached folders
   (fetching on first use);

then hand over to lm-eval's own argument parser, so every flag and subcommand behaves
exactly as in ``lm_eval``.
"""

from __future__ import annotations

import re
import sys
from typing import Sequence

from lm_eval_values.integration.embedded_models import is_alias, resolve_model_path
from lm_eval_values.integration.registration import register_models, task_manager_class

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


def install_into_lm_eval() -> None:
    """Register models and route lm-eval's TaskManager through ours (idempotent)."""
    import lm_eval.tasks

    register_models()
    lm_eval.tasks.TaskManager = task_manager_class()


def run_lm_eval(argv: Sequence[str]) -> int:
    """Run lm-eval's own CLI on ``argv`` with our registrations in place."""
    from lm_eval.__main__ import cli_evaluate

    install_into_lm_eval()
    argv = resolve_model_args_aliases(argv)
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
