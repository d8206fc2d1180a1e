"""Option-order counterbalancing: the reversed yes/no format, the counterbalanced sweep formats and the
per-item combination of both orders (matrix and reliability tables).

A stub model with fixed, ORDER-DEPENDENT answer probabilities gives exact expected scores; the
sweep test runs the real ``values_hf`` model on the tiny fixture.
"""

from __future__ import annotations

import io
import json
import math
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from lm_eval.api.model import LM

from lm_eval_values import get_task_manager
from lm_eval_values.measurement.table import check_items, respondent_cells
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.condition_files import ConditionFiles
from lm_eval_values.matrix.tables import build_tables
from lm_eval_values.sweep.items import balanced_sample, select_items
from lm_eval_values.sweep.config import parse_config, resolve_task_names

#: P(yes) when the prompt names 'yes' first / 'no' first: raw answers +0.6 / -0.2, counterbalanced +0.2
P_YES = {"yes_first": 0.8, "no_first": 0.4}
#: a pure position bias on the 6 option numbers: E[option] = 4.45 in either listing
DIGIT_P = {"1": 0.05, "2": 0.05, "3": 0.1, "4": 0.2, "5": 0.4, "6": 0.2}
TASKS = ["values_schwartz_tradition", "values_schwartz_tradition_yesno_rev",
         "values_schwartz_tradition_likert", "values_schwartz_tradition_likert_rev"]


class OrderStubLM(LM):
    """P(yes) depends on which option the instruction names first; Likert digits have a fixed position bias."""

    def __init__(self) -> None:
        super().__init__()

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        out = []
        for req in requests:
            ctx, cont = req.args[0], req.args[1].strip()
            if cont in DIGIT_P:
                out.append((math.log(DIGIT_P[cont]), False))
                continue
            p_yes = P_YES["yes_first" if "'yes' or 'no'" in ctx else "no_first"]
            p = p_yes if cont.lower() == "yes" else 1 - p_yes
            out.append((math.log(p / 2), False))  # two spellings each
        return out

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        raise NotImplementedError

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        raise NotImplementedError


@pytest.fixture(scope="module")
def stub_run() -> dict[str, Any]:
    import lm_eval

    return lm_eval.simple_evaluate(model=OrderStubLM(), tasks=TASKS, log_samples=True,
                                   task_manager=get_task_manager())


def test_reversed_yesno_prompt_names_no_first_and_scores_keyed(stub_run) -> None:
    fwd, rev = stub_run["samples"][TASKS[0]], stub_run["samples"][TASKS[1]]
    assert len(fwd) == len(rev) == 10
    assert all("Answer the question with 'yes' or 'no'." in s["arguments"][0][0] for s in fwd)
    for s in rev:
        ctx = s["arguments"][0][0]
        assert "Answer the question with 'no' or 'yes'." in ctx and "'yes' or 'no'" not in ctx
        assert s["doc"]["format"] == "yesno_rev"
    for s in fwd:
        assert s["value_score"] == pytest.approx(0.6 * s["doc"]["agreement"], abs=1e-9)
    for s in rev:  # same scoring: the reversed prompt's answer, keyed
        assert s["value_score"] == pytest.approx(-0.2 * s["doc"]["agreement"], abs=1e-9)
        assert s["value_score_argmax"] == -s["doc"]["agreement"]
    assert {s["doc"]["item_id"] for s in fwd} == {s["doc"]["item_id"] for s in rev}
    # acquiescence of the reversed order alone: mean unkeyed answer -0.2 for both keys
    assert stub_run["results"][TASKS[1]]["agree_bias,none"] == pytest.approx(-0.2, abs=1e-9)


def _items_table(run: dict[str, Any], tmp_path: Path, tasks: list[str]) -> tuple[pd.DataFrame, str]:
    """The tool's item table and matrix of one condition holding ``tasks``' logged samples."""
    files = {}
    for task in tasks:
        path = tmp_path / f"samples_{task}.jsonl"
        path.write_text("\n".join(json.dumps(s, default=str) for s in run["samples"][task]) + "\n")
        files[task] = path
    meta = {"condition_id": "c0", "role_id": "r1", "split": "train", "steering_id": "none", "coefficient": 0.0,
            "seed": 0}
    tables = build_tables([ConditionFiles(meta=meta, order=(0, 0, "c0"), sample_files=files, source="stub")])
    return check_items(pd.read_csv(io.StringIO(tables.items_csv), dtype={"role_id": str}, keep_default_na=False)), \
        tables.matrix_csv


def test_counterbalanced_yesno_is_the_mean_of_both_orders_per_item(stub_run, tmp_path) -> None:
    items, matrix_csv = _items_table(stub_run, tmp_path, TASKS[:2])
    assert len(items) == 20 and set(items["format"]) == {"yesno", "yesno_rev"}
    cells = respondent_cells(items)
    assert len(cells) == 10 and set(cells["n_repeats"]) == {2}
    for row in cells.itertuples():  # (0.6 + (-0.2)) / 2 = 0.2, keyed
        assert row.score == pytest.approx(0.2 * row.agreement, abs=1e-9)
    tradition = pd.read_csv(io.StringIO(matrix_csv))["Tradition"].iloc[0]
    keys = items.drop_duplicates("item_id")["agreement"]
    assert tradition == pytest.approx(0.2 * keys.mean(), abs=1e-6)  # 7 keyed, 3 reverse-keyed: 0.08


def test_likert_over_both_orders_cancels_a_position_bias(stub_run, tmp_path) -> None:
    items, _ = _items_table(stub_run, tmp_path, TASKS[2:])
    normal = items[items["format"] == "likert"]
    assert normal["score"].tolist() == pytest.approx(((4.45 - 3.5) / 2.5 * normal["agreement"]).tolist())
    cells = respondent_cells(items)
    assert set(cells["n_repeats"]) == {2}
    # the same option position in both listings is rating 4.45 once and 7 - 4.45 once: expected rating 3.5
    assert cells["score"].abs().max() == pytest.approx(0.0, abs=1e-9)


def test_counterbalanced_formats_resolve_to_both_task_sets() -> None:
    assert resolve_task_names(["values_schwartz"], "yesno_cb") == ["values_schwartz", "values_schwartz_yesno_rev"]
    assert resolve_task_names(["valuebench_vcg17", "valuebench_pvq40"], "likert_cb") == [
        "valuebench_vcg17_likert", "valuebench_vcg17_likert_rev", "valuebench_pvq40_likert", "valuebench_pvq40_likert_rev"]
    assert resolve_task_names(["values_schwartz_yesno_rev"], "yesno") == ["values_schwartz_yesno_rev"]
    with pytest.raises(UserError, match="yesno_cb"):
        resolve_task_names(["values_schwartz"], "yes_no")


def _config(**sampling: Any):
    return parse_config({"model_args": {"pretrained": "smollm2-135m-instruct"}, "tasks": ["values_schwartz"],
                         "roles": {"generate": {"train": 2, "test": 0, "seed": 0}}, "sampling": sampling})


def test_items_are_drawn_by_id_so_both_orders_are_asked_together() -> None:
    # two tasks (orders) with the same 10 item ids of one value: 7 keyed, 3 reverse-keyed
    ids = [(f"tr{j:02d}", 1 if j < 7 else -1) for j in range(10)]
    index = {"t": [(j, "Tradition", i, k) for j, (i, k) in enumerate(ids)],
             "t_rev": [(j, "Tradition", i, k) for j, (i, k) in enumerate(reversed(ids))]}
    cfg = _config(max_items_per_value=6, seed=0, per_role=False, balance_keys="equal")
    chosen = select_items(index, cfg, cfg.conditions()[0])
    fwd = {ids[j][0] for j in chosen["t"]}
    rev = {ids[9 - j][0] for j in chosen["t_rev"]}
    assert fwd == rev and len(fwd) == 6
    assert sum(dict(ids)[i] == -1 for i in fwd) == 3  # equal keys: 3 + 3


def test_equal_and_proportional_key_balance() -> None:
    items = [(f"i{j}", "t", j, 1 if j < 7 else -1) for j in range(10)]
    keys = lambda draw: (sum(it[3] == 1 for it in draw), sum(it[3] == -1 for it in draw))  # noqa: E731
    assert keys(balanced_sample(random.Random(0), items, 6)) == (4, 2)
    assert keys(balanced_sample(random.Random(0), items, 6, equal=True)) == (3, 3)
    assert keys(balanced_sample(random.Random(0), items, 8, equal=True)) == (5, 3)  # only 3 reverse-keyed
    assert keys(balanced_sample(random.Random(0), items, 2, equal=True)) == (1, 1)
    assert _config(balance_keys="equal").sampling.record()["balance_keys"] == "equal"
    with pytest.raises(UserError, match="balance_keys"):
        _config(balance_keys="yes")


def test_demo_draw_is_unchanged() -> None:
    """The item draw of a single-format sweep does not change with the draw by item id."""
    from lm_eval_values.sweep.items import load_doc_index, make_task_manager

    cfg = _config(max_items_per_value=2, seed=0, per_role=False, balance_keys=True)
    index = load_doc_index(cfg, make_task_manager(cfg))
    chosen = select_items(index, cfg, cfg.conditions()[1])
    drawn = sorted(index[t][i][2] for t, ix in chosen.items() for i in ix)
    assert drawn[:6] == ["ac03", "ac10", "be02", "be09", "co01", "co08"] and "po02" in drawn and "po10" in drawn


def test_counterbalanced_sweep_on_the_tiny_model(tmp_path, tiny_model_dir) -> None:
    """format: yesno_cb through the real sweep: both orders of the same drawn items, averaged per item."""
    from lm_eval_values.measurement.table import read_items
    from lm_eval_values.sweep.run import run_sweep
    from lm_eval_values.sweep.config import load_config

    cfg = {"model": "values_hf", "model_args": {"pretrained": str(tiny_model_dir)}, "tasks": ["values_schwartz"],
           "format": "yesno_cb", "roles": {"generate": {"train": 1, "test": 0, "seed": 0}, "no_role": True},
           "sampling": {"max_items_per_value": 2, "seed": 0, "per_role": False, "balance_keys": "equal"},
           "batch_size": 8, "output_dir": str(tmp_path / "out")}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run_sweep(load_config(path), progress=False)
    items = read_items(tmp_path / "out")
    assert len(items) == 2 * 10 * 2 * 2  # conditions x values x items x orders
    per = items.groupby(["condition_id", "item_id"])["format"].apply(sorted)
    assert all(f == ["yesno", "yesno_rev"] for f in per)
    matrix = pd.read_csv(tmp_path / "out" / "matrix.csv", keep_default_na=False, dtype={"role_id": str})
    for row in matrix.itertuples():
        mine = items[(items["condition_id"] == row.condition_id) & (items["value"] == "Power")]
        assert row.Power == pytest.approx(mine["score"].mean(), abs=2e-6)
    cells = respondent_cells(items)
    assert len(cells) == 2 * 20 and set(cells["n_repeats"]) == {2}
    from lm_eval_values.measurement.intervals import IntervalSettings
    from lm_eval_values.measurement.run import ReliabilitySettings, run_reliability

    result = run_reliability(tmp_path / "out", ReliabilitySettings(intervals=IntervalSettings(n_boot=100)))
    assert result["formats"] == ["yesno", "yesno_rev"] and result["values"]["Power"]["k_items"] == 2
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["resolved"]["format"] == "yesno_cb"
    assert manifest["resolved"]["tasks"] == ["values_schwartz", "values_schwartz_yesno_rev"]
