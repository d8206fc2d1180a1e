"""The value matrix under a scoring choice: one function from the item table, equal to matrix.csv when raw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lm_eval_values.core.errors import UserError
from lm_eval_values.measurement.bias import apply_scoring
from lm_eval_values.measurement.scored_matrix import scored_value_matrix, sweep_value_matrix
from lm_eval_values.measurement.simulate import SimulatedSteering, SimulationSettings, simulate_items
from lm_eval_values.measurement.table import items_from_csv_text

SETTINGS = SimulationSettings(values=("Power", "Tradition", "Security"), n_roles=6, n_items=4, keyed_fraction=0.75,
                              acquiescence_sd=0.3, steering=(SimulatedSteering("vec:Power", "Power", (0.5,),
                                                                               bias_shift=1.0),), seed=2)


@pytest.fixture()
def items():
    text = simulate_items(SETTINGS).to_csv_text()
    return items_from_csv_text(text, "sim")


def test_raw_is_the_item_mean_per_condition_and_value(items) -> None:
    vm = scored_value_matrix(items, "raw")
    by_hand = items.groupby(["condition_id", "value"], sort=False)["score"].mean().unstack()
    assert list(vm.meta["condition_id"]) == list(dict.fromkeys(items["condition_id"]))
    assert vm.values == ["Power", "Tradition", "Security"]
    assert np.allclose(vm.scores.to_numpy(), by_hand.loc[vm.meta["condition_id"], vm.values].to_numpy())
    steered = vm.meta["steering_id"] == "vec:Power"
    assert steered.sum() == 8 and (vm.meta.loc[steered, "coefficient"] == 0.5).all()  # 6 roles + no role twice


@pytest.mark.parametrize("scoring", ["item_centered", "acquiescence_residualized", "mrat"])
def test_scorings_go_through_apply_scoring(items, scoring: str) -> None:
    scored, _ = apply_scoring(items, scoring)
    vm = scored_value_matrix(items, scoring)
    by_hand = scored.groupby(["condition_id", "value"], sort=False)["score"].mean().unstack()
    assert np.allclose(vm.scores.to_numpy(), by_hand.loc[vm.meta["condition_id"], vm.values].to_numpy())
    assert not np.allclose(vm.scores.to_numpy(), scored_value_matrix(items, "raw").scores.to_numpy())


def test_sweep_folder(tmp_path: Path, items) -> None:
    data = simulate_items(SETTINGS)
    (tmp_path / "items.csv").write_text(data.to_csv_text())
    vm = sweep_value_matrix(tmp_path, "acquiescence_residualized")
    assert np.allclose(vm.scores.to_numpy(), scored_value_matrix(items, "acquiescence_residualized").scores.to_numpy())
    with pytest.raises(UserError, match="reliability.scoring"):
        sweep_value_matrix(tmp_path, "bogus")
    (tmp_path / "items.csv").unlink()
    with pytest.raises(UserError, match="needs .*items.csv"):
        sweep_value_matrix(tmp_path, "mrat")
