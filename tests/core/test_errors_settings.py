"""One rule for the settings sections of every stage: a mapping of known keys, or one line naming the key."""

from __future__ import annotations

import pytest

from lm_eval_values.analysis.side_effects_stage import SideEffectsSettings
from lm_eval_values.causal.stage_settings import GraphStageSettings
from lm_eval_values.core.errors import UserError, settings_dict
from lm_eval_values.measurement.intervals import IntervalSettings
from lm_eval_values.measurement.manipulation import ManipulationSettings


def test_settings_dict_names_the_first_unknown_key_and_the_known_ones() -> None:
    assert settings_dict({"a": 1}, ["a", "b"], "sec") == {"a": 1}
    with pytest.raises(UserError, match=r"^sec\.c: unknown setting \(fix: use some of: a, b\)$"):
        settings_dict({"c": 1, "d": 2}, ["a", "b"], "sec")
    with pytest.raises(UserError, match=r"^sec: must be a mapping, got list"):
        settings_dict(["a"], ["a"], "sec")


@pytest.mark.parametrize("cls, section", [(GraphStageSettings, "graph"), (SideEffectsSettings, "side_effects"),
                                          (IntervalSettings, "intervals"), (ManipulationSettings, "manipulation")])
def test_every_stage_refuses_unknown_settings_the_same_way(cls, section: str) -> None:
    with pytest.raises(UserError, match=rf"^{section}\.bogus: unknown setting"):
        cls.from_dict({"bogus": 1})
    with pytest.raises(UserError, match=rf"^{section}: must be a mapping"):
        cls.from_dict([1])
