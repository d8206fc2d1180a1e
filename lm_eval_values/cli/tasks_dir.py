"""``lm-eval-values tasks-dir``: print the task folder for stock ``lm_eval --include_path``."""

from __future__ import annotations

from lm_eval_values.core.errors import ArgumentParser
from lm_eval_values.core.paths import tasks_dir


def main(argv: list[str]) -> int:
    """``lm-eval-values tasks-dir``: print the folder for ``lm_eval --include_path``."""
    parser = ArgumentParser(prog="lm-eval-values tasks-dir", description=main.__doc__)
    parser.parse_args(argv)
    print(tasks_dir())
    return 0
