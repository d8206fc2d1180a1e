"""Typed readers of the files the tool writes: they read back what the writers wrote, refuse other files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lm_eval_values.core.errors import UserError
from lm_eval_values.results.graph import GraphEdgeRecord, GraphResult, read_graph_result
from lm_eval_values.results.human import HumanResult, read_human_result
from lm_eval_values.results.records import StageRecord, json_bytes, read_stage_record
from lm_eval_values.results.reliability import ReliabilityResult, read_reliability
from lm_eval_values.results.side_effects import HeldoutRecord, SideEffectsResult, read_side_effects_result
from lm_eval_values.results.study import read_study_record


def _write(folder: Path, name: str, doc: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(json_bytes(doc))


def test_stage_records_round_trip(tmp_path: Path) -> None:
    graph = GraphResult(settings={"algo": "pc"}, rows={"n_rows": 12}, values=["a", "b"], n_edges=1,
                        counts={"directed": 1}, edges=[GraphEdgeRecord("a", "b", "-->", 0.5, 0.25, 0.5, "---")],
                        edges_by_sample_size={"rows": {"n": 12, "n_edges": 2}, "effective": {"n": 6.5, "n_edges": 1}},
                        targets={"s1": ["a"]})
    human = HumanResult({"centering": "mrat"}, {"n_rows": 9}, 0.5, 0.01, 0.83, {"r_offdiag": 0.2})
    side = SideEffectsResult({"fdr": 0.05}, {"train": {}}, ["learned graph"], {"role prompting": {"n_rows": 3}},
                             HeldoutRecord({"q": 0.05}, {"s1": "a"}, 1, 4, [{"predictor": "learned graph",
                                                                            "auroc": 0.75}]))
    for record, reader, cls in ((graph, read_graph_result, GraphResult), (human, read_human_result, HumanResult),
                                (side, read_side_effects_result, SideEffectsResult)):
        folder = tmp_path / cls.__name__
        _write(folder, "result.json", record.to_dict())
        back = reader(folder)
        assert back is not None and back.to_dict() == json.loads((folder / "result.json").read_text())
        assert read_graph_result(folder) is None or cls is GraphResult  # formats are told apart
    g = read_graph_result(tmp_path / "GraphResult")
    assert g.n_edges_at("rows") == 2 and g.n_edges_at("effective") == 1 and g.n_stable_edges(0.5) == 1
    assert read_side_effects_result(tmp_path / "SideEffectsResult").heldout.predictor("learned").get("auroc") == 0.75
    assert read_graph_result(tmp_path / "missing") is None


def test_reliability_and_stage_records(tmp_path: Path) -> None:
    _write(tmp_path, "reliability.json", {
        "format": "lm-eval-values/reliability", "n_roles": 11, "scoring": {"name": "raw"},
        "values": {"Power": {"g": 0.0, "signal": False, "verdict": "no signal"},
                   "Tradition": {"g": 0.8, "signal": True, "verdict": "signal"},
                   "Security": {"g": None, "signal": False}},
        "acquiescence": {"roles": {"mean": -0.79, "roles_differ": True}}, "summary": ["x"]})
    rel = read_reliability(tmp_path)
    assert rel is not None and rel.n_signal == 1 and rel.median_g == pytest.approx(0.4)
    assert rel.summary_line() == ("1 of 3 values carry between-role signal (median G 0.40 over 11 roles, raw scoring); "
                                  "acquiescence (mean unkeyed answer, +1 = yes to all) -0.79")
    assert isinstance(ReliabilityResult.from_dict({}), ReliabilityResult)
    _write(tmp_path / "graph", "stage.json", {"stage": "graph", "inputs_hash": "h", "elapsed_s": 1.5})
    rec = read_stage_record(tmp_path / "graph")
    assert rec == StageRecord.from_dict(rec.to_dict()) and rec.elapsed_s == 1.5 and rec.skipped_reason is None


def test_study_record(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no readable study.json"):
        read_study_record(tmp_path)
    _write(tmp_path, "study.json", {"format": "lm-eval-values/study", "name": "S", "complete": True,
                                    "config": {"models": [{"id": "a", "label": "A"}, {"id": "b"}]},
                                    "models": {"a": {"label": "Model A", "stages": {"graph": {"elapsed_s": 2}}}}})
    study = read_study_record(tmp_path)
    assert study.model_ids() == ["a", "b"] and study.model("a").label == "Model A" and study.model("b").label == "b"
    with pytest.raises(UserError) as exc:
        study.model("c")
    assert exc.value.field == "--model"


def _reliability(signal: dict[str, bool], acq_g: float = 0.99) -> "ReliabilityResult":
    return ReliabilityResult.from_dict({
        "format": "lm-eval-values/reliability", "n_roles": 11, "scoring": {"name": "raw"},
        "values": {v: {"g": 0.9 if s else 0.0, "signal": s, "verdict": "x"} for v, s in signal.items()},
        "acquiescence": {"roles": {"mean": -0.79, "roles_differ": True, "g": acq_g}}})


def test_measurement_gate_rules_and_round_trip() -> None:
    from lm_eval_values.results.gate import MeasurementGate, measurement_gate

    none = measurement_gate(_reliability({"Power": False, "Tradition": False}))
    assert none.status == "not interpretable" and none.fires
    assert none.reason == ("0 of 2 values carry between-role signal (median G 0.00; acquiescence -0.79, roles differ "
                           "in it with G 0.99): the graph, the human comparison and the side effects describe response "
                           "bias, not values")
    assert all(s.status == "not interpretable" for s in none.stages.values()) and len(none.stages) == 3
    part = measurement_gate(_reliability({"Power": True, "Tradition": False, "Security": True}))
    assert part.status == "partly interpretable" and part.values_without_signal == ("Tradition",)
    assert part.edge_note("Power", "Security") == "" and part.edge_note("ctx:vec:Power", "Power") == ""
    assert part.edge_note("Tradition", "Power") == "not interpretable: Tradition has no between-role signal"
    assert "Tradition" in part.stage("graph").reason and part.value_has_signal("Power")
    full = measurement_gate(_reliability({"Power": True}))
    assert full.status == "interpretable" and not full.fires and full.edge_note("Power", "Power") == ""
    unchecked = measurement_gate(None, "no item table")
    assert unchecked.status == "unchecked" and "no item table" in unchecked.reason and not unchecked.fires
    assert unchecked.value_has_signal("Power") is None
    for gate in (none, part, full, unchecked):
        assert MeasurementGate.from_dict(json.loads(json.dumps(gate.to_dict()))) == gate


def test_reliability_reader_types_the_manipulation_checks() -> None:
    est = {"estimate": 0.05, "lo": -0.01, "hi": 0.09}
    rel = ReliabilityResult.from_dict({
        "format": "lm-eval-values/reliability", "n_roles": 3, "values": {
            "Power": {"g": 0.0, "signal": False, "f": 0.07, "keyed_reverse_r": -0.97,
                      "profile": {"mean": -0.01, "ci_lo": -0.04, "ci_hi": 0.02, "roles_only_lo": -0.015,
                                  "roles_only_hi": -0.012, "n_roles": 11, "n_items": 6, "item_sampling": "included"}}},
        "manipulation": [
            {"steering_id": "vec:Power", "target": "Power", "target_source": "named in the id",
             "doses": [{"coefficient": 0.5, "target": "Power", "target_change": est, "specificity": est,
                        "acquiescence_shift": {"estimate": 1.16, "lo": 1.13, "hi": 1.2},
                        "flags": ["no-effect", "bias-only"],
                        "item_sampling": {"Power": "included"}, "n_roles": 11}],
             "summary": {"spearman_rho": 0.5, "sign_agreement": 0.5, "monotonic": False,
                         "flags": ["direction ignored"]}, "words": ["w"]},
            {"steering_id": "sae:1", "target": None, "target_source": "unknown",
             "doses": [{"coefficient": 1.0, "target": None, "acquiescence_shift": est, "flags": ["target unknown"]}],
             "summary": {"flags": ["ok"]}}]})
    power = rel.values["Power"]
    assert power.f == 0.07 and power.keyed_reverse_r == -0.97 and power.profile.includes_items
    assert power.profile.ci_lo == -0.04 and power.profile.n_items == 6
    vec, sae = rel.manipulation
    assert vec.has_target and vec.doses[0].acquiescence_shift.estimate == 1.16 and vec.doses[0].items_included
    assert vec.monotonic is False and vec.flags == ("direction ignored",) and vec.words == ("w",)
    assert not sae.has_target and sae.doses[0].target_change is None and sae.doses[0].items_included is None
