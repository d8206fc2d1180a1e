"""Row selection shared by every analysis stage: splits, steering ids, single doses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.selection import RowSelection, dose_label, with_dose_ids
from lm_eval_values.matrix.value_matrix import ValueMatrix

SETTINGS = [("none", 0.0), ("prompt:Power", 1.0), ("prompt:Power", -1.0), ("1025", float("nan"))]


def _matrix() -> ValueMatrix:
    meta, rows = [], []
    for split, roles in (("train", ["a", "b"]), ("test", ["c"])):
        for r in roles:
            for sid, c in SETTINGS:
                meta.append({"condition_id": f"{r}|{sid}|{c}", "role_id": r, "split": split, "steering_id": sid,
                             "coefficient": c, "seed": 0})
                rows.append({"Power": len(rows) * 0.1, "Tradition": -len(rows) * 0.1})
    return ValueMatrix(pd.DataFrame(rows), pd.DataFrame(meta)[list(META_COLUMNS)], "m.csv")


def test_dose_labels() -> None:
    assert dose_label("prompt:Power", 1.0) == "prompt:Power@1"
    assert dose_label("vec:Power", -0.5) == "vec:Power@-0.5"
    assert dose_label("none", 0.0) == "none"
    assert dose_label(1025.0, float("nan")) == "1025"  # study CSVs carry no coefficient
    assert dose_label("k1", 0.0) == "k1"  # a zero coefficient names no dose
    ids = with_dose_ids(_matrix()).steering_ids
    assert ids == ["none", "prompt:Power@1", "prompt:Power@-1", "1025"]


def test_plain_ids_keep_every_dose_and_dose_ids_one() -> None:
    vm = _matrix()
    both = RowSelection(steering=("prompt:Power",)).apply(vm)
    assert both.n_rows == 6 and set(both.meta["coefficient"]) == {1.0, -1.0}
    one = RowSelection(split="train", steering=("none", "prompt:Power@1.0")).apply(vm)
    assert one.n_rows == 4 and set(one.meta["coefficient"]) == {0.0, 1.0} and set(one.meta["split"]) == {"train"}
    assert RowSelection(steering=(1025,)).apply(vm).n_rows == 3  # ids compare normalised
    assert RowSelection().apply(vm).n_rows == vm.n_rows and RowSelection(split="test").apply(vm).n_rows == 4


def test_unknown_ids_and_bad_settings_are_user_errors() -> None:
    with pytest.raises(UserError, match=r"unknown steering id\(s\) \['prompt:Power@2'\]") as exc:
        RowSelection(steering=("prompt:Power@2",)).apply(_matrix())
    assert exc.value.field == "keep_steer"
    with pytest.raises(UserError, match="list of steering ids"):
        RowSelection.from_dict({"keep_steer": "none"}, "graph.")
    with pytest.raises(UserError, match="split name"):
        RowSelection.from_dict({"split": 3}, "graph.")
    assert RowSelection.from_dict(RowSelection("train", ("none",)).to_dict()) == RowSelection("train", ("none",))


def test_selection_keeps_scores_aligned() -> None:
    vm = _matrix()
    sel = RowSelection(split="train", steering=("prompt:Power@-1",)).apply(vm)
    expected = vm.scores[(vm.meta["split"] == "train") & (vm.meta["coefficient"] == -1.0)]
    assert np.allclose(sel.scores.to_numpy(), expected.to_numpy())
