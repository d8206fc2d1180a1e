"""lm-eval registration: tasks folder, TaskManager, models, the console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


from lm_eval_values import tasks_dir


def test_tasks_dir_is_inside_package_and_has_yaml():
    d = tasks_dir()
    assert d.is_dir()
    assert (d / "__init__.py").exists()


def test_register_models_keeps_builtins():
    from lm_eval.api.registry import get_model

    from lm_eval_values.integration.registration import register_models

    register_models()
    register_models()  # idempotent
    assert get_model("hf").__name__ == "HFLM"
    assert get_model("dummy").__name__ == "DummyLM"
    assert get_model("values_hf").__name__ == "ValuesHFLM"


def test_cli_help_lists_own_commands():
    out = subprocess.run([sys.executable, "-m", "lm_eval_values.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "tasks-dir" in out.stdout and "fetch-model" in out.stdout


def test_cli_tasks_dir_prints_folder():
    out = subprocess.run([sys.executable, "-m", "lm_eval_values.cli", "tasks-dir"], capture_output=True, text=True)
    assert out.returncode == 0
    assert Path(out.stdout.strip()) == tasks_dir()
