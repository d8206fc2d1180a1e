"""Steering manipulation checks on simulated steering with known target and bias shifts."""

from __future__ import annotations

import pytest

from lm_eval_values.measurement.bias import apply_scoring
from lm_eval_values.measurement.manipulation import ManipulationSettings, designed_target, manipulation_checks
from lm_eval_values.measurement.simulate import SimulatedSteering, SimulationSettings, simulate_items
from lm_eval_values.core.errors import UserError

VALUES = ("Power", "Achievement", "Tradition", "Benevolence", "Security")
STEERING = (
    SimulatedSteering("prompt:Tradition", "Tradition", (-1.0, 1.0), target_shift=0.3),          # works
    SimulatedSteering("vec:Power", "Power", (-0.5, 0.5, 1.0), bias_shift=1.0),                  # yes-bias only
    SimulatedSteering("vec:Security", "Security", (1.0,), target_shift=-0.3),                   # backwards
    SimulatedSteering("vec:Benevolence", "Benevolence", (1.0,), target_shift=0.3, spill=0.3),   # moves everything
    SimulatedSteering("prompt:Achievement", "Achievement", (-1.0, 1.0), target_shift=0.2,       # V-shaped
                      target_shape="abs"),
    SimulatedSteering("sae:12", None, (2.0,), bias_shift=0.4),                                  # names no value
)


@pytest.fixture(scope="module")
def checks() -> dict[str, dict]:
    items = simulate_items(SimulationSettings(values=VALUES, n_roles=16, n_items=6, acquiescence_mean=-0.5,
                                              acquiescence_sd=0.1, steering=STEERING, seed=7)).items
    out = manipulation_checks(items, ManipulationSettings(n_boot=500))
    return {s["steering_id"]: s for s in out}


def _dose(check: dict, coef: float) -> dict:
    return next(d for d in check["doses"] if d["coefficient"] == coef)


def test_known_shifts_recovered(checks: dict) -> None:
    trad = checks["prompt:Tradition"]
    assert trad["target"] == "Tradition" and trad["target_source"] == "named in the id"
    for coef in (-1.0, 1.0):
        d = _dose(trad, coef)
        assert d["flags"] == ["ok"] and d["item_sampling"]["Tradition"] == "included"
        assert d["target_change"]["lo"] <= 0.3 * coef <= d["target_change"]["hi"]
        assert d["specificity"]["estimate"] == pytest.approx(0.3 * coef, abs=0.06)
        assert abs(d["acquiescence_shift"]["estimate"]) < 0.05
    assert trad["summary"]["flags"] == ["ok"] and trad["summary"]["spearman_rho"] == pytest.approx(1.0)
    assert trad["summary"]["sign_agreement"] == 1.0 and trad["summary"]["monotonic"]


def test_bias_only_wrong_signed_non_specific_v_shape(checks: dict) -> None:
    power = _dose(checks["vec:Power"], 0.5)
    assert power["acquiescence_shift"]["lo"] <= 0.5 <= power["acquiescence_shift"]["hi"]
    assert "bias-only" in power["flags"] and "no-effect" in power["flags"]
    assert "wrong-signed" in _dose(checks["vec:Security"], 1.0)["flags"]
    assert _dose(checks["vec:Benevolence"], 1.0)["flags"] == ["non-specific"]
    v = checks["prompt:Achievement"]
    assert "direction ignored" in v["summary"]["flags"] and "wrong-signed" in _dose(v, -1.0)["flags"]
    assert v["summary"]["sign_agreement"] == 0.5
    assert any("direction ignored" in w for w in v["words"])


def test_unknown_target_labelled_and_given_targets(checks: dict) -> None:
    sae = checks["sae:12"]
    assert sae["target"] is None and sae["target_source"] == "unknown"
    assert _dose(sae, 2.0)["flags"] == ["target unknown", "bias-only"]
    assert designed_target("sae:12", list(VALUES), {"sae:12": "Power"}) == ("Power", "given")
    assert designed_target("vec:Power", list(VALUES), {}) == ("Power", "named in the id")
    with pytest.raises(UserError):
        designed_target("sae:12", list(VALUES), {"sae:12": "Nope"})
    settings = ManipulationSettings(targets=(("sae:12", "Power"),))
    assert ManipulationSettings.from_dict(settings.to_dict()) == settings


def test_acquiescence_shift_survives_bias_scoring() -> None:
    st = (SimulatedSteering("vec:Power", "Power", (1.0,), target_shift=0.2, bias_shift=0.6),)
    items = simulate_items(SimulationSettings(values=VALUES, n_roles=12, n_items=4, steering=st, seed=3)).items
    resid, _ = apply_scoring(items, "acquiescence_residualized")
    settings = ManipulationSettings(n_boot=300)
    kept = manipulation_checks(resid, settings, raw_items=items)[0]["doses"][0]
    lost = manipulation_checks(resid, settings)[0]["doses"][0]
    assert kept["acquiescence_shift"]["estimate"] == pytest.approx(0.6, abs=0.05)
    assert abs(lost["acquiescence_shift"]["estimate"]) < 1e-9  # the scoring removed it by design
    assert kept["target_change"]["estimate"] == pytest.approx(0.2, abs=0.05)
