"""Where lm-eval-values keeps its cache and its task folders, and how user-given paths are expanded.

``$LM_EVAL_VALUES_HOME`` (default ``~/.cache/lm_eval_values``) holds converted embedded models
(``models/``) and locally trained SAEs (``saes/``). Config files may name paths under it as
``$LM_EVAL_VALUES_HOME/...``: the variable expands to the default when it is unset, so a bundled
config works for every user whatever their cache location.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import lm_eval_values.tasks as tasks_package

HOME_VARIABLE = "LM_EVAL_VALUES_HOME"
_HOME_TOKEN = re.compile(r"\$\{LM_EVAL_VALUES_HOME\}|\$LM_EVAL_VALUES_HOME(?![A-Za-z0-9_])")


def cache_home() -> Path:
    """``$LM_EVAL_VALUES_HOME`` or ``~/.cache/lm_eval_values``."""
    return Path(os.environ.get(HOME_VARIABLE) or Path.home() / ".cache" / "lm_eval_values").expanduser()


def expand_path(text: str) -> Path:
    """``~`` and ``$LM_EVAL_VALUES_HOME`` (set or not) expanded; nothing else is substituted."""
    return Path(_HOME_TOKEN.sub(lambda _: str(cache_home()), text)).expanduser()


def tasks_dir() -> Path:
    """The folder holding this package's lm-eval task YAMLs (wheel or editable install)."""
    return Path(tasks_package.__file__).resolve().parent
