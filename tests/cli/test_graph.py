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
