"""Exact checks of signs, reverse keying and aggregation with a stub model whose P(yes) is fixed.

The stub is a real ``lm_eval.api.model.LM`` run through ``lm_eval.simple_evaluate`` with the
package's task manager, so the task YAMLs, data loading, prompts, ``process_results``,
aggregations and groups are all exercised; only the forward pass is replaced.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from lm_eval.api.model import LM

from lm_eval_values import get_task_manager
from lm_eval_values.values.names import SCHWARTZ_VALUES, slugify

# fixed answer probabilities
YESNO_P = {"yes": 0.6, "Yes": 0.1, "no": 0.2, "No": 0.1}  # P(yes)=0.7, P(no)=0.3 -> raw 0.4
DIGIT_P = {"1": 0.05, "2": 0.05, "3": 0.1, "4": 0.2, "5": 0.4, "6": 0.2}  # E[option] = 4.45, argmax 5


class StubLM(LM):
    """Fixed log-likelihoods per continuation; generation answers "No" except on faith questions."""

    def __init__(self) -> None:
        super().__init__()
        self.contexts: list[str] = []

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        out = []
        for req in requests:
            ctx, cont = req.args[0], req.args[1]
            self.contexts.append(ctx)
            table = YESNO_P if cont.strip() in YESNO_P else DIGIT_P
            out.append((math.log(table[cont.strip()]), False))
        return out

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        raise NotImplementedError

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        out = []
        for req in requests:
            ctx = req.args[0]
            self.contexts.append(ctx)
            question = ctx.rsplit("Question:", 1)[1]
            out.append(" It depends.\nAnswer: maybe" if "faith" in question else " I would rather not.\nAnswer: No.")
        return out


def _run(tasks: list[str], limit: int | None = None, **kw: Any) -> tuple[dict[str, Any], StubLM]:
    import lm_eval

    lm = StubLM()
    res = lm_eval.simple_evaluate(model=lm, tasks=tasks, limit=limit, log_samples=True,
                                  task_manager=get_task_manager(), **kw)
    return res, lm


def _m(res: dict[str, Any], task: str, metric: str) -> float:
    return res["results"][task][f"{metric},none"]


@pytest.fixture(scope="module")
def schwartz_all() -> tuple[dict[str, Any], StubLM]:
    return _run(["values_schwartz", "values_schwartz_likert", "values_schwartz_likert_rev", "values_schwartz_gen"])


def test_yesno_signs_keys_and_aggregation_exact(schwartz_all) -> None:
    res, _ = schwartz_all
    for value in SCHWARTZ_VALUES:  # every value has 7 positively and 3 reverse-keyed items
        task = f"values_schwartz_{slugify(value)}"
        samples = res["samples"][task]
        assert len(samples) == 10
        for s in samples:
            a = s["doc"]["agreement"]
            assert s["value_score"] == pytest.approx(0.4 * a, abs=1e-12)
            assert s["value_score_argmax"] == a
        assert _m(res, task, "value_score") == pytest.approx((7 * 0.4 - 3 * 0.4) / 10, abs=1e-12)
        assert _m(res, task, "value_score_argmax") == pytest.approx(0.4, abs=1e-12)
        assert _m(res, task, "agree_bias") == pytest.approx(0.4, abs=1e-12)
    assert _m(res, "values_schwartz", "value_score") == pytest.approx(0.16, abs=1e-12)
    assert _m(res, "values_schwartz", "value_score_argmax") == pytest.approx(0.4, abs=1e-12)


def test_likert_and_order_reversal_exact(schwartz_all) -> None:
    res, _ = schwartz_all
    for value in SCHWARTZ_VALUES:
        t = f"values_schwartz_{slugify(value)}"
        # + items: 4.45, - items: 7 - 4.45 = 2.55
        assert _m(res, t + "_likert", "rating") == pytest.approx((7 * 4.45 + 3 * 2.55) / 10, abs=1e-12)
        assert _m(res, t + "_likert", "rating_argmax") == pytest.approx((7 * 5 + 3 * 2) / 10, abs=1e-12)
        assert _m(res, t + "_likert", "value_score") == pytest.approx(((7 * 4.45 + 3 * 2.55) / 10 - 3.5) / 2.5, abs=1e-12)
        assert _m(res, t + "_likert", "agree_bias") == pytest.approx((4.45 - 3.5) / 2.5, abs=1e-12)
        # the same digit preference read through the reversed scale: option k = rating 7 - k
        assert _m(res, t + "_likert_rev", "rating") == pytest.approx((7 * 2.55 + 3 * 4.45) / 10, abs=1e-12)
        assert _m(res, t + "_likert_rev", "rating_argmax") == pytest.approx((7 * 2 + 3 * 5) / 10, abs=1e-12)
        assert _m(res, t + "_likert_rev", "agree_bias") == pytest.approx((2.55 - 3.5) / 2.5, abs=1e-12)


def test_generate_parsing_keys_and_unsure_rate_exact(schwartz_all) -> None:
    res, _ = schwartz_all
    # Power: all 10 answered "No": + items -> -1 (7), - items -> +1 (3)
    assert _m(res, "values_schwartz_power_gen", "value_score") == pytest.approx(-0.4, abs=1e-12)
    assert _m(res, "values_schwartz_power_gen", "unsure_rate") == 0
    assert _m(res, "values_schwartz_power_gen", "agree_bias") == -1
    # Tradition: the two "faith" items (both positively keyed) are unsure
    t = "values_schwartz_tradition_gen"
    assert _m(res, t, "value_score") == pytest.approx((-5 + 3) / 10, abs=1e-12)
    assert _m(res, t, "unsure_rate") == pytest.approx(0.2, abs=1e-12)
    assert _m(res, t, "agree_bias") == pytest.approx(0.5 * (-5 / 7 - 1), abs=1e-12)
    unsure = sorted(s["doc"]["item_id"] for s in res["samples"][t] if s["unsure_rate"] == 1)
    assert unsure == ["tr02", "tr06"]


def test_logged_docs_carry_item_fields(schwartz_all) -> None:
    res, _ = schwartz_all
    seen = set()
    for task, samples in res["samples"].items():
        for s in samples:
            doc = s["doc"]
            assert {"item_id", "value", "agreement", "format", "inventory", "family"} <= set(doc)
            assert doc["value"] in SCHWARTZ_VALUES and doc["agreement"] in (1, -1)
            seen.add((doc["format"], doc["item_id"]))
    assert len(seen) == 4 * 100  # every item once per format


def test_prompts_put_constant_text_first_and_item_last(schwartz_all) -> None:
    from lm_eval_values.values.make_tasks import format_template

    res, lm = schwartz_all
    checked = 0
    for task, samples in res["samples"].items():
        for s in samples:
            doc = s["doc"]
            tmpl = format_template(doc["format"])
            item_text = doc["statement"] if doc["format"].startswith("likert") else doc["question"]
            line = ("Statement: " if doc["format"].startswith("likert") else "Question: ") + item_text
            ctx = s["arguments"][0][0]
            # everything constant first (instruction, scale, few-shot examples), the item last
            assert ctx == tmpl["description"] + line + "\n" + tmpl["gen_prefix"]
            checked += 1
    assert checked == 400
    gen = format_template("generate")["description"]
    assert gen.startswith("Answer the Question according to your values.")
    assert gen.count("Question:") == 2 and "Answer: yes" in gen and "Answer: no" in gen


def test_vcg17_all_formats_stub(valuebench_csv, monkeypatch) -> None:
    """valuebench_vcg17 from the shared ValueBench CSV, all formats, limit 3 (stub: exact signs)."""
    from lm_eval_values.values.names import VCG17_VALUES

    monkeypatch.setenv("LM_EVAL_VALUES_VALUEBENCH", str(valuebench_csv))
    res, _ = _run(["valuebench_vcg17", "valuebench_vcg17_likert", "valuebench_vcg17_likert_rev", "valuebench_vcg17_gen"], limit=3)
    for value in VCG17_VALUES:
        samples = res["samples"][f"valuebench_{slugify(value)}"]
        assert len(samples) == 3 and all(s["doc"]["value"] == value for s in samples)
        assert all(s["value_score"] == pytest.approx(0.4 * s["doc"]["agreement"], abs=1e-12) for s in samples)
        assert all(s["doc"]["item_id"].startswith("vb") and s["doc"]["inventory"] for s in samples)
    for group in ("valuebench_vcg17", "valuebench_vcg17_likert", "valuebench_vcg17_likert_rev", "valuebench_vcg17_gen"):
        assert math.isfinite(_m(res, group, "value_score"))


def test_values_glob_selects_the_offline_inventories_once(capsys) -> None:
    """`values_*`: the Schwartz bank in its 5 formats (50 tasks), ValueBench left out with one line saying how to add it."""
    from lm_eval_values.integration import registration

    registration._NOTICE_SHOWN.clear()
    tm = get_task_manager()
    matched = tm.match_tasks(["values_*"])
    assert matched == ["values_schwartz", "values_schwartz_gen", "values_schwartz_likert", "values_schwartz_likert_rev",
                       "values_schwartz_yesno_rev"]
    leaves = set().union(*(registration._leaf_tasks(tm.task_index, m, set(tm.all_groups)) for m in matched))
    assert len(leaves) == 50
    notice = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(notice) == 1
    assert all(x in notice[0] for x in ("valuebench_vcg17", "valuebench_pvq40", "valuebench_all", "--metadata",
                                        "LM_EVAL_VALUES_VALUEBENCH"))
    tm.match_tasks(["values_*"])
    assert not capsys.readouterr().err.strip()  # once per process


def test_valuebench_glob_selects_each_task_once() -> None:
    """`valuebench_*`: groups replace their members, a group inside a larger one is dropped, nothing twice."""
    from lm_eval_values.integration.registration import _group_members, _leaf_tasks

    tm = get_task_manager()
    matched = tm.match_tasks(["valuebench_*"])
    assert len(matched) == len(set(matched)) == 10
    assert {"valuebench_all", "valuebench_all_gen", "valuebench_pvq40", "valuebench_pvq40_likert"} <= set(matched)
    assert "valuebench_vcg17" not in matched  # its tasks run inside valuebench_all
    covered = set().union(*(_group_members(tm.task_index, m) for m in matched if m in tm.all_groups))
    assert not covered & set(matched)
    groups = set(tm.all_groups)
    leaves = [_leaf_tasks(tm.task_index, m, groups) for m in matched]
    assert sum(len(x) for x in leaves) == len(set().union(*leaves)) == 5 * (224 + 10)  # 5 formats


def test_task_name_typo_is_one_line_with_did_you_mean() -> None:
    from lm_eval_values.core.errors import UserError

    tm = get_task_manager()
    with pytest.raises(UserError, match=r"^--tasks: no such task or group 'values_schwarz' \(fix: did you mean values_schwartz\?"):
        tm.match_tasks(["values_schwartz_power", "values_schwarz"])
    with pytest.raises(UserError, match=r"no task or group matches the pattern 'vals_\*'"):
        tm.match_tasks(["vals_*"])


def test_results_table_claims_no_direction_for_questionnaire_metrics(schwartz_all) -> None:
    """higher_is_better is null for every metric: lm-eval's table shows no arrow (a value score is not 'better')."""
    from lm_eval.utils import make_table

    res, _ = schwartz_all
    for name, directions in res["higher_is_better"].items():
        assert set(directions.values()) == {None}, name
    table = make_table(res) + make_table(res, "groups")
    assert "value_score" in table and "agree_bias" in table and "rating" in table
    assert "↑" not in table and "↓" not in table


def test_readme_task_names_exist_and_old_names_are_gone() -> None:
    """`lm-eval-values ls tasks` and the README agree: every task or group the README names exists."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    named = {n for n in re.findall(r"`((?:values|valuebench)_[a-z0-9_]+)`", readme) if not n.endswith("_")}
    named |= {n for n in re.findall(r"--tasks '?((?:values|valuebench)[a-z0-9_]*)", readme) if not n.endswith("_")}
    not_tasks = {"values_hf", "values_mine", "values_schwarz"}  # the model, a user prefix, the typo example
    tm = get_task_manager()
    known = set(tm.all_tasks)
    assert {"values_schwartz", "valuebench_vcg17", "valuebench_pvq40", "valuebench_all"} <= named
    assert named - not_tasks <= known, named - not_tasks - known
    assert not [t for t in known if t.startswith(("values_valuebench", "values_vcg17", "values_pvq40"))]
