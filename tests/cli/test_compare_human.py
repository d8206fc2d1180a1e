"""``lm-eval-values compare-human``: inputs, outputs, atomicity, user errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lm_eval_values.cli.compare_human import main as compare_human_main
from lm_eval_values.cli import main as cli_main
from lm_eval_values.core.errors import UserError
from lm_eval_values.values.names import SCHWARTZ_VALUES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _scores(n: int = 36, seed: int = 0) -> pd.DataFrame:
    """A noisy circumplex with a per-row response style (as roles give)."""
    rng = np.random.default_rng(seed)
    theta = 2 * np.pi * np.arange(10) / 10
    f = rng.normal(size=(n, 2))
    x = f[:, :1] * np.cos(theta) + f[:, 1:] * np.sin(theta) + 0.5 * rng.normal(size=(n, 10))
    return pd.DataFrame(x + 3 + 0.5 * rng.normal(size=(n, 1)), columns=list(SCHWARTZ_VALUES))


def _sweep_csv(path: Path, scores: pd.DataFrame, steering: list[str] | None = None) -> Path:
    n = len(scores)
    steering = steering or ["none"] * n
    meta = pd.DataFrame({"condition_id": [f"role{i}|{s}" for i, s in enumerate(steering)],
                         "role_id": [f"role{i}" for i in range(n)], "split": "train",
                         "steering_id": steering, "coefficient": 0.0, "seed": 0})
    pd.concat([meta, scores.reset_index(drop=True)], axis=1).to_csv(path, index=False)
    return path


def _run(*args: str) -> int:
    """Through the console-script dispatcher (success paths)."""
    return cli_main(["compare-human", *map(str, args)])


def _fails(*args: str) -> str:
    """Run compare-human directly and return the one-line UserError it raises.

    (The dispatcher prints such errors as one line with exit status 2; calling the module
    directly keeps these tests from importing torch through the dispatcher's error path.)
    """
    with pytest.raises(UserError) as info:
        compare_human_main([str(a) for a in args])
    text = str(info.value)
    assert "\n" not in text
    return text


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("compare_human")
    csv = _sweep_csv(root / "matrix.csv", _scores())
    out = root / "out"
    assert _run(csv, "--out", out, "--permutations", 300, "--seed", 7) == 0
    return csv, out


def test_sweep_matrix_writes_metrics_and_plots(sweep_run, capsys):
    csv, out = sweep_run
    names = sorted(p.name for p in out.iterdir())
    assert names == ["compare_human.json", "correlations.png", "distance_curve.png", "human_graph.json", "mds.png",
                     "model_correlation.csv", "result.json"]
    for png in ("correlations.png", "distance_curve.png", "mds.png"):
        assert (out / png).read_bytes().startswith(PNG_MAGIC) and (out / png).stat().st_size > 10_000
    d = json.loads((out / "compare_human.json").read_text())
    assert d["n_rows"] == 36 and d["centering"] == "mrat"
    assert d["rthor"]["human"]["ci"] == pytest.approx(0.835)
    assert d["rthor"]["model"]["permutations"] == 300 and d["rthor"]["model"]["seed"] == 7
    assert d["rthor"]["model"]["ci"] > 0.6 and d["rthor"]["model"]["p_value"] < 0.05
    assert list(d["distance_curve"]["human"]) == ["1", "2", "3", "4", "5"]
    assert d["similarity_to_human"]["n_cells"] == 45
    assert d["causal"]["human"]["n_edges"] >= 5 and "comparison" in d["causal"]
    boot = d["bootstrap"]
    assert boot["n_boot"] == 1000 and boot["ci"][0] <= d["rthor"]["model"]["ci"] <= boot["ci"][1]
    corr = pd.read_csv(out / "model_correlation.csv", index_col=0)
    assert list(corr.columns) == list(SCHWARTZ_VALUES)


def test_same_seed_same_bytes(sweep_run, tmp_path):
    csv, out = sweep_run
    assert _run(csv, "--out", tmp_path / "again", "--permutations", 300, "--seed", 7) == 0
    for name in ("compare_human.json", "model_correlation.csv", "distance_curve.png"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes()


def test_plain_csv_with_slugs_uncentered_and_item_mean(tmp_path):
    scores = _scores(n=20, seed=1)
    plain = scores.rename(columns={v: v.lower().replace("-", "_") for v in SCHWARTZ_VALUES})
    plain.insert(0, "role", [f"r{i}" for i in range(20)])
    plain["mrat"] = scores.mean(axis=1)
    path = tmp_path / "plain.csv"
    plain.to_csv(path, index=False)
    assert _run(path, "--out", tmp_path / "a", "--centering", "none", "--permutations", 50, "--no-causal",
                "--no-plots", "--bootstrap", 0) == 0
    d = json.loads((tmp_path / "a" / "compare_human.json").read_text())
    assert d["centering"] == "none" and "causal" not in d
    assert d["rthor"]["human"]["ci"] == pytest.approx(0.775)
    assert _run(path, "--out", tmp_path / "b", "--item-mean-column", "mrat", "--permutations", 50, "--no-causal",
                "--no-plots", "--bootstrap", 0) == 0
    assert _run(path, "--out", tmp_path / "c", "--permutations", 50, "--no-causal", "--no-plots", "--bootstrap", 0) == 0
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["compare_human.json", "model_correlation.csv",
                                                                   "result.json"]
    b = json.loads((tmp_path / "b" / "compare_human.json").read_text())
    c = json.loads((tmp_path / "c" / "compare_human.json").read_text())
    assert b["correlation"] == c["correlation"]  # the column equals the equal-weight mean
    assert b["settings"]["item_mean"] == "given"


def test_keep_steer_and_drop_incomplete(tmp_path):
    scores = _scores(n=30, seed=2)
    scores.loc[3, "Power"] = np.nan
    steering = ["none"] * 24 + ["123"] * 6
    csv = _sweep_csv(tmp_path / "matrix.csv", scores, steering)
    assert "missing" in _fails(csv, "--out", tmp_path / "x", "--no-causal", "--permutations", 50)
    assert not (tmp_path / "x").exists()
    assert _run(csv, "--out", tmp_path / "y", "--keep-steer", "none", "--drop-incomplete",
                "--permutations", 50, "--no-causal", "--no-plots", "--bootstrap", 0) == 0
    d = json.loads((tmp_path / "y" / "compare_human.json").read_text())
    assert d["n_rows"] == 23 and d["rows"]["n_dropped_incomplete"] == 1
    # the default respondents are the unsteered rows: the 6 steered rows are left out
    assert _run(csv, "--out", tmp_path / "z", "--drop-incomplete", "--permutations", 50, "--no-causal", "--no-plots",
                "--bootstrap", 0) == 0
    z = json.loads((tmp_path / "z" / "result.json").read_text())
    assert z["rows"]["keep_steer"] == ["none"] and z["rows"]["n_rows"] == 23
    assert _run(csv, "--out", tmp_path / "all", "--rows", "all", "--drop-incomplete", "--permutations", 50,
                "--no-causal", "--no-plots", "--bootstrap", 0) == 0
    assert json.loads((tmp_path / "all" / "result.json").read_text())["rows"]["n_rows"] == 29


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s.drop(columns=["Benevolence"]), "missing Schwartz value column(s): Benevolence"),
    (lambda s: s.assign(Universalism=4.0), "constant column(s) Universalism"),
])
def test_bad_input_writes_nothing(tmp_path, mutate, message):
    csv = _sweep_csv(tmp_path / "matrix.csv", mutate(_scores(n=15)))
    out = tmp_path / "out"
    assert message in _fails(csv, "--out", out)
    assert not out.exists()


@pytest.mark.parametrize("args, field", [
    (["--centering", "zscore"], "--centering"),
    (["--permutations", "0"], "--permutations"),
    (["--alpha", "2"], "--alpha"),
    (["--bootstrap", "-1"], "--bootstrap"),
    (["--item-mean-column", "nope"], "--item-mean-column"),
])
def test_bad_flags_are_one_line_errors(tmp_path, args, field):
    csv = _sweep_csv(tmp_path / "matrix.csv", _scores(n=15))
    assert _fails(csv, "--out", tmp_path / "out", *args).startswith(f"{field}:")
    assert not (tmp_path / "out").exists()


def test_missing_input_file_and_out_is_a_file(tmp_path):
    assert "does not exist" in _fails(tmp_path / "nope.csv", "--out", tmp_path / "out")
    csv = _sweep_csv(tmp_path / "matrix.csv", _scores(n=15))
    (tmp_path / "file").write_text("x")
    assert _fails(csv, "--out", tmp_path / "file").startswith("--out:")


def test_items_per_value_and_convention(tmp_path):
    from lm_eval_values.analysis.circumplex import load_human_reference
    from lm_eval_values.analysis.circumplex.inputs import parse_items_per_value
    from lm_eval_values.core.errors import UserError

    ref = load_human_reference()
    assert parse_items_per_value("equal", ref) is None
    assert parse_items_per_value("pvq40", ref) == ref.items_per_value
    text = ",".join(f"{v.lower()}={k}" for v, k in ref.items_per_value.items())
    assert parse_items_per_value(text, ref) == {v: float(k) for v, k in ref.items_per_value.items()}
    for bad in ("Power=3", "Power=x", "Powr=3," + text, "many"):
        with pytest.raises(UserError, match="--items-per-value"):
            parse_items_per_value(bad, ref)
    csv = _sweep_csv(tmp_path / "matrix.csv", _scores(n=20, seed=4))
    runs = {}
    for name, extra in {"eq": [], "pvq": ["--items-per-value", "pvq40"], "shared": ["--convention", "shared"]}.items():
        assert _run(csv, "--out", tmp_path / name, "--permutations", 50, "--no-causal", "--no-plots", "--bootstrap", 0, *extra) == 0
        runs[name] = json.loads((tmp_path / name / "compare_human.json").read_text())
    assert runs["pvq"]["correlation"] != runs["eq"]["correlation"]
    assert runs["pvq"]["settings"]["items_per_value"] == ref.items_per_value
    assert list(runs["shared"]["distance_curve"]["human"]) == ["0", "1", "2", "3", "4"]
    assert runs["shared"]["rthor"]["human"]["comparisons"] == 770
