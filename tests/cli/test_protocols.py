"""Shipped analysis protocols: `--protocol NAME` starts a stage command from a published study's settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lm_eval_values.analysis.protocols import load_protocol, protocol_names
from lm_eval_values.cli import main as cli_main
from lm_eval_values.core.errors import UserError

PAPER = "kang2025-gemma-2b-it"


def test_shipped_protocol_loads() -> None:
    assert PAPER in protocol_names()
    proto = load_protocol(PAPER)
    graph = proto.section("graph")
    assert graph["sample_size"] == "rows" and graph["jci"] == "none"
    assert [str(x) for x in proto.sections["kept_features"]] == [str(x) for x in graph["keep_steer"][1:]]
    with pytest.raises(UserError, match="no 'nonexistent' section"):
        proto.section("nonexistent")
    with pytest.raises(UserError, match="no protocol 'kang2024'"):
        load_protocol("kang2024")


def test_graph_protocol_reproduces_the_paper_graph(shared_data: Path, tmp_path: Path, capsys) -> None:
    tut = shared_data / "valuecausalgraph" / "tutorials"
    ref = tut / "value_graph_gemma.json"
    out = tmp_path / "g"
    rc = cli_main(["graph", str(tut / "useful_data" / "ans_gemma_train_formal.csv"), "--protocol", PAPER,
                   "--reference", f"{ref}:gemma", "--out", str(out)])
    assert rc == 0
    result = json.loads((out / "result.json").read_text())
    assert result["rows"]["n_rows"] == 1111 and result["counts"] == {"directed": 41, "undirected": 3}
    assert json.loads((out / "metrics.json").read_text())[f"{ref}:gemma"]["study_edges_equal"] is True
    # a flag given next to the protocol changes that setting only
    capsys.readouterr()
    rc = cli_main(["graph", str(tut / "useful_data" / "ans_gemma_train_formal.csv"), "--protocol", PAPER,
                   "--sample-size", "effective", "--out", str(tmp_path / "g2")])
    assert rc == 0
    honest = json.loads((tmp_path / "g2" / "result.json").read_text())
    assert honest["settings"]["jci"] == "none" and honest["n_edges"] < 44


def test_protocol_and_study_are_exclusive(tmp_path: Path, capsys) -> None:
    rc = cli_main(["graph", "--study", str(tmp_path), "--protocol", PAPER, "--out", str(tmp_path / "o")])
    assert rc == 2 and "--protocol" in capsys.readouterr().err


def test_side_effects_protocol_reproduces_the_paper_table(shared_data: Path, tmp_path: Path, capsys) -> None:
    tut = shared_data / "valuecausalgraph" / "tutorials"
    ref = tut / "value_graph_gemma.json"
    rc = cli_main(["side-effects", "--graph", f"{ref}:gemma", "--reference", f"{ref}:human1",
                   "--train", str(tut / "useful_data" / "ans_gemma_train_formal.csv"),
                   "--heldout", str(tut / "useful_data" / "ans_gemma_test_formal.csv"),
                   "--protocol", PAPER, "--n-boot", "20", "--out", str(tmp_path / "se")])
    assert rc == 0
    metric = json.loads((tmp_path / "se" / "study_metric.json").read_text())
    got = {(kind, name.split(":")[-1]): (round(g["expected"], 2), round(g["unexpected"], 2))
           for kind, entry in metric.items() for name, g in entry["graphs"].items()}
    assert got == {("role prompting", "learned graph"): (0.69, 0.56), ("role prompting", "human1"): (0.69, 0.59),
                   ("steering (Mary Holt)", "learned graph"): (0.57, 0.51),
                   ("steering (Mary Holt)", "human1"): (0.79, 0.50)}
