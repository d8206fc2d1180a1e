"""Simulated respondents: the tool's own item table, deterministic, with the truth that made it."""

from __future__ import annotations

import pytest

from lm_eval_values.measurement.simulate import SimulatedSteering, SimulationSettings, simulate_items
from lm_eval_values.measurement.table import items_from_csv_text, respondent_cells, steered_settings
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.tables import ITEM_COLUMNS

STEER = (SimulatedSteering("vec:Power", "Power", (-0.5, 0.5), target_shift=0.4, bias_shift=1.0),)


def test_items_table_round_trip_and_determinism() -> None:
    settings = SimulationSettings(values=("Power", "Tradition"), n_roles=4, n_items=4, steering=STEER, seed=3)
    text = simulate_items(settings).to_csv_text()
    assert text == simulate_items(settings).to_csv_text()  # same seed, same bytes
    assert text != simulate_items(SimulationSettings(**{**settings.__dict__, "seed": 4})).to_csv_text()
    assert text.splitlines()[0] == ",".join(ITEM_COLUMNS)
    items = items_from_csv_text(text, "sim")
    # 5 roles (4 + no role; no role in both splits) x 8 items x (1 unsteered + 2 steered settings)
    assert len(items) == (4 + 2) * 8 * 3
    assert steered_settings(items) == [("vec:Power", -0.5), ("vec:Power", 0.5)]
    cells = respondent_cells(items)
    assert len(cells) == 5 * 8  # the no-role condition counts once
    assert set(cells.loc[cells["role_id"] == "", "n_repeats"]) == {2}
    assert SimulationSettings.from_dict(settings.to_dict()) == settings


def test_keys_truth_and_nested_items() -> None:
    data = simulate_items(SimulationSettings(values=("Power",), n_roles=3, n_items=6, keyed_fraction=4 / 6,
                                             design="nested", no_role=False))
    cells = respondent_cells(data.items)
    assert cells.groupby("item_id")["role_id"].nunique().max() == 1  # items nested in roles
    assert (cells.groupby("role_id")["agreement"].sum() == 2).all()  # 4 keyed, 2 reverse per role
    truth = data.truth["components"]["Power"]
    assert truth == pytest.approx({"role": 0.04, "item": 0.09, "residual": 0.0625})


@pytest.mark.parametrize("change", [{"design": "mixed"}, {"n_items": 1}, {"missing_rate": 1.0},
                                    {"steering": (SimulatedSteering("x", "Nope"),)}])
def test_bad_settings(change: dict) -> None:
    with pytest.raises(UserError):
        simulate_items(SimulationSettings(**{**SimulationSettings().__dict__, **change}))
