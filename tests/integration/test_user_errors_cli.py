"""Natural mistakes on the `lm-eval-values run` path: one line, exit 2, before any weights load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_DATASETS_CACHE=str(tmp_path / "ds"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env.pop("LM_EVAL_VALUES_VALUEBENCH", None)
    return subprocess.run([str(BIN / "lm-eval-values"), "run", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def _one_error_line(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 2, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out.stderr[-3000:]
    return errors[0]


@pytest.fixture(scope="module")
def vector(tmp_path_factory) -> Path:
    import torch
    from safetensors.torch import save_file

    path = tmp_path_factory.mktemp("vec") / "v.safetensors"
    save_file({"v": torch.ones(64)}, str(path))
    return path


@pytest.mark.parametrize("case", ["coef", "layer", "task"])
def test_mistakes_are_one_line_before_loading(case: str, tiny_model_dir: Path, vector: Path, tmp_path: Path) -> None:
    model_args = {"coef": f"pretrained={tiny_model_dir},vector={vector},layer=1,coef=2",
                  "layer": f"pretrained={tiny_model_dir},vector={vector},coeff=2,layer=999",
                  "task": f"pretrained={tiny_model_dir}"}[case]
    tasks = "values_schwarz" if case == "task" else "values_schwartz"
    line = _one_error_line(_run(["--model", "values_hf", "--model_args", model_args, "--device", "cpu",
                                 "--tasks", tasks, "--limit", "1"], tmp_path))
    expected = {"coef": "error: model_args.coef: unknown model argument of values_hf (fix: did you mean coeff?",
                "layer": "error: layer: layer 999 is beyond",
                "task": "error: --tasks: no such task or group 'values_schwarz' (fix: did you mean values_schwartz?"}
    assert line.startswith(expected[case])


def test_unwritable_output_path_before_loading(tiny_model_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    line = _one_error_line(_run(["--model", "values_hf", "--model_args", f"pretrained={tiny_model_dir}",
                                 "--tasks", "values_schwartz", "--output_path", str(blocker / "out")], tmp_path))
    assert line.startswith("error: --output_path: cannot create")
