"""Intervals of value means: role AND item sampling (two-way bootstrap, variance components) vs roles only."""

from __future__ import annotations

import numpy as np
import pytest

from lm_eval_values.measurement.intervals import (IntervalSettings, bootstrap_weights, value_profile,
                                               weighted_group_means)
from lm_eval_values.measurement.simulate import SimulationSettings, simulate_items
from lm_eval_values.measurement.validation import interval_coverage
from lm_eval_values.core.errors import UserError

#: 20 roles x 6 items (3 keyed, 3 reverse-keyed) per value, a "no"-bias, true mean 0
COVERAGE_SIM = SimulationSettings(values=("Power", "Tradition"), n_roles=20, n_items=6, role_sd=0.15, item_sd=0.3,
                                  interaction_sd=0.25, acquiescence_mean=-0.5, acquiescence_sd=0.1, no_role=False)


def test_two_way_interval_covers_and_roles_only_does_not() -> None:
    out = interval_coverage(COVERAGE_SIM, IntervalSettings(n_boot=500), n_datasets=150)
    cov = out["coverage"]
    assert out["n_intervals"] == 300
    assert 0.88 <= cov["two_way"] <= 0.99
    assert 0.86 <= cov["components"] <= 0.99
    assert cov["roles_only"] < 0.65  # items held fixed: far too narrow
    assert out["width_vs_roles_only"]["two_way"] > 2.5


def test_profile_columns_determinism_and_single_item_keys() -> None:
    items = simulate_items(COVERAGE_SIM).items
    a = value_profile(items, IntervalSettings(n_boot=300, seed=1))
    assert a.equals(value_profile(items, IntervalSettings(n_boot=300, seed=1)))
    assert not a.equals(value_profile(items, IntervalSettings(n_boot=300, seed=2)))
    assert set(a["item_sampling"]) == {"included"} and (a["ci_lo"] < a["mean"]).all() and (a["mean"] < a["ci_hi"]).all()
    assert (a["ci_hi"] - a["ci_lo"] > 2 * (a["roles_only_hi"] - a["roles_only_lo"])).all()
    # one keyed + one reverse-keyed item per value: item variance within keys cannot be estimated, and is said so
    two = simulate_items(SimulationSettings(values=("Power",), n_roles=10, n_items=2, no_role=False)).items
    p = value_profile(two, IntervalSettings(n_boot=300)).iloc[0]
    assert p["item_sampling"].startswith("NOT included")
    # without key strata the (conservative) interval resamples the two items
    q = value_profile(two, IntervalSettings(n_boot=300, strata="none")).iloc[0]
    assert q["item_sampling"] == "included" and q["ci_hi"] - q["ci_lo"] > p["ci_hi"] - p["ci_lo"]


def test_bootstrap_weights_and_means() -> None:
    rng = np.random.default_rng(0)
    groups = np.array([0, 0, 0, 1, 1])
    w_r, w_i = bootstrap_weights(4, groups, 50, rng, fixed_groups=frozenset({1}))
    assert (w_r.sum(axis=1) == 3).all()  # rescaled: n - 1 draws
    assert np.allclose(w_i[:, :3].sum(axis=1), 3) and (w_i[:, 3:] == 1).all()
    y = np.arange(20, dtype=float).reshape(4, 5)
    y[0, 0] = np.nan
    means = weighted_group_means(y, groups, 2, np.ones((1, 4)), np.ones((1, 5)))
    assert means[0] == pytest.approx([np.nanmean(y[:, :3]), y[:, 3:].mean()])
    with pytest.raises(UserError):
        IntervalSettings(level=1.2)
    with pytest.raises(UserError):
        IntervalSettings(method="bca")
    assert IntervalSettings.from_dict(IntervalSettings(n_boot=500).to_dict()) == IntervalSettings(n_boot=500)
