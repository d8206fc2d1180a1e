"""Every task family and answer format through ``lm_eval.simple_evaluate`` on the tiny fixtures.

Real forward passes on tiny random models (seconds); generation is capped at a few tokens.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from lm_eval_values import get_task_manager
from lm_eval_values.values.names import VCG17_VALUES, slugify
from lm_eval_values.values.scoring import score_doc

DOC_FIELDS = {"item_id", "value", "agreement", "format", "inventory", "family"}


def _evaluate(model_dir, tasks: list[str], limit: int, **kw: Any) -> dict[str, Any]:
    import lm_eval

    return lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={model_dir},device=cpu", tasks=tasks,
                                   limit=limit, batch_size=64, log_samples=True, gen_kwargs="max_gen_toks=3",
                                   task_manager=get_task_manager(), **kw)


def _check(res: dict[str, Any], task: str, fmt: str, n: int) -> None:
    r = res["results"][task]
    assert -1 <= r["value_score,none"] <= 1 and -1 <= r["value_score_argmax,none"] <= 1
    if fmt.startswith("likert"):
        assert 1 <= r["rating,none"] <= 6
    if fmt == "generate":
        assert 0 <= r["unsure_rate,none"] <= 1
    samples = res["samples"][task]
    assert len(samples) == n
    for s in samples:
        assert DOC_FIELDS <= set(s["doc"]) and s["doc"]["format"] == fmt


def test_schwartz_every_format_with_chat_template(tiny_models) -> None:
    """Llama-shaped tiny model with a chat template, --apply_chat_template and a system role."""
    tasks = ["values_schwartz_tradition", "values_schwartz_tradition_yesno_rev", "values_schwartz_tradition_likert",
             "values_schwartz_tradition_likert_rev", "values_schwartz_tradition_gen"]
    res = _evaluate(tiny_models["llama"], tasks, 2, apply_chat_template=True,
                    system_instruction="You are a devout person.")
    for task, fmt in zip(tasks, ("yesno", "yesno_rev", "likert", "likert_rev", "generate")):
        _check(res, task, fmt, 2)
    ctx = res["samples"]["values_schwartz_tradition"][0]["arguments"][0][0]
    assert ctx.startswith("<|im_start|>system\nYou are a devout person.")
    assert ctx.rstrip().endswith("Answer:")  # assistant turn continued with the answer prefix
    rev = res["samples"]["values_schwartz_tradition_yesno_rev"]
    assert "with 'no' or 'yes'." in rev[0]["arguments"][0][0] and "'yes' or 'no'" not in rev[0]["arguments"][0][0]
    fwd = {s["doc"]["item_id"]: s for s in res["samples"]["values_schwartz_tradition"]}
    for s in rev:  # same items, keyed the same way; only the prompt differs
        assert s["doc"]["item_id"] in fwd and s["doc"]["agreement"] == fwd[s["doc"]["item_id"]]["doc"]["agreement"]
        full = score_doc(s["doc"], s["filtered_resps"])
        assert s["value_score"] == pytest.approx(s["doc"]["agreement"] * full["raw"], abs=1e-9)


def test_schwartz_groups_and_umbrella_plain_text(tiny_models) -> None:
    res = _evaluate(tiny_models["gpt2"], ["values", "values_schwartz_gen"], 1)
    for group in ("values", "values_schwartz", "values_schwartz_gen"):
        assert math.isfinite(res["results"][group]["value_score,none"])
    assert len([t for t in res["samples"] if not t.endswith("_gen")]) == 10


def test_vcg17_and_pvq40_every_format(tiny_models, valuebench_csv, monkeypatch) -> None:
    """valuebench_vcg17 with the shared ValueBench CSV, limit 3, all formats (+ PVQ-40)."""
    monkeypatch.setenv("LM_EVAL_VALUES_VALUEBENCH", str(valuebench_csv))
    groups = {"valuebench_vcg17": "yesno", "valuebench_vcg17_likert": "likert", "valuebench_vcg17_likert_rev": "likert_rev",
              "valuebench_vcg17_gen": "generate"}
    res = _evaluate(tiny_models["gpt2"], [*groups, "valuebench_pvq40_tradition", "valuebench_pvq40_tradition_gen"], 3)
    suffix = {"yesno": "", "likert": "_likert", "likert_rev": "_likert_rev", "generate": "_gen"}
    for group, fmt in groups.items():
        assert math.isfinite(res["results"][group]["value_score,none"])
        for value in VCG17_VALUES:
            _check(res, f"valuebench_{slugify(value)}{suffix[fmt]}", fmt, 3)
    pvq = res["samples"]["valuebench_pvq40_tradition"]
    assert {s["doc"]["inventory"] for s in pvq} == {"PVQ40"} and {s["doc"]["value"] for s in pvq} == {"Tradition"}
