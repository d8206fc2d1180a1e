"""Generalizability study on simulated respondents with a known truth (variance components, verdicts)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from lm_eval_values.measurement.components import anova_crossed, estimate_components, henderson3_crossed
from lm_eval_values.measurement.reliability import (GStudySettings, acquiescence_by_condition, acquiescence_study,
                                                 g_study)
from lm_eval_values.measurement.simulate import SimulationSettings, simulate_items
from lm_eval_values.measurement.table import cell_matrix, respondent_cells
from lm_eval_values.measurement.validation import component_recovery
from lm_eval_values.core.errors import UserError

ROLE_SD = {"Power": 0.2, "Tradition": 0.1, "Hedonism": 0.3}
BIG = SimulationSettings(values=tuple(ROLE_SD), role_sd=ROLE_SD, n_roles=300, n_items=30, no_role=False, seed=0)


def _realized(data, value: str) -> tuple[float, float]:
    """Sample variances of the generated role and item effects of ``value``."""
    cells = respondent_cells(data.items)
    items = cells.loc[cells["value"] == value, "item_id"].unique()
    return (float(data.truth["role_effects"][value].var(ddof=1)),
            float(data.truth["item_difficulty"].loc[items].var(ddof=1)))


@pytest.mark.parametrize("design,missing", [("crossed", 0.0), ("crossed", 0.3), ("nested", 0.0)])
def test_components_recovered(design: str, missing: float) -> None:
    settings = dataclasses.replace(BIG, design=design, missing_rate=missing)
    data = simulate_items(settings)
    res = g_study(data.items)
    for value, r in res.items():
        c, truth = r.components, data.truth["components"][value]
        assert c.design == {"crossed": "crossed" if missing == 0 else "crossed-unbalanced", "nested": "nested"}[design]
        role_sample, item_sample = _realized(data, value)
        # against the variances of the effects actually drawn: tight
        assert c.role == pytest.approx(role_sample, rel=0.15, abs=0.001)
        if design == "nested":
            assert c.item is None
            assert c.residual == pytest.approx(truth["residual"] + truth["item"], rel=0.06)
        else:
            assert c.item == pytest.approx(item_sample, rel=0.10)
            assert c.residual == pytest.approx(truth["residual"], rel=0.06)
        # against the population values: within about 3 standard errors of a variance from 300 roles
        assert c.role == pytest.approx(truth["role"], rel=0.25)
        assert r.signal and r.g > 0.6


def test_unbiased_over_replicates() -> None:
    """Mean of the estimates over 40 small data sets (30 roles x 10 items) vs the truth."""
    small = SimulationSettings(values=("Power",), n_roles=30, n_items=10, role_sd=0.2, no_role=False)
    est = pd.concat([component_recovery(dataclasses.replace(small, seed=s)) for s in range(40)])
    truth = simulate_items(small).truth["components"]["Power"]
    assert est["est_role"].mean() == pytest.approx(truth["role"], rel=0.15)
    assert est["est_item"].mean() == pytest.approx(truth["item"], rel=0.25)
    assert est["est_residual"].mean() == pytest.approx(truth["residual"], rel=0.05)


def test_henderson_equals_anova_when_balanced_and_reml_agrees() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(12, 1)) * 0.4 + rng.normal(size=(1, 7)) + rng.normal(size=(12, 7)) * 0.3
    a, h = anova_crossed(y), henderson3_crossed(y)
    for name in ("role", "item", "residual", "f", "p", "ms_role", "ms_residual"):
        assert getattr(h, name) == pytest.approx(getattr(a, name), rel=1e-9)
    data = simulate_items(SimulationSettings(values=("Power",), n_roles=60, n_items=8, missing_rate=0.2,
                                             no_role=False, seed=5))
    table = cell_matrix(respondent_cells(data.items))
    h3, reml = estimate_components(table, "anova"), estimate_components(table, "reml")
    assert h3.design == reml.design == "crossed-unbalanced" and "NOT converged" not in reml.estimator
    assert reml.role == pytest.approx(h3.role, rel=0.15) and reml.residual == pytest.approx(h3.residual, rel=0.05)


def test_no_signal_when_only_acquiescence_varies() -> None:
    """Balanced keys, no role effects, a yes-bias that differs between roles: no value signal, F << 1,
    keyed and reverse-keyed items anti-correlated across roles, roles differ in acquiescence."""
    data = simulate_items(SimulationSettings(n_roles=11, n_items=2, role_sd=0.0, item_sd=0.1, interaction_sd=0.02,
                                             acquiescence_mean=-0.8, acquiescence_sd=0.15, seed=1))
    res = g_study(data.items)
    assert not any(r.signal for r in res.values())
    assert all(r.components.f < 1 for r in res.values())
    assert np.median([r.keyed_reverse_r for r in res.values()]) < -0.8
    reml = g_study(data.items, GStudySettings(estimator="reml"))
    assert not any(r.signal for r in reml.values()) and max(r.components.role for r in reml.values()) < 1e-3
    acq = acquiescence_study(data.items)
    assert acq["roles_differ"] and acq["mean"] == pytest.approx(-0.8, abs=0.15)
    per_cond = acquiescence_by_condition(data.items).set_index("role_id")
    truth = data.truth["acquiescence"]
    assert np.corrcoef(per_cond.groupby(level=0)["acquiescence"].mean().loc[truth.index], truth)[0, 1] > 0.9


def test_pure_noise_rarely_signals_and_signal_needs_g() -> None:
    res = g_study(simulate_items(SimulationSettings(role_sd=0.0, n_roles=20, n_items=4, seed=2)).items)
    assert sum(r.signal for r in res.values()) <= 1
    assert np.median([r.keyed_reverse_r for r in res.values()]) == pytest.approx(0.0, abs=0.35)
    # a real but small role effect with few items: F rejects, G below the floor -> no signal, said so
    weak = simulate_items(SimulationSettings(values=("Power",), role_sd=0.12, n_roles=200, n_items=2,
                                             no_role=False, seed=3)).items
    r = g_study(weak, GStudySettings(g_floor=0.5))["Power"]
    assert r.components.p < 0.05 and r.g < 0.5 and not r.signal and "G = " in r.verdict
    assert r.items_for_g_target > 2


def test_unit_of_analysis_and_not_estimable() -> None:
    data = simulate_items(SimulationSettings(values=("Power", "Tradition"), n_roles=5, n_items=4, seed=4))
    res = g_study(data.items)
    assert res["Power"].components.n_roles == 6  # 5 roles + the no-role condition, counted once
    assert g_study(data.items, GStudySettings(include_no_role=False))["Power"].components.n_roles == 5
    one_item = data.items[data.items["item_id"].isin(["sim:power:0", "sim:tradition:0", "sim:tradition:1"])]
    out = g_study(one_item)
    assert not out["Power"].signal and out["Power"].verdict.startswith("not estimable")
    with pytest.raises(UserError):
        g_study(data.items[data.items["steering_id"] == "nope"])
    with pytest.raises(UserError):
        GStudySettings(alpha=1.5)
    assert GStudySettings.from_dict(GStudySettings(g_floor=0.7).to_dict()) == GStudySettings(g_floor=0.7)
