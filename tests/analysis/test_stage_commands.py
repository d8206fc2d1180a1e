"""The human-comparison and side-effect stages through their commands: the study's row selection (splits,
per-dose steering ids, unsteered respondents), one matrix with a split column or two files, typed settings."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from lm_eval_values.analysis.circumplex.stage import HumanStageSettings
from lm_eval_values.analysis.side_effects_stage import SideEffectsSettings
from lm_eval_values.cli import main as cli_main
from lm_eval_values.core.errors import UserError

from tests.report.test_report import synthetic_matrix


def _quiet(argv: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return cli_main(argv)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stages")
    df = synthetic_matrix()
    paths = {"matrix": root / "matrix.csv", "train": root / "train.csv", "test": root / "test.csv"}
    df.to_csv(paths["matrix"], index=False)
    df[df["split"] == "train"].to_csv(paths["train"], index=False)
    df[df["split"] == "test"].to_csv(paths["test"], index=False)
    paths["graph"] = root / "graph"
    assert _quiet(["graph", str(paths["matrix"]), "--split", "train", "--bootstrap", "0",
                   "--out", str(paths["graph"])]) == 0
    return paths


def test_one_matrix_with_splits_equals_two_files(files: dict[str, Path], tmp_path: Path) -> None:
    graph = str(files["graph"] / "graph.json")
    common = ["--graph", graph, "--n-random", "5"]
    assert _quiet(["side-effects", *common, "--matrix", str(files["matrix"]), "--out", str(tmp_path / "one")]) == 0
    assert _quiet(["side-effects", *common, "--train", str(files["train"]), "--heldout", str(files["test"]),
                   "--out", str(tmp_path / "two")]) == 0
    for name in ("study_metric.json", "heldout.json", "heldout_auroc.csv", "heldout_pairs.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    ho = json.loads((tmp_path / "one" / "heldout.json").read_text())
    # each dose is its own intervention
    assert ho["params"]["steering_ids"] == ["prompt:Power@1", "prompt:Power@-1", "vec:Power@0.5"]
    result = json.loads((tmp_path / "one" / "result.json").read_text())
    assert result["rows"]["train"]["split"] == "train" and result["rows"]["heldout"]["n_roles"] == 7
    assert result["settings"]["policy"] == "possible"


def test_per_dose_selection_and_errors(files: dict[str, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    graph = str(files["graph"] / "graph.json")
    assert _quiet(["side-effects", "--graph", graph, "--matrix", str(files["matrix"]), "--n-random", "0",
                   "--keep-steer", "prompt:Power@1", "--out", str(tmp_path / "dose")]) == 0
    ho = json.loads((tmp_path / "dose" / "heldout.json").read_text())
    assert ho["params"]["steering_ids"] == ["prompt:Power@1"] and ho["n_tests"] == 10  # one setting x 10 values
    capsys.readouterr()
    assert cli_main(["side-effects", "--graph", graph, "--matrix", str(files["matrix"]), "--keep-steer",
                     "prompt:Power@3", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "--keep-steer" in err and "prompt:Power@1" in err and not (tmp_path / "bad").exists()
    assert cli_main(["side-effects", "--graph", graph, "--matrix", str(files["matrix"]), "--train",
                     str(files["train"]), "--out", str(tmp_path / "bad")]) == 2
    assert cli_main(["side-effects", "--graph", graph, "--matrix", str(files["matrix"]), "--fdr", "2",
                     "--out", str(tmp_path / "bad")]) == 2
    assert "--fdr" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_compare_human_uses_the_unsteered_rows_by_default(files: dict[str, Path], tmp_path: Path) -> None:
    fast = ["--permutations", "20", "--bootstrap", "0", "--no-plots", "--no-causal"]
    assert _quiet(["compare-human", str(files["matrix"]), *fast, "--out", str(tmp_path / "u")]) == 0
    assert _quiet(["compare-human", str(files["matrix"]), *fast, "--rows", "all", "--out", str(tmp_path / "a")]) == 0
    assert _quiet(["compare-human", str(files["matrix"]), *fast, "--split", "train", "--keep-steer",
                   "prompt:Power@-1", "--out", str(tmp_path / "d")]) == 0
    rows = {k: json.loads((tmp_path / k / "result.json").read_text())["rows"] for k in ("u", "a", "d")}
    # 14 + 6 roles and the no-role condition (run in both splits, counted once)
    assert rows["u"]["n_rows"] == 21 and rows["u"]["keep_steer"] == ["none"]
    assert rows["a"]["n_rows"] == 21 * 4 and rows["d"]["n_rows"] == 15


@pytest.mark.parametrize("cls, bad, field", [
    (HumanStageSettings, {"colour": 1}, "human.colour"), (HumanStageSettings, {"rows": "some"}, "human.rows"),
    (HumanStageSettings, {"permutations": 0}, "human.permutations"), (HumanStageSettings, {"alpha": 1},
                                                                       "human.alpha"),
    (SideEffectsSettings, {"colour": 1}, "side_effects.colour"), (SideEffectsSettings, {"fdr": 2}, "side_effects.fdr"),
    (SideEffectsSettings, {"tol": -1}, "side_effects.tol"), (SideEffectsSettings, {"policy": "x"},
                                                              "side_effects.policy"),
    (SideEffectsSettings, {"keep_steer": "none"}, "side_effects.keep_steer"),
])
def test_bad_stage_settings(cls: type, bad: dict, field: str) -> None:
    with pytest.raises(UserError) as exc:
        cls.from_dict(bad)
    assert exc.value.field == field
    good = cls()
    assert cls.from_dict(json.loads(json.dumps(good.to_dict()))) == good
