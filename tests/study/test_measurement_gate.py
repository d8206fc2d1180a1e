"""The study's analysis stages on simulated sweep folders with a known truth (no model): the measurement gate
fires when no value carries between-role signal (only a yes-bias varies between roles) and does not fire when
the simulated roles carry value signal; the report shows the gate, the manipulation flags and profile
intervals that include item sampling; the scoring of the value scores reaches every stage."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lm_eval_values.core.conditions import coefficient_text
from lm_eval_values.matrix.tables import fmt_float
from lm_eval_values.measurement.scored_matrix import scored_frame, scored_value_matrix
from lm_eval_values.measurement.simulate import SimulatedSteering, SimulationSettings, simulate_items
from lm_eval_values.measurement.table import items_from_csv_text
from lm_eval_values.results.gate import INTERPRETABLE, NOT_INTERPRETABLE, PARTLY
from lm_eval_values.results.study import read_study_record
from lm_eval_values.values.names import SCHWARTZ_VALUES

#: a vector that moves only the yes-bias, a prompt that moves its target, a setting that names no value
STEERING = (SimulatedSteering("vec:Power", "Power", (-0.5, 0.5), target_shift=0.0, bias_shift=1.0, noise_sd=0.02),
            SimulatedSteering("prompt:Tradition", "Tradition", (1.0,), target_shift=0.6, noise_sd=0.02),
            SimulatedSteering("sae:12", None, (1.0,), bias_shift=0.4, noise_sd=0.02))


def write_simulated_sweep(folder: Path, settings: SimulationSettings) -> None:
    """A sweep folder as the analysis stages read it: items.csv, matrix.csv (the items averaged per value) and
    a manifest."""
    data = simulate_items(settings)
    folder.mkdir(parents=True)
    (folder / "items.csv").write_text(data.to_csv_text())
    items = items_from_csv_text(data.to_csv_text(), "sim")
    frame = scored_frame(items, "raw")
    frame["coefficient"] = [coefficient_text(c) for c in frame["coefficient"]]
    for v in SCHWARTZ_VALUES:
        frame[v] = [fmt_float(x) for x in frame[v]]
    frame.to_csv(folder / "matrix.csv", index=False, lineterminator="\n")
    n_items = int(items.groupby("condition_id").size().iloc[0])
    (folder / "manifest.json").write_text(json.dumps({"complete": True, "conditions": [{"n_items": n_items}] * len(frame),
                                                      "resolved": {"tasks": ["simulated"],
                                                                   "model_args": {"pretrained": "simulated"}}}))


def study_raw(scoring: str = "raw") -> dict:
    return {"name": "Simulated study", "models": [{"id": "sim", "label": "Simulated respondents",
                                                  "model_args": {"pretrained": "smollm2-135m-instruct"}}],
            "sweep": {"tasks": ["values_schwartz"], "roles": {"generate": {"train": 24, "test": 0}}},
            "reliability": {"scoring": scoring, "intervals": {"n_boot": 400}, "manipulation": {"n_boot": 400}},
            "graph": {"bootstrap": 4, "jobs": 1}, "human": {"permutations": 100, "bootstrap": 20},
            "side_effects": {"n_random": 5}}


def run_analysis(root: Path, settings: SimulationSettings, scoring: str = "raw") -> Path:
    """The study's analysis stages and report on a simulated sweep; ``study.json`` as the study writes it."""
    from lm_eval_values.report.build import build_report
    from lm_eval_values.study.analyses import scoring_record
    from lm_eval_values.study.config import parse_study_config
    from lm_eval_values.study.run import analysis_stages

    run = root / "run"
    write_simulated_sweep(run / "sim" / "sweep", settings)
    raw = study_raw(scoring)
    cfg = parse_study_config(raw, base=root)
    stages, gate = analysis_stages(cfg, "sim", run / "sim", "[sim]")
    (run / "config.yaml").write_text("name: Simulated study\n")
    record = {"format": "lm-eval-values/study", "name": "Simulated study", "config": raw,
              "scoring": scoring_record(cfg.analysis.reliability), "versions": {}, "complete": True,
              "models": {"sim": {"label": "Simulated respondents", "gate": gate.to_dict(),
                                 "stages": {k: {"elapsed_s": v.get("elapsed_s")} for k, v in stages.items()}}}}
    (run / "study.json").write_text(json.dumps(record))
    build_report(run)
    return run


BASE = dict(n_roles=24, n_items=6, item_sd=0.15, interaction_sd=0.08, steering=STEERING, seed=1)


@pytest.fixture(scope="module")
def no_signal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only a yes-bias varies between roles (a "no"-bias of -0.6, SD 0.3): no value signal."""
    return run_analysis(tmp_path_factory.mktemp("nosignal"), SimulationSettings(
        role_sd=0.0, acquiescence_mean=-0.6, acquiescence_sd=0.3, **BASE))


@pytest.fixture(scope="module")
def signal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Roles differ in every value (SD 0.3) well beyond the role x item noise."""
    return run_analysis(tmp_path_factory.mktemp("signal"), SimulationSettings(role_sd=0.3, **BASE))


def test_gate_fires_without_signal(no_signal: Path) -> None:
    gate = read_study_record(no_signal).model("sim").gate
    assert gate is not None and gate.status == NOT_INTERPRETABLE and gate.fires
    assert gate.n_signal == 0 and gate.n_values == 10 and set(gate.values_without_signal) == set(SCHWARTZ_VALUES)
    assert gate.roles_differ_in_acquiescence and gate.acquiescence == pytest.approx(-0.6, abs=0.15)
    assert "0 of 10 values carry between-role signal" in gate.reason and "describe response bias" in gate.reason
    assert {k: s.status for k, s in gate.stages.items()} == dict.fromkeys(("graph", "human", "side_effects"),
                                                                         NOT_INTERPRETABLE)
    page = html.unescape((no_signal / "report.html").read_text())
    assert "Measurement gate: NOT INTERPRETABLE" in page
    assert page.count("NOT INTERPRETABLE</b> (measurement gate)") >= 2  # graph and human sections at least
    data = json.loads((no_signal / "data" / "report_data.json").read_text())
    assert any("measurement gate: NOT INTERPRETABLE: 0 of 10 values" in line for line in data["summary"])
    assert any(line.startswith("[NOT INTERPRETABLE") for line in data["summary"])
    assert data["models"][0]["gate"]["status"] == NOT_INTERPRETABLE


def test_gate_does_not_fire_with_role_signal(signal: Path) -> None:
    gate = read_study_record(signal).model("sim").gate
    assert gate is not None and gate.status == INTERPRETABLE and not gate.fires
    assert gate.n_signal == 10 and gate.median_g is not None and gate.median_g > 0.8
    page = html.unescape((signal / "report.html").read_text())
    assert "Measurement gate: interpretable." in page and "NOT INTERPRETABLE" not in page
    assert "(measurement gate)" not in page
    summary = json.loads((signal / "data" / "report_data.json").read_text())["summary"]
    assert not any(line.startswith("[") for line in summary)


def test_gate_marks_only_the_values_without_signal(tmp_path: Path) -> None:
    """Half the values carry signal: the gate is partial and marks the graph edges that touch the others."""
    quiet = {v: (0.3 if i % 2 == 0 else 0.0) for i, v in enumerate(SCHWARTZ_VALUES)}
    run = run_analysis(tmp_path, SimulationSettings(**{**BASE, "role_sd": quiet, "steering": ()}))
    gate = read_study_record(run).model("sim").gate
    assert gate.status == PARTLY
    assert set(gate.values_without_signal) == {v for v, sd in quiet.items() if sd == 0}
    assert gate.edge_note("Power", "Achievement").startswith("not interpretable: Achievement")
    assert gate.edge_note("Power", "Hedonism") == "" and gate.edge_note("Power", "role:r001") == ""
    page = html.unescape((run / "report.html").read_text())
    assert "PARTLY INTERPRETABLE" in page and "Achievement" in gate.stage("graph").reason


def test_manipulation_flags_in_the_report(no_signal: Path) -> None:
    page = html.unescape((no_signal / "report.html").read_text())
    assert "Steering: manipulation checks and dose-response" in page
    # the vector moved only the yes-bias: bias-only, said in words with the numbers
    assert "vec:Power at +0.50 bias-only" in page and "it moved the yes-bias by +0.50" in page
    # the Tradition prompt moved its target: ok
    rel = json.loads((no_signal / "sim" / "reliability" / "reliability.json").read_text())
    trad = next(m for m in rel["manipulation"] if m["steering_id"] == "prompt:Tradition")
    assert trad["doses"][0]["flags"] == ["ok"] and trad["doses"][0]["target_change"]["lo"] > 0.4
    # a setting that names no value is listed as such
    assert "Settings without a designed target" in page and "sae:12" in page
    summary = json.loads((no_signal / "data" / "report_data.json").read_text())["summary"]
    line = next(s for s in summary if "manipulation check of vec:Power" in s)
    assert "intervals over roles and items" in line and "Spearman rho over doses" in line


def test_profile_interval_includes_items(signal: Path) -> None:
    prof = pd.read_csv(signal / "data" / "sim_value_profile.csv").set_index("value")
    assert (prof["interval"] == "roles and items (two-way bootstrap)").all()
    assert (prof["item_sampling"] == "included").all() and (prof["n_items"] == 6).all()
    # item sampling widens every interval beyond the roles-only one (items: SD 0.15 over 3 items per key; roles:
    # SD 0.3 over 25 respondents: about 1.4x in expectation)
    ratio = (prof["ci_hi"] - prof["ci_lo"]) / (prof["roles_only_hi"] - prof["roles_only_lo"])
    assert (ratio > 1.0).all() and ratio.median() > 1.1
    rel = json.loads((signal / "sim" / "reliability" / "reliability.json").read_text())
    assert prof.loc["Power", "ci_lo"] == pytest.approx(rel["values"]["Power"]["profile"]["ci_lo"], abs=1e-6)
    page = (signal / "report.html").read_text()
    assert "95% intervals over roles AND items" in page


def test_scoring_reaches_every_stage(tmp_path: Path) -> None:
    """With reliability.scoring = acquiescence_residualized every stage reads the re-scored items (with 5 of 6
    items keyed the yes-bias would otherwise enter the value scores); study.json and the report record it."""
    from lm_eval_values.causal.stage import matrix_sha256, prepare_rows
    from lm_eval_values.study.rerun import open_study_model

    settings = SimulationSettings(**{**BASE, "role_sd": 0.3, "keyed_fraction": 5 / 6, "acquiescence_sd": 0.3,
                                     "steering": STEERING[:1]})
    run = run_analysis(tmp_path, settings, scoring="acquiescence_residualized")
    rec = read_study_record(run)
    assert rec.scoring_name == "acquiescence_residualized"
    assert "re-scored with acquiescence_residualized" in rec.scoring["value_scores"]
    study = open_study_model(run, "sim")
    vm = study.matrix()
    items = items_from_csv_text((run / "sim" / "sweep" / "items.csv").read_text(), "items")
    expected = scored_value_matrix(items, "acquiescence_residualized")
    raw = scored_value_matrix(items, "raw")
    assert np.allclose(vm.scores.to_numpy(), expected.scores.to_numpy())
    assert not np.allclose(vm.scores.to_numpy(), raw.scores.to_numpy(), atol=0.05)  # the scoring changed them
    graph = json.loads((run / "sim" / "graph" / "result.json").read_text())
    assert graph["matrix_sha256"] == matrix_sha256(prepare_rows(vm, study.settings.graph))
    human = json.loads((run / "sim" / "human" / "compare_human.json").read_text())
    assert human["n_rows"] == 25
    rel = json.loads((run / "sim" / "reliability" / "reliability.json").read_text())
    assert rel["scoring"]["name"] == "acquiescence_residualized"
    page = (run / "report.html").read_text()
    assert "Value scores: <b>acquiescence_residualized</b> scoring" in page
