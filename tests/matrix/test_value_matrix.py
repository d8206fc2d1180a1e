"""ValueMatrix: reading sweep / study / folder inputs, filters, validation errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.matrix.reading import read_value_matrix
from lm_eval_values.matrix.value_matrix import ValueMatrix

VALUES = ["Alpha", "Beta", "Gamma"]


def _sweep_frame(n_roles: int = 6, steer: tuple[str, ...] = ("none", "7", "12"), seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_roles):
        for s in steer:
            rows.append({"condition_id": f"r{r}|{s}", "role_id": f"r{r}" if r else "", "split": "train",
                         "steering_id": s, "coefficient": 0.0 if s == "none" else 4.0, "seed": 1,
                         **{v: float(x) for v, x in zip(VALUES, rng.normal(size=3))}})
    return pd.DataFrame(rows)


def _study_frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for role in ["", "Ann", "Bob", "Cy", "Di"]:
        for steer in [np.nan, 10096.0, 8387.0]:
            d: dict[str, object] = {"steer_dim": steer, "player_name": role if role else np.nan}
            for v in VALUES:
                d[v] = float(rng.uniform(-1, 1))
                d[f"{v}:scstd"] = -1
            d["stds"] = 0.5
            d["scstds"] = np.nan
            rows.append(d)
    return pd.DataFrame(rows)


def test_sweep_matrix_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "matrix.csv"
    _sweep_frame().to_csv(path, index=False)
    vm = read_value_matrix(path)
    assert vm.values == VALUES
    assert list(vm.meta.columns) == list(META_COLUMNS)
    assert vm.steering_ids == ["none", "7", "12"]
    assert vm.role_ids[0] == "" and vm.has_roles()
    # a folder with matrix.csv reads the same
    vm2 = read_value_matrix(tmp_path)
    pd.testing.assert_frame_equal(vm.scores, vm2.scores)
    # to_frame gives the sweep layout back
    assert list(vm.to_frame().columns) == list(META_COLUMNS) + VALUES


def test_study_csv_format(tmp_path: Path) -> None:
    path = tmp_path / "ans_model_train_formal.csv"
    _study_frame().to_csv(path, index=False)
    vm = read_value_matrix(path)
    assert vm.values == VALUES  # :scstd, stds, scstds dropped
    assert vm.steering_ids == ["none", "10096", "8387"]
    assert vm.role_ids[0] == ""  # empty player_name = no role
    assert set(vm.meta["split"]) == {"train"}
    assert vm.meta.loc[vm.meta.steering_id == "none", "coefficient"].eq(0.0).all()
    sub = read_value_matrix(path, keep_steering=[None, 10096], columns=["Gamma", "Alpha"], check=False)
    assert sub.values == ["Gamma", "Alpha"] and sub.n_rows == 10
    assert set(sub.steering_ids) == {"none", "10096"}


def test_filters_and_standardize() -> None:
    df = _sweep_frame()
    vm = ValueMatrix(df[VALUES], df[list(META_COLUMNS)])
    z = vm.standardized().scores
    assert np.allclose(z.mean(), 0.0) and np.allclose(z.std(ddof=1), 1.0)
    assert vm.filter(roles=["r1"]).n_rows == 3
    with pytest.raises(UserError, match="keep_steering.*unknown steering id"):
        vm.filter(keep_steering=["none", "999"])
    with pytest.raises(UserError, match="columns.*Delta"):
        vm.filter(columns=["Delta"])


def test_respondent_scores_count_a_repeated_condition_once() -> None:
    """The no-role condition run in the train and the test split (and a second seed) is one respondent."""
    df = _sweep_frame(n_roles=3, steer=("none", "7"))
    again = df[df.role_id == ""].assign(split="test", condition_id=lambda d: d.condition_id + "|test")
    seed2 = df[df.role_id == "r1"].assign(seed=2, condition_id=lambda d: d.condition_id + "|s2")
    seed2[VALUES] = seed2[VALUES] + 1.0
    full = pd.concat([df, again, seed2], ignore_index=True)
    vm = ValueMatrix(full[VALUES], full[list(META_COLUMNS)])
    r = vm.respondent_scores()
    assert vm.n_rows == 10 and len(r) == 6
    assert list(r.index.get_level_values("role_id")) == ["", "", "r1", "r1", "r2", "r2"]
    pd.testing.assert_series_equal(r.loc[("", "none", "0.0")], df.loc[0, VALUES], check_names=False)
    expected = df.loc[(df.role_id == "r1") & (df.steering_id == "7"), VALUES].iloc[0] + 0.5
    np.testing.assert_allclose(r.loc[("r1", "7", "4.0")].to_numpy(), expected.to_numpy())


def test_validation_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        read_value_matrix(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(UserError, match="empty"):
        read_value_matrix(empty)
    other = tmp_path / "other.csv"
    pd.DataFrame({"a": [1, 2], "b": [3, 4]}).to_csv(other, index=False)
    with pytest.raises(UserError, match="neither a sweep matrix"):
        read_value_matrix(other)

    df = _sweep_frame()
    df["Beta"] = 0.25
    p = tmp_path / "const.csv"
    df.to_csv(p, index=False)
    with pytest.raises(UserError, match="'Beta'.*constant"):
        read_value_matrix(p)
    df["Beta"] = np.nan
    df.to_csv(p, index=False)
    with pytest.raises(UserError, match="'Beta'.*empty or not numeric"):
        read_value_matrix(p)
    short = _sweep_frame(n_roles=1)  # 3 rows for 3 values
    short.to_csv(p, index=False)
    with pytest.raises(UserError, match="complete rows for 3 values"):
        read_value_matrix(p)
    header_only = _sweep_frame().iloc[:0]
    header_only.to_csv(p, index=False)
    with pytest.raises(UserError, match="no rows"):
        read_value_matrix(p)
    # one-line messages
    try:
        read_value_matrix(p)
    except UserError as exc:
        assert "\n" not in str(exc) and "fix:" in str(exc)

    # a folder without matrix.csv and without per-condition files to build one from
    folder = tmp_path / "sweep"
    folder.mkdir()
    with pytest.raises(UserError, match="no finished conditions"):
        read_value_matrix(folder)


def test_study_train_file(shared_data: Path) -> None:
    path = shared_data / "valuecausalgraph/tutorials/useful_data/ans_gemma_train_formal.csv"
    vm = read_value_matrix(path)
    assert vm.scores.shape == (2525, 17)
    assert len(vm.role_ids) == 101 and len(vm.steering_ids) == 25
    from lm_eval_values.values.names import VCG17_VALUES

    assert tuple(vm.values) == VCG17_VALUES
