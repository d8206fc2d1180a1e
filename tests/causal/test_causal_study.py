"""The causal stage on the study's Gemma-2B-IT data (skipped when ../shared/data is absent).

The 200-resample bootstrap is ``slow`` (run with ``-m slow``); the default run checks
reproducibility on a few resamples.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import networkx as nx
import pytest

from lm_eval_values.causal.bootstrap import bootstrap
from lm_eval_values.causal.discovery import discover
from lm_eval_values.causal.reference import load_reference
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.reading import read_value_matrix
from lm_eval_values.matrix.value_matrix import ValueMatrix

KEPT = ["none", 14351, 1025, 2965, 10096, 1341, 1975, 10605, 14049, 1312, 4752]


@pytest.fixture(scope="module")
def vcg(shared_data: Path) -> Path:
    d = shared_data / "valuecausalgraph" / "tutorials"
    if not (d / "useful_data" / "ans_gemma_train_formal.csv").is_file():
        pytest.skip("valuecausalgraph data not available")
    return d


@pytest.fixture(scope="module")
def train(vcg: Path) -> ValueMatrix:
    return read_value_matrix(vcg / "useful_data" / "ans_gemma_train_formal.csv", keep_steering=KEPT)


@pytest.fixture(scope="module")
def learned(train: ValueMatrix):
    return discover(train, algo="pc", alpha=0.05, indep_test="fisherz")


def test_pc_reproduces_the_study_graph(train: ValueMatrix, learned) -> None:
    assert train.scores.shape == (1111, 17)
    assert learned.n_edges == 44
    assert learned.count_by_kind() == {"directed": 41, "undirected": 3}
    undirected = {frozenset((e.u, e.v)) for e in learned.edges() if e.kind == "---"}
    assert undirected == {frozenset(("Organization", "Positive coping")),
                          frozenset(("Positive coping", "Religious")),
                          frozenset(("Social", "Uncertainty Avoidance"))}


def test_study_policy_gives_edges_gemma(vcg: Path, learned) -> None:
    doc = json.loads((vcg / "value_graph_gemma.json").read_text())
    gemma_arrows = {(u, v) for u, v, _, _ in doc["edges"]["gemma"]}
    assert len(gemma_arrows) == 28
    sd = learned.study_digraph()
    assert set(sd.edges()) == gemma_arrows  # the edge set itself
    ref_dg = nx.DiGraph(list(gemma_arrows))
    ref_dg.add_nodes_from(learned.nodes)
    study = learned.descendant_sets(policy="study")
    assert study == {n: set(nx.descendants(ref_dg, n)) for n in learned.nodes}  # descendant sets
    ref = load_reference(f"{vcg / 'value_graph_gemma.json'}:edges.gemma", nodes=learned.nodes)
    assert ref.count_by_kind() == {"directed": 22, "undirected": 3}
    assert ref.descendant_sets(policy="study") == study
    # the policy matters: definite-directed reachability is smaller
    assert any(learned.descendants(n, policy="directed") != study[n] for n in learned.nodes)


def test_reference_with_unknown_names_is_refused(tmp_path: Path) -> None:
    from lm_eval_values.values.names import VCG17_VALUES

    p = tmp_path / "ref.json"
    p.write_text(json.dumps([["Power", "Achievement", "-->"]]))
    with pytest.raises(UserError, match=r"unknown node name\(s\) \['Power'\]"):
        load_reference(p, nodes=list(VCG17_VALUES))


def test_bootstrap_is_seeded_and_independent_of_workers(train: ValueMatrix, learned) -> None:
    small = train.filter(keep_steering=["none", "14351"])  # 202 rows: same code path, faster
    a = bootstrap(small, n_boot=3, seed=7, n_jobs=1)
    b = bootstrap(small, n_boot=3, seed=7, n_jobs=2)
    assert a.unit == "role" and a.n_ok == 3
    assert a.to_json() == b.to_json()
    c = bootstrap(small, n_boot=3, seed=8, n_jobs=1)
    assert c.to_json() != a.to_json()
    t = a.table()
    assert {"u", "v", "freq", "freq_u_to_v", "freq_v_to_u", "freq_undirected"} <= set(t.columns)
    assert t["freq"].between(0, 1).all() and (t["freq"] * 3).round(9).mod(1).eq(0).all()
    ann = a.annotate(learned)
    assert all(0.0 <= ann.edge_attrs(e.u, e.v)["freq"] <= 1.0 for e in ann.edges())
    cons = a.consensus(1.0)
    assert all(a.edge_freq(e.u, e.v) == 1.0 for e in cons.edges())


@pytest.mark.slow
def test_bootstrap_200(train: ValueMatrix) -> None:
    a = bootstrap(train, n_boot=200, seed=0)
    print(f"bootstrap 200 resamples of roles: {a.elapsed_s:.1f} s wall, {a.n_ok} ok")
    assert a.n_ok == 200
    b = bootstrap(train, n_boot=200, seed=0)
    assert a.to_json() == b.to_json()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_graph_cli_writes_everything(vcg: Path, tmp_path: Path) -> None:
    from lm_eval_values.cli import main as cli_main

    out = tmp_path / "g"
    csv = vcg / "useful_data" / "ans_gemma_train_formal.csv"
    ref = vcg / "value_graph_gemma.json"
    rc = cli_main(["graph", str(csv), "--keep-steer", "none,14351,1025,2965,10096,1341,1975,10605,14049,1312,4752",
                   "--sample-size", "rows", "--jci", "none", "--bootstrap-scheme", "resample-duplicates",
                   "--policy", "study", "--bootstrap", "1", "--jobs", "1", "--seed", "3",
                   "--reference", f"{ref}:gemma", "--reference", f"{ref}:human1", "--out", str(out)])
    assert rc == 0
    names = {p.name for p in out.iterdir()}
    assert {"graph.json", "graph.graphml", "graph.dot", "graph.png", "metrics.json", "descendants.json",
            "study_edges.json", "bootstrap.csv", "bootstrap.json", "consensus.json", "result.json",
            "descendant_probabilities.csv"} <= names
    result = json.loads((out / "result.json").read_text())
    assert result["n_edges"] == 44 and result["edges_by_sample_size"]["rows"]["n_edges"] == 44
    assert result["edges_by_sample_size"]["effective"]["n_edges"] < 44
    assert not any(n.startswith(".tmp-") for n in names)
    w, h = _png_size((out / "graph.png").read_bytes())
    assert w > 800 and h > 600
    metrics = json.loads((out / "metrics.json").read_text())
    gm = metrics[f"{ref}:gemma"]
    assert gm["descendant_sets_equal"] is True and gm["study_edges_equal"] is True
    assert metrics[f"{ref}:human1"]["study_edges"]["shared"] == 0  # "shares 0 directed edges" (protocol item 8)
    assert json.loads((out / "study_edges.json").read_text())["n_edges"] == 28
    assert nx.read_graphml(out / "graph.graphml").number_of_edges() == 44
    back = load_reference(out / "graph.json")
    assert back.count_by_kind() == {"directed": 41, "undirected": 3}


def test_graph_cli_validates_before_writing(vcg: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from lm_eval_values.cli import main as cli_main

    csv = vcg / "useful_data" / "ans_gemma_train_formal.csv"
    out = tmp_path / "never"
    for extra, msg in ((["--keep-steer", "none", "99999"], "unknown steering id"),
                       (["--reference", f"{vcg / 'value_graph_gemma.json'}:nope"], "no graph 'nope'"),
                       (["--columns", "Achievement", "Nope"], "unknown value column"),
                       (["--alpha", "2"], "--alpha")):
        rc = cli_main(["graph", str(csv), *extra, "--out", str(out)])
        err = capsys.readouterr().err
        assert rc == 2 and msg in err and err.count("\n") == 1
        assert not out.exists()
