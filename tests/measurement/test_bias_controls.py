"""Response-bias scoring choices on simulated respondents: which one removes a pure acquiescence signal."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lm_eval_values.measurement.bias import SCORINGS, apply_scoring
from lm_eval_values.measurement.reliability import g_study
from lm_eval_values.measurement.simulate import SimulatedSteering, SimulationSettings, simulate_items
from lm_eval_values.measurement.table import respondent_cells, unkeyed
from lm_eval_values.measurement.validation import bias_control_recovery
from lm_eval_values.core.errors import UserError
from lm_eval_values.values.names import SCHWARTZ_VALUES

#: keys unbalanced in opposite directions (10 of 12 keyed, or 2 of 12), a "no"-bias varying between roles
MIXED_KEYS = {v: (10 / 12 if j % 2 == 0 else 2 / 12) for j, v in enumerate(SCHWARTZ_VALUES)}
PURE_BIAS = SimulationSettings(n_roles=40, n_items=12, keyed_fraction=MIXED_KEYS, role_sd=0.0, item_sd=0.2,
                               interaction_sd=0.1, acquiescence_mean=-0.5, acquiescence_sd=0.3, seed=1)


def test_pure_acquiescence_signal_removed_only_by_residualizing() -> None:
    out = bias_control_recovery(PURE_BIAS).set_index("scoring")
    assert out.loc["raw", "n_signal"] == 10  # keys turn the yes-bias into spurious "value" differences
    assert out.loc["item_centered", "n_signal"] == 10 and out.loc["mrat", "n_signal"] == 10
    assert out.loc["acquiescence_residualized", "n_signal"] == 0
    assert out.loc["acquiescence_residualized", "mean_role_var"] < 0.001 < out.loc["raw", "mean_role_var"]
    # all items keyed the same way (as the PVQ): MRAT removes it too
    same = bias_control_recovery(dataclasses.replace(PURE_BIAS, keyed_fraction=1.0)).set_index("scoring")
    assert same.loc["mrat", "n_signal"] == 0 and same.loc["raw", "n_signal"] == 10


def test_true_role_effects_recovered_under_acquiescence() -> None:
    out = bias_control_recovery(dataclasses.replace(PURE_BIAS, role_sd=0.2, seed=2)).set_index("scoring")
    assert out.loc["acquiescence_residualized", "r_true"] > 0.95
    assert out.loc["raw", "r_true"] < 0.8 and out.loc["mrat", "r_true"] < 0.8
    assert out.loc["acquiescence_residualized", "mean_role_var"] == pytest.approx(0.04, rel=0.25)


def _paired_changes(items):
    steered = respondent_cells(items, "vec:Power", 1.0).set_index(["role_id", "item_id"])["score"]
    return (steered - respondent_cells(items).set_index(["role_id", "item_id"])["score"]).sort_index()


def test_scorings_keep_their_promises() -> None:
    st = (SimulatedSteering("vec:Power", "Power", (1.0,), target_shift=0.3, bias_shift=0.5),)
    items = simulate_items(SimulationSettings(values=("Power", "Tradition"), n_roles=8, n_items=4,
                                              acquiescence_mean=-0.5, steering=st)).items
    centred, rec = apply_scoring(items, "item_centered")
    base = respondent_cells(centred)
    assert np.allclose(base.groupby("item_id")["score"].mean(), 0.0)  # item difficulty gone
    assert g_study(centred)["Power"].components.item == pytest.approx(0.0, abs=1e-12)
    assert len(rec.offsets) == 8
    assert np.allclose(_paired_changes(centred), _paired_changes(items))  # paired changes unchanged
    resid, rec = apply_scoring(items, "acquiescence_residualized")
    assert np.allclose(unkeyed(resid).groupby(resid["condition_id"]).mean(), 0.0)
    assert set(rec.offsets) == set(items["condition_id"])
    mr, _ = apply_scoring(items, "mrat")
    assert np.allclose(mr.groupby("condition_id")["score"].mean(), 0.0)
    assert apply_scoring(items, "raw")[0]["score"].equals(items["score"])
    assert set(SCORINGS) == {"raw", "item_centered", "acquiescence_residualized", "mrat"}
    with pytest.raises(UserError):
        apply_scoring(items, "ipsative")
