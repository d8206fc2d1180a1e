"""Joint Causal Inference: designed targets recovered; contexts exogenous, never tested against each
other, and conditioned on in every test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lm_eval_values.causal import fast_ci
from lm_eval_values.causal.background import Background
from lm_eval_values.causal.discovery import discover
from lm_eval_values.causal.jci import context_nodes, intervention_targets, jci_background
from lm_eval_values.causal.simulate import simulate_study, target_recovery
from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.matrix.value_matrix import ValueMatrix


def _two_settings_one_target(n_roles: int = 150, seed: int = 0) -> ValueMatrix:
    """Settings s1 and s2 both shift value a; a -> b; c is unrelated; roles are clusters."""
    rng = np.random.default_rng(seed)
    rows, meta = [], []
    for r in range(n_roles):
        role = rng.normal(size=3) * 0.7
        for s in ("none", "s1", "s2"):
            a = role[0] + {"none": 0.0, "s1": 1.0, "s2": -1.0}[s] + 0.7 * rng.normal()
            b = 0.6 * a + role[1] + 0.7 * rng.normal()
            c = role[2] + 0.7 * rng.normal()
            rows.append({"a": a, "b": b, "c": c})
            meta.append({"condition_id": f"{r}|{s}", "role_id": f"r{r}", "split": "train", "steering_id": s,
                         "coefficient": 1.0, "seed": 0})
    return ValueMatrix(pd.DataFrame(rows), pd.DataFrame(meta)[list(META_COLUMNS)])


def test_jci_recovers_designed_targets_on_simulation() -> None:
    tp = fp = fn = 0
    for seed in range(3):
        study = simulate_study(seed=seed)
        g = discover(study.matrix, exogenous_knobs="steering", sample_size="effective")
        r = target_recovery(g, study)
        tp, fp, fn = tp + r["tp"], fp + r["fp"], fn + r["fn"]
    assert tp + fn == 30  # 3 seeds x 10 settings x 1 target
    assert tp / (tp + fp) >= 0.9 and tp / (tp + fn) >= 0.85


def test_contexts_are_an_untested_exogenous_block(monkeypatch: pytest.MonkeyPatch) -> None:
    vm = _two_settings_one_target()
    tested: list[tuple[int, int, tuple[int, ...]]] = []
    original = fast_ci.FastFisherZ._pvalue

    def spy(self: fast_ci.FastFisherZ, x: int, y: int, cond: tuple[int, ...]) -> float:
        tested.append((x, y, cond))
        return original(self, x, y, cond)

    monkeypatch.setattr(fast_ci.FastFisherZ, "_pvalue", spy)
    g = discover(vm, exogenous_knobs="steering", sample_size="effective")
    ctx = context_nodes(g)
    assert ctx == ["steer=s1", "steer=s2"] and g.meta["context_block"] == ctx
    block = {i for i, n in enumerate(g.nodes) if n in ctx}
    assert tested and not any(x in block and y in block for x, y, _ in tested)  # never tested against each other
    assert all(block - {x, y} <= set(cond) for x, y, cond in tested)  # every test conditions on the other contexts
    assert not g.has_edge("steer=s1", "steer=s2")  # the block is not part of the returned graph
    assert intervention_targets(g) == {"steer=s1": ["a"], "steer=s2": ["a"]}
    for c in ctx:
        for n in g.nodes:
            if g.has_edge(c, n):
                assert g.edge_kind(c, n) == "-->"  # exogenous: every context edge points out of the context
    assert g.edge_kind("a", "b") == "-->"  # oriented thanks to the contexts (s -> a - b, s not adjacent to b)


def test_fast_and_causallearn_tests_agree_with_contexts() -> None:
    vm = simulate_study(seed=1).matrix
    fast = discover(vm, exogenous_knobs="steering")
    slow = discover(vm, exogenous_knobs="steering", fast_fisherz=False)  # causal-learn's fisherz in the block wrapper
    assert fast == slow and len(context_nodes(fast)) == 10


def test_jci_background_and_the_kept_option_name() -> None:
    bg = jci_background(["steer=a", "steer=b"], ["X", "Y", "Z"], Background(tiers=[["X"], ["Y"]],
                                                                         forbid_within_tiers=[1]))
    assert bg.tiers == [["steer=a", "steer=b"], ["X"], ["Y"]]
    assert bg.forbid_within_tiers == [0, 2]  # contexts stay out of each other's adjacency search; user tiers move down
    assert set(bg.forbidden) == {("Z", "steer=a"), ("Z", "steer=b")}  # Z is in no tier: forbidden explicitly
    g = discover(_two_settings_one_target(12), exogenous_knobs=True)  # the earlier option name: roles and steering
    assert g.meta["exogenous_knobs"] == "all" and len(context_nodes(g)) == 11 + 2


def test_fci_with_contexts_at_the_effective_n() -> None:
    study = simulate_study(seed=0)
    g = discover(study.matrix, algo="fci", exogenous_knobs="steering", sample_size="effective")
    rec = target_recovery(g, study)
    assert rec["precision"] == 1.0 and rec["recall"] >= 0.9
    for c, hits in intervention_targets(g).items():
        for v in hits:
            assert g.mark(v, c) == "arrow" and g.mark(c, v) != "arrow"  # into the value, never into the context
