"""Typed settings round-trip and validate; fit_graph / bootstrap_graph give the study's answer on
request and the honest one by default."""

from __future__ import annotations

import json

import pytest

from lm_eval_values.causal.fit import bootstrap_graph, edges_by_sample_size, fit_graph
from lm_eval_values.causal.jci import JCISetting
from lm_eval_values.causal.sample_size import SampleSizeSetting
from lm_eval_values.causal.settings import BootstrapSettings, DiscoverySettings
from lm_eval_values.causal.simulate import SimulationSetting, simulate_study, target_recovery
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.value_matrix import ValueMatrix


def test_settings_round_trip_and_defaults() -> None:
    honest = DiscoverySettings()
    assert honest.sample_size.mode == "effective" and honest.jci.contexts == "steering"
    assert DiscoverySettings.from_dict(json.loads(json.dumps(honest.to_dict()))) == honest
    study = DiscoverySettings.study()
    assert study.sample_size.mode == "rows" and not study.jci.enabled and study.unit == "rows"
    short = DiscoverySettings.from_dict({"sample_size": "rows", "jci": "none", "alpha": "0.01"})
    assert short == DiscoverySettings(alpha=0.01, sample_size=SampleSizeSetting("rows"), jci=JCISetting("none"))
    boot = BootstrapSettings()
    assert boot.scheme == "subsample" and BootstrapSettings.from_dict(boot.to_dict()) == boot
    assert BootstrapSettings.study().scheme == "resample-duplicates"


@pytest.mark.parametrize("bad, where", [
    ({"colour": "red"}, "graph"), ({"alpha": 2}, "graph.alpha"), ({"unit": "items"}, "unit"),
    ({"indep_test": "kci"}, "sample_size"), ({"jci": "planets"}, "jci.contexts"),
    ({"sample_size": {"mode": "effective", "design": "magic"}}, "sample_size.design"),
])
def test_bad_discovery_settings_are_user_errors(bad: dict, where: str) -> None:
    with pytest.raises(UserError) as exc:
        DiscoverySettings.from_dict(bad)
    assert exc.value.one_line().split(":")[0].endswith(where)


def test_bad_bootstrap_settings_are_user_errors() -> None:
    for bad in ({"scheme": "jackknife"}, {"fraction": 1.0}, {"n_boot": -1}, {"descendant_policy": "sideways"}):
        with pytest.raises(UserError):
            BootstrapSettings.from_dict(bad)


def test_fit_graph_honest_default_and_adaptations() -> None:
    study = simulate_study(seed=1)
    fit = fit_graph(study.matrix)
    assert fit.effective is not None and fit.effective.design == "pairwise"
    assert set(fit.targets) == set(study.targets)
    rec = target_recovery(fit.graph, study)
    assert rec["precision"] == 1.0 and rec["recall"] >= 0.9
    doc = fit.to_dict()
    assert json.loads(json.dumps(doc)) == doc and doc["n_value_edges"] <= doc["n_edges"]
    unsteered = study.matrix.filter(keep_steering=["none"])
    one = fit_graph(unsteered)
    assert one.targets == {} and any("jci skipped" in n for n in one.notes)
    means = fit_graph(study.matrix, DiscoverySettings(unit="role_means"))
    assert means.n_rows == 100 and any("role means" in n for n in means.notes)
    boot = bootstrap_graph(study.matrix, DiscoverySettings(), BootstrapSettings(n_boot=4, n_jobs=1))
    assert boot.n_ok == 4 and boot.scheme == "subsample" and "steer=s1" in boot.nodes


def test_small_simulation_runs_with_every_scheme() -> None:
    vm = simulate_study(SimulationSetting(n_values=5, n_roles=30, n_settings=2), seed=0).matrix
    for scheme in ("subsample", "resample", "resample-duplicates"):
        res = bootstrap_graph(vm, DiscoverySettings(), BootstrapSettings(n_boot=3, n_jobs=1, scheme=scheme))
        assert res.n_ok == 3 and res.scheme == scheme


def test_study_procedure_on_request_honest_by_default(gemma_train: ValueMatrix) -> None:
    study = fit_graph(gemma_train, DiscoverySettings.study())
    assert study.graph.n_edges == 44 and study.graph.count_by_kind() == {"directed": 41, "undirected": 3}
    counts = edges_by_sample_size(gemma_train, DiscoverySettings.study(),
                                  ("rows", "effective", SampleSizeSetting(design="kish")))
    assert counts["rows"]["n_value_edges"] == 44
    kish = counts["effective (kish)"]
    assert kish["n_value_edges"] == 6 and kish["n"] == pytest.approx(172.0, abs=0.1)
    assert counts["effective (pairwise)"]["n_value_edges"] < 44
    honest = fit_graph(gemma_train)
    assert honest.value_graph().n_edges < 44 and len(honest.targets) == 10
