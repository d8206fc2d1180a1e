"""Strict reading of value tables: identifiers stay text, dropped rows are counted, tables are verified."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.hashing import file_sha256
from lm_eval_values.matrix.reading import read_csv_table, read_value_matrix, verify_sweep_tables
from lm_eval_values.matrix.value_matrix import require_rows

META = ["condition_id", "role_id", "split", "steering_id", "coefficient", "seed"]


def _matrix(path: Path, n: int = 12, values: tuple[str, ...] = ("Power", "Benevolence", "Tradition")) -> Path:
    x = np.random.default_rng(0).standard_normal((n, len(values))).round(4)
    df = pd.DataFrame(x, columns=list(values))
    meta = pd.DataFrame({"condition_id": [f"c{i}" for i in range(n)], "role_id": [f"r{i}" for i in range(n)],
                         "split": "train", "steering_id": "none", "coefficient": 0, "seed": 0})
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.concat([meta, df], axis=1).to_csv(path, index=False)
    return path


def test_identifiers_stay_text(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text(",".join(META + ["Power", "Tradition"]) + "\n"
                 "c1,NA,train,10096.0,4,0,0.1,0.2\nc2,None,,none,0,1,0.3,nan\nc3,,test,,,2,-0.5,0.4\n")
    vm = read_value_matrix(p, check=False)
    assert vm.meta["role_id"].tolist() == ["NA", "None", ""]  # a role named NA is not the no-role condition
    assert vm.meta["steering_id"].tolist() == ["10096", "none", "none"]
    assert np.isnan(vm.scores.loc[1, "Tradition"]) and vm.scores.loc[2, "Power"] == -0.5
    assert read_csv_table(p, "INPUT")["seed"].tolist() == ["0", "1", "2"]  # meta columns stay text until read


def test_dropped_rows_are_counted_and_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _matrix(tmp_path / "m.csv", n=12)
    df = pd.read_csv(p)
    df.loc[[2, 5], "Tradition"] = np.nan
    df.to_csv(p, index=False)
    vm = read_value_matrix(p)
    assert vm.n_rows == 10 and vm.n_dropped == 2
    assert "note: INPUT: dropped 2 of 12 rows" in capsys.readouterr().err
    assert read_value_matrix(p, check=False).n_rows == 12  # readers that keep rows keep them all


def test_the_minimum_row_rule_is_one_rule() -> None:
    require_rows(4, 3, "INPUT", "m.csv")
    with pytest.raises(UserError, match=r"3 complete rows for 3 values \(2 rows with an empty value cell dropped\)"):
        require_rows(3, 3, "INPUT", "m.csv", 2)


def test_a_sweep_folder_table_is_verified_against_its_manifest(tmp_path: Path) -> None:
    m = _matrix(tmp_path / "run" / "matrix.csv")
    manifest = tmp_path / "run" / "manifest.json"
    manifest.write_text(json.dumps({"files": {"matrix.csv": file_sha256(m)}}))
    assert verify_sweep_tables(m.parent) is None
    read_value_matrix(m.parent)
    m.write_text(m.read_text().replace("c3,", "c3x,"))
    assert "SHA-256 differs" in verify_sweep_tables(m.parent)
    with pytest.raises(UserError, match="not the file the sweep wrote"):
        read_value_matrix(m.parent)
    read_value_matrix(m)  # the file itself, named on purpose, is read as it is
    manifest.write_text("[]")
    assert "not a readable sweep manifest" in verify_sweep_tables(m.parent)


def test_in_memory_frames_get_the_same_checks() -> None:
    from lm_eval_values.matrix.value_matrix import frame_to_value_matrix

    df = pd.DataFrame({"condition_id": ["a", "b"], "role_id": ["r", "s"], "split": "", "steering_id": "none",
                       "coefficient": [0.0, 0.0], "seed": [0, 0], "Power": [0.1, np.inf]})
    with pytest.raises(UserError, match="not a finite number"):
        frame_to_value_matrix(df)
    df["Power"] = [0.1, 2e9]
    with pytest.raises(UserError, match="beyond the limit"):
        frame_to_value_matrix(df)
