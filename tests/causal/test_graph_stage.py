"""The graph stage (:func:`run_graph`): typed settings, honest defaults, both edge counts, the drawing rule,
deterministic files; the reference study's 44 edges on request (Gemma data, skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lm_eval_values.causal.graph import ARROW, TAIL, ValueGraph
from lm_eval_values.causal.simulate import SimulationSetting, simulate_study
from lm_eval_values.causal.stage import run_graph
from lm_eval_values.causal.stage_files import drawn_graph
from lm_eval_values.causal.stage_settings import GraphStageSettings
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.value_matrix import ValueMatrix
from lm_eval_values.results.graph import read_graph_result


def test_defaults_are_honest_and_round_trip() -> None:
    s = GraphStageSettings()
    d = s.to_dict()
    assert d["sample_size"]["mode"] == "effective" and d["sample_size"]["design"] == "pairwise"
    assert d["jci"] == "steering" and d["bootstrap_scheme"] == "subsample" and d["policy"] == "possible"
    assert d["bootstrap"] == 100 and d["orientation_threshold"] == 0.8 and d["split"] is None
    assert GraphStageSettings.from_dict(json.loads(json.dumps(d))) == s
    study = GraphStageSettings.study()
    assert study.discovery.sample_size.mode == "rows" and not study.discovery.jci.enabled
    assert study.bootstrap.scheme == "resample-duplicates"
    # keys not given keep the base's values
    base = GraphStageSettings.from_dict({"split": "train", "alpha": 0.01, "seed": 3})
    changed = GraphStageSettings.from_dict({"sample_size": "rows"}, base)
    assert changed.rows.split == "train" and changed.discovery.alpha == 0.01 and changed.seed == 3
    assert changed.discovery.sample_size.mode == "rows"


@pytest.mark.parametrize("bad, field", [
    ({"colour": "red"}, "graph.colour"), ({"alpha": 2}, "graph.alpha"), ({"bootstrap_scheme": "jack"},
                                                                        "graph.bootstrap_scheme"),
    ({"bootstrap": -1}, "graph.bootstrap"), ({"bootstrap": 1.5}, "graph.bootstrap"), ({"threshold": 0},
                                                                                      "graph.threshold"),
    ({"jci": "planets"}, "graph.jci.contexts"), ({"policy": "sideways"}, "graph.policy"),
    ({"algo": "fci", "policy": "study"}, "graph.policy"), ({"keep_steer": "none"}, "graph.keep_steer"),
    ({"seed": -1}, "graph.seed"), ({"standardize": "yes"}, "graph.standardize"),
    ({"sample_size": {"mode": "effective", "design": "magic"}}, "graph.sample_size.design"),
])
def test_bad_settings_are_user_errors(bad: dict, field: str) -> None:
    with pytest.raises(UserError) as exc:
        GraphStageSettings.from_dict(bad)
    assert exc.value.field == field


def _graph(stability: float) -> ValueGraph:
    g = ValueGraph(["a", "b", "c", "steer=s"], node_kinds={"a": "value", "b": "value", "c": "value",
                                                          "steer=s": "knob"})
    g.add_edge("a", "b", TAIL, ARROW, freq=0.9, orientation_stability=stability)
    g.add_edge("b", "c", TAIL, TAIL, freq=0.9, orientation_stability=1.0)
    g.add_edge("steer=s", "c", TAIL, ARROW, freq=0.1, orientation_stability=None)
    return g


def test_arrowheads_only_where_the_resamples_support_them() -> None:
    kept = drawn_graph(_graph(0.85), 0.8)
    assert kept.edge_kind("a", "b") == "-->" and not kept.edge_attrs("a", "b").get("orientation_unstable")
    cut = drawn_graph(_graph(0.6), 0.8)
    assert cut.edge_kind("a", "b") == "---" and cut.edge_attrs("a", "b")["orientation_unstable"] is True
    assert cut.edge_kind("steer=s", "c") == "-->"  # contexts are oriented by assumption, not by the data
    assert drawn_graph(_graph(0.1), None).edge_kind("a", "b") == "-->"


@pytest.fixture(scope="module")
def simulated() -> ValueMatrix:
    return simulate_study(SimulationSetting(n_values=5, n_roles=30, n_settings=2), seed=0).matrix


def test_run_graph_writes_one_deterministic_format(simulated: ValueMatrix, tmp_path: Path) -> None:
    settings = GraphStageSettings.from_dict({"bootstrap": 6})
    a = run_graph(simulated, settings, tmp_path / "a", jobs=1)
    b = run_graph(simulated, settings, tmp_path / "b", jobs=2)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(["result.json", "graph.json", "graph.graphml", "graph.dot", "graph_contexts.json",
                            "graph.png", "descendants.json", "bootstrap.csv", "bootstrap.json", "consensus.json",
                            "descendant_probabilities.csv"])
    for name in names:  # the same bytes whatever the number of workers
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    r = read_graph_result(tmp_path / "a")
    assert r is not None and a.result.to_dict() == b.result.to_dict()
    assert r.to_dict() == json.loads((tmp_path / "a" / "result.json").read_text())  # the typed reader loses nothing
    assert set(r.edges_by_sample_size) == {"rows", "effective"}
    eff = r.edges_by_sample_size["effective"]
    assert eff["n"] < r.edges_by_sample_size["rows"]["n"] == 90  # 30 roles x 3 settings
    assert set(r.targets) == {"s1@1", "s2@1"} and r.sample_size["mode"] == "effective"
    assert r.bootstrap["n_ok"] == 6 and r.bootstrap["scheme"] == "subsample"
    probs = (tmp_path / "a" / "descendant_probabilities.csv").read_text().splitlines()
    assert probs[0].startswith("source,") and any(line.startswith("steer=s1@1,") for line in probs)
    values_graph = json.loads((tmp_path / "a" / "graph.json").read_text())
    assert {n["kind"] for n in values_graph["nodes"]} == {"value"}


def test_run_graph_validates_before_writing(simulated: ValueMatrix, tmp_path: Path) -> None:
    for bad in (GraphStageSettings.from_dict({"keep_steer": ["nope"]}),
                GraphStageSettings.from_dict({"columns": ["V0", "nope"]}),
                GraphStageSettings.from_dict({"split": "test"})):
        with pytest.raises(UserError):
            run_graph(simulated, bad, tmp_path / "out")
        assert not (tmp_path / "out").exists()


def test_the_study_procedure_and_the_honest_default_on_gemma(gemma_train: ValueMatrix) -> None:
    study = run_graph(gemma_train, GraphStageSettings.from_dict({"bootstrap": 0}, GraphStageSettings.study())).result
    assert study.n_edges == 44 and dict(study.counts) == {"directed": 41, "undirected": 3}
    assert study.n_edges_at("rows") == 44 and study.sample_size["n"] == 1111
    assert study.n_edges_at("effective") < 44
    honest = run_graph(gemma_train, GraphStageSettings.from_dict({"bootstrap": 0})).result
    eff = honest.edges_by_sample_size["effective"]
    assert honest.n_edges == eff["n_edges"] < honest.n_edges_at("rows") <= 44
    assert 150 < honest.sample_size["n"] < 400 and len(honest.targets) == 10
    print(f"Gemma: study procedure {study.n_edges} edges at n = 1111, {study.n_edges_at('effective')} at "
          f"n = {study.edges_by_sample_size['effective']['n']:.1f}; honest default {honest.n_edges} edges at "
          f"n = {honest.sample_size['n']:.1f} ({honest.n_edges_at('rows')} with every row counted)")
