"""Shared pytest fixtures: tiny random models (built offline once per session), shared data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def _isolated_caches(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """Keep HF / datasets / our own caches inside the test run; never touch the network.

    ``LM_EVAL_VALUES_HOME`` is an empty folder too (as on a fresh machine), except for real-model
    runs (``-m slow``), which use the user's cache of fetched models."""
    root = tmp_path_factory.mktemp("caches")
    saved = {k: os.environ.get(k) for k in ("HF_HOME", "HF_DATASETS_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
                                            "WANDB_MODE", "TOKENIZERS_PARALLELISM", "LM_EVAL_VALUES_HOME")}
    os.environ.update(HF_HOME=str(root / "hf"), HF_DATASETS_CACHE=str(root / "datasets"), HF_HUB_OFFLINE="1",
                      HF_DATASETS_OFFLINE="1", WANDB_MODE="disabled", TOKENIZERS_PARALLELISM="false")
    if "slow" not in (request.config.getoption("-m") or "").replace("not slow", ""):
        os.environ["LM_EVAL_VALUES_HOME"] = str(root / "lm_eval_values_home")
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tiny models on a small shared CPU: one torch thread is much faster than oversubscribed threads."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random models: {'gpt2': dir, 'llama': dir (with chat template), 'gemma3': dir}."""
    from lm_eval_values.testing import ARCHS, build_tiny_model

    root = tmp_path_factory.mktemp("tiny_models")
    return {arch: build_tiny_model(root / arch, arch=arch) for arch in ARCHS}


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_models: dict[str, Path]) -> Path:
    """The default tiny model (Llama shape, with a chat template)."""
    return tiny_models["llama"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` next to the repository; skips the test when absent."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip("../shared/data is not available")
    return path


@pytest.fixture(scope="session")
def valuebench_csv(shared_data: Path) -> Path:
    path = shared_data / "valuebench" / "value_orientation.csv"
    if not path.is_file():
        pytest.skip("ValueBench CSV not available")
    return path
