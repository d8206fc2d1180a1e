"""Ground truth: pooled rows at n = rows inflate the false-edge rate; the honest default holds it
below alpha; JCI recovers the designed intervention targets.

Seeds 0-7 (false edges) and 0-3 (targets) of the default :class:`SimulationSetting` (10 values,
100 roles x 11 steering settings, within-role ICC 0.55, one target per setting). The many-seed
figures are in ``benchmarks/causal_honesty.py``.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from lm_eval_values.causal.discovery import discover
from lm_eval_values.causal.sample_size import effective_sample_size
from lm_eval_values.causal.simulate import SimulationSetting, simulate_study, skeleton_errors, target_recovery

ALPHA = 0.05


def test_simulated_study_is_what_it_says() -> None:
    s = SimulationSetting()
    study = simulate_study(s, seed=0)
    assert study.matrix.scores.shape == (100 * 11, 10)
    assert nx.is_directed_acyclic_graph(study.true_dag())
    assert sorted(study.targets) == sorted(f"s{k}" for k in range(1, 11))
    assert all(len(v) == 1 for v in study.targets.values())
    assert study.matrix.meta.groupby("role_id").size().eq(11).all()
    assert effective_sample_size(study.matrix).rho == pytest.approx(s.icc, abs=0.08)
    # a designed target moves by the shift (difference of means over the same roles)
    sid, (target,) = next(iter(study.targets.items()))
    m = study.matrix
    diff = (m.scores.loc[m.meta["steering_id"] == sid, target].mean()
            - m.scores.loc[m.meta["steering_id"] == "none", target].mean())
    assert diff == pytest.approx(s.shift, abs=0.35)
    assert simulate_study(s, seed=0).matrix.scores.equals(study.matrix.scores)  # seeded


def _rates(method: str, seeds: range) -> tuple[float, float]:
    false = possible = found = true = 0
    for seed in seeds:
        study = simulate_study(seed=seed)
        size = "rows" if method == "pooled" else {"mode": "effective", "design": method}
        e = skeleton_errors(discover(study.matrix, sample_size=size), study)
        false, possible = false + e["false_edges"], possible + e["possible_false"]
        found, true = found + e["true_found"], true + e["true_edges"]
    return false / possible, found / true


def test_honest_default_holds_the_false_edge_rate_where_pooled_rows_do_not() -> None:
    seeds = range(8)
    pooled, pooled_recall = _rates("pooled", seeds)
    honest, honest_recall = _rates("pairwise", seeds)  # the default design of sample_size="effective"
    kish, _ = _rates("kish", seeds)
    assert pooled > 2 * ALPHA  # about 0.17 over 100 seeds: every row counted as independent
    assert honest <= ALPHA and kish <= ALPHA  # about 0.03 and 0.01 over 100 seeds
    assert pooled > 3 * honest
    assert honest_recall >= 0.85 and pooled_recall >= honest_recall  # the price: a little power


def test_jci_recovers_the_intervention_targets() -> None:
    tp = fp = fn = 0
    for seed in range(4):
        study = simulate_study(seed=seed)
        r = target_recovery(discover(study.matrix, exogenous_knobs="steering", sample_size="effective"), study)
        tp, fp, fn = tp + r["tp"], fp + r["fp"], fn + r["fn"]
    assert tp + fn == 40
    assert tp / (tp + fp) >= 0.95 and tp / (tp + fn) >= 0.9


def test_pooling_interventions_without_contexts_loses_the_targets() -> None:
    study = simulate_study(seed=0)
    g = discover(study.matrix, sample_size="effective")
    assert not any(n.startswith("steer=") for n in g.nodes)
    assert np.isnan(target_recovery(g, study)["precision"])  # nothing to say about targets without contexts
