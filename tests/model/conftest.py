"""Fixtures of the model tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", autouse=True)
def _skip_env_report():
    """lm-eval's add_env_info runs `pip list` in subprocesses (~3 s per evaluation): skip it here."""
    import lm_eval.evaluator

    saved = lm_eval.evaluator.add_env_info
    lm_eval.evaluator.add_env_info = lambda results: None
    yield
    lm_eval.evaluator.add_env_info = saved
