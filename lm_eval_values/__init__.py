"""lm-eval-values: value questionnaires, steering and causal value graphs for lm-eval.

Public API::

    from lm_eval_values import get_task_manager, tasks_dir, register_models
"""

from __future__ import annotations

__version__ = "0.1.0"

from lm_eval_values.core.paths import tasks_dir
from lm_eval_values.integration.registration import get_task_manager, register_models

__all__ = ["__version__", "get_task_manager", "register_models", "tasks_dir"]
