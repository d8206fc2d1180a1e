"""The benchmark scripts' helpers against the package's current API, on a tiny model (no benchmark is timed)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture()
def bench_common() -> Any:
    saved = dict(os.environ)
    module = importlib.import_module("benchmarks.common")
    for key in set(os.environ) - set(saved):  # the benchmarks' environment defaults stay out of other tests
        del os.environ[key]
    return module


def test_requests_of_sees_the_role_the_model_sees(bench_common: Any, tiny_model_dir: Path) -> None:
    from lm_eval_values.model.values_hf import ValuesHFLM

    lm = ValuesHFLM(pretrained=str(tiny_model_dir), batch_size=4, device="cpu", dtype="float32")
    lm.set_condition(role=bench_common.STUDY_ROLE)
    lm.role_mode = "prefix"
    td = bench_common.task_dict(["bench_study_yesno_fewshot"],
                                bench_common.task_manager(str(bench_common.study_fewshot_task_dir())))
    reqs = bench_common.requests_of(lm, td)
    assert reqs and all(ctx.startswith(bench_common.STUDY_ROLE + "\n\n") for (ctx, _), _, _ in reqs)
    assert all(len(c) > 0 and len(k) > 0 for _, c, k in reqs)
