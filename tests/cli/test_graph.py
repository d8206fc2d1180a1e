"""`lm-eval-values graph` on a small synthetic sweep folder (no shared data needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lm_eval_values.cli import main as cli_main

from tests.causal.test_causal_discovery import _knob_matrix


def _sweep_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "sweep"
    folder.mkdir()
    _knob_matrix().to_frame().to_csv(folder / "matrix.csv", index=False)
    return folder


def test_graph_cli_knobs_background_folder_input(tmp_path: Path) -> None:
    folder = _sweep_folder(tmp_path)
    bg = tmp_path / "bg.json"
    bg.write_text(json.dumps({"forbidden": [["c", "a"], ["a", "c"]]}))
    out = tmp_path / "out"
    rc = cli_main(["graph", str(folder), "--exogenous-knobs", "steering", "--background", str(bg), "--policy", "possible",
                   "--bootstrap", "3", "--jobs", "1", "--out", str(out)])
    assert rc == 0
    values_only = json.loads((out / "graph.json").read_text())
    assert {n["kind"] for n in values_only["nodes"]} == {"value"}
    doc = json.loads((out / "graph_contexts.json").read_text())
    kinds = {n["id"]: n["kind"] for n in doc["nodes"]}
    assert kinds["steer=k1"] == "knob" and kinds["a"] == "value"
    assert any(e["source"] == "steer=k1" and e["target"] == "a" and e["kind"] == "-->" for e in doc["edges"])
    assert (out / "graph.png").read_bytes()[:4] == b"\x89PNG"
    desc = json.loads((out / "descendants.json").read_text())
    assert desc["policy"] == "possible" and "b" in desc["descendants"]["steer=k1"]
    boot = json.loads((out / "bootstrap.json").read_text())
    assert boot["unit"] == "role" and boot["n_boot"] == 3


@pytest.mark.parametrize("extra, msg", [
    (["--background", "missing.json"], "does not exist"),
    (["--algo", "ges", "--background", "BG"], "GES takes no background"),
    (["--threshold", "0"], "--threshold"),
])
def test_graph_cli_bad_input_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str],
                                            msg: str) -> None:
    folder = _sweep_folder(tmp_path)
    bg = tmp_path / "bg.json"
    bg.write_text(json.dumps({"forbidden": [["c", "a"]]}))
    extra = [str(bg) if x == "BG" else x for x in extra]
    out = tmp_path / "out"
    rc = cli_main(["graph", str(folder), *extra, "--out", str(out)])
    assert rc == 2 and msg in capsys.readouterr().err
    assert not out.exists()


def test_graph_cli_counts_the_rows_it_dropped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Rows with an empty value cell leave the fit; the record and stderr both say how many."""
    frame = _knob_matrix().to_frame()
    value = [c for c in frame.columns if c not in ("condition_id", "role_id", "split", "steering_id",
                                                   "coefficient", "seed")][0]
    frame[value] = frame[value].astype(float)
    frame.loc[frame.index[[1, 4, 9]], value] = float("nan")
    frame.to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "out"
    assert cli_main(["graph", str(tmp_path / "m.csv"), "--bootstrap", "0", "--out", str(out)]) == 0
    rows = json.loads((out / "result.json").read_text())["rows"]
    fit = json.loads((out / "graph.json").read_text())["graph"]
    assert (rows["n_rows"], rows["n_rows_dropped"]) == (len(frame) - 3, 3)
    assert fit["n_rows"] == len(frame) - 3
    assert f"note: INPUT: dropped 3 of {len(frame)} selected rows" in capsys.readouterr().err
