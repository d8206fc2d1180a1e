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


def test_include_path_given_as_one_string_is_one_folder(tmp_path):
    """``get_task_manager(include_path="dir")``: one folder, not its characters (which made lm-eval index
    every task YAML below ``/``, running their ``!function`` code)."""
    import pytest

    from lm_eval_values.core.paths import tasks_dir
    from lm_eval_values.integration.registration import get_task_manager, include_paths

    assert include_paths(str(tmp_path)) == [str(tmp_path)] and include_paths(tmp_path) == [tmp_path]
    assert include_paths(None) == [] and include_paths([]) == [] and include_paths(("a", "b")) == ["a", "b"]
    with pytest.raises(TypeError):
        include_paths(42)
    (tmp_path / "mine.yaml").write_text("task: robust_mine\ndataset_path: json\noutput_type: loglikelihood\n"
                                        "doc_to_text: x\ndoc_to_target: y\n")
    tm = get_task_manager(include_path=str(tmp_path))
    assert "robust_mine" in tm.all_tasks and "values_schwartz" in tm.all_tasks
    assert {str(p) for p in tm.include_path} == {str(tmp_path), str(tasks_dir())}
