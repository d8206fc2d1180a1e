"""lm-eval hooks for the task YAMLs in this folder (written by lm_eval_values.values.make_tasks)."""

from lm_eval_values.values.inventory import load_task_dataset as custom_dataset  # noqa: F401
from lm_eval_values.values.scoring import acquiescence_index, process_results  # noqa: F401
