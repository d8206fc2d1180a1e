"""ICC(1), design effect and effective n: known truth first, then the study's Gemma data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lm_eval_values.causal.discovery import discover
from lm_eval_values.causal.sample_size import (SampleSizeSetting, design_effect, effective_sample_size, icc_oneway,
                                               role_means)
from lm_eval_values.causal.simulate import SimulationSetting, simulate_study
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.matrix.value_matrix import ValueMatrix


def _one_way(n_groups: int, sizes: np.ndarray, icc: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_groups), sizes)
    effect = rng.normal(0, np.sqrt(icc), size=n_groups)[groups]
    y = effect + rng.normal(0, np.sqrt(1 - icc), size=len(groups))
    return pd.DataFrame({"y": y}), groups


def test_icc_recovers_the_truth_balanced_and_unbalanced() -> None:
    est_bal = [icc_oneway(*_one_way(300, np.full(300, 11), 0.55, s))["y"] for s in range(5)]
    assert np.mean(est_bal) == pytest.approx(0.55, abs=0.03)
    sizes = np.random.default_rng(9).integers(3, 20, size=300)
    est_unb = [icc_oneway(*_one_way(300, sizes, 0.3, s))["y"] for s in range(5)]
    assert np.mean(est_unb) == pytest.approx(0.3, abs=0.03)
    est_zero = icc_oneway(*_one_way(300, np.full(300, 5), 0.0, 1))["y"]
    assert abs(est_zero) < 0.05


def test_design_effect_and_effective_n() -> None:
    assert design_effect(0.55, 11) == pytest.approx(6.5)
    assert design_effect(0.55, 11, "correlation") == pytest.approx(1 + 10 * 0.55 ** 2)
    assert design_effect(-0.2, 11) == 1.0 and design_effect(1.4, 11) == 11.0
    # identical rows within a role: rho = 1, the effective n is the number of roles
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 3))
    scores = pd.DataFrame(np.repeat(base, 5, axis=0) + 1e-9 * rng.normal(size=(200, 3)), columns=list("abc"))
    meta = pd.DataFrame({"condition_id": [str(i) for i in range(200)],
                         "role_id": np.repeat([f"r{i}" for i in range(40)], 5),
                         "split": "train", "steering_id": np.tile([f"s{k}" for k in range(5)], 40),
                         "coefficient": 0.0, "seed": 0})[list(META_COLUMNS)]
    est = effective_sample_size(ValueMatrix(scores, meta))
    assert est.rho == pytest.approx(1.0, abs=1e-6) and est.n_effective == pytest.approx(40.0, rel=1e-5)


def test_simulated_icc_matches_the_setting() -> None:
    setting = SimulationSetting(shift=0.0)
    est = [effective_sample_size(simulate_study(setting, seed=s).matrix).rho for s in range(4)]
    assert np.mean(est) == pytest.approx(setting.icc, abs=0.04)


def test_study_data_icc_effective_n_and_edges(gemma_train: ValueMatrix) -> None:
    est = effective_sample_size(gemma_train)
    assert est.n_rows == 1111 and est.n_clusters == 101 and est.cluster_size == 11.0
    assert est.rho == pytest.approx(0.546, abs=0.001)
    lo, hi = est.icc_range()
    assert lo == pytest.approx(0.389, abs=0.001) and hi == pytest.approx(0.747, abs=0.001)
    assert est.design_effect == pytest.approx(6.459, abs=0.001) and est.n_effective == pytest.approx(172.0, abs=0.1)
    edges = {n: discover(gemma_train, sample_size=n).n_edges for n in ("rows", 500, 101)}
    assert edges == {"rows": 44, 500: 25, 101: 1}
    kish = discover(gemma_train, sample_size={"mode": "effective", "design": "kish"})
    assert kish.n_edges == 6 and kish.meta["sample_size"]["n"] == pytest.approx(172.0, abs=0.1)
    pairwise = discover(gemma_train, sample_size="effective")  # the default design
    assert pairwise.meta["sample_size"]["estimate"]["design"] == "pairwise"
    assert 6 <= pairwise.n_edges < 44
    means = role_means(gemma_train)
    assert means.n_rows == 101 and discover(means).n_edges == 8


def test_sample_size_setting_parsing_and_refusals() -> None:
    assert SampleSizeSetting.parse(None).mode == "rows"
    assert SampleSizeSetting.parse("250").mode == 250.0
    s = SampleSizeSetting("effective", combine="max", design="kish")
    assert SampleSizeSetting.from_dict(s.to_dict()) == s
    for bad in ("lots", -3, True, {"mode": "rows", "colour": 1}):
        with pytest.raises(UserError):
            SampleSizeSetting.parse(bad)  # type: ignore[arg-type]
    study = simulate_study(seed=0).matrix
    with pytest.raises(UserError, match="needs role ids"):
        discover(study.scores, sample_size="effective")
    with pytest.raises(UserError, match="only Fisher-z"):
        discover(study.scores.iloc[:60], indep_test="kci", sample_size=50)
