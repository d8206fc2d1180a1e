"""Side effects: the study's metric (reproduced on the Gemma data), held-out prediction, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from lm_eval_values.causal.reference import load_reference
from lm_eval_values.core.errors import UserError
from lm_eval_values.analysis.heldout import auroc, benjamini_hochberg, degree_preserving_random, heldout_evaluation
from lm_eval_values.analysis.side_effects import cochange_frequencies, descendant_sets, role_changes, steering_changes, study_side_effects
from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.matrix.reading import read_value_matrix
from lm_eval_values.matrix.value_matrix import ValueMatrix

KEPT = [14351, 1025, 2965, 10096, 1341, 1975, 10605, 14049, 1312, 4752]


# ---------------------------------------------------------------------- unit tests
def test_cochange_and_expected_unexpected_by_hand() -> None:
    D = pd.DataFrame({"a": [1, 1, 0, 1], "b": [1, 0, 0, 1], "c": [0, 1, 1, 0]}, dtype=float)
    F = cochange_frequencies(D)
    assert F.loc["a", "b"] == pytest.approx(2 / 3) and F.loc["a", "c"] == pytest.approx(1 / 3)
    assert F.loc["b", "a"] == 1.0 and F.loc["c", "b"] == 0.0 and np.isnan(F.loc["a", "a"])
    res = study_side_effects(D, {"a": {"b"}, "b": set(), "c": {"a", "b"}})
    # a: expected = F[a,b] = 2/3, unexpected = F[a,c] = 1/3; b: no descendants -> expected NaN,
    # unexpected = mean(F[b,a], F[b,c]) = (1 + 0) / 2; c: expected = mean(1/2, 0), no unexpected
    assert res.per_value.loc["a", "expected"] == pytest.approx(2 / 3)
    assert np.isnan(res.per_value.loc["b", "expected"]) and res.per_value.loc["b", "unexpected"] == 0.5
    assert res.expected == pytest.approx((2 / 3 + 1 / 4) / 2)
    assert res.unexpected == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert study_side_effects(D * 0.01, {"a": {"b"}}, tol=0.05).per_value["n_changed"].sum() == 0


def test_bh_and_auroc() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.2])
    # sorted 0.01, 0.03, 0.04, 0.2 vs 0.0125, 0.025, 0.0375, 0.05: only the first passes
    assert benjamini_hochberg(p, 0.05).tolist() == [True, False, False, False]
    assert benjamini_hochberg(np.array([0.01, 0.02, 0.03]), 0.05).all()
    assert auroc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([1, 1, 0, 0])) == 1.0
    assert auroc(np.array([1.0, 1.0, 1.0]), np.array([1, 0, 0])) == 0.5
    assert np.isnan(auroc(np.array([1.0, 2.0]), np.array([1, 1])))


def test_degree_preserving_random_keeps_degrees() -> None:
    g = nx.gnm_random_graph(10, 25, seed=1, directed=True)
    r = degree_preserving_random(g, seed=3)
    assert dict(r.in_degree()) == dict(g.in_degree()) and dict(r.out_degree()) == dict(g.out_degree())
    assert set(r.edges()) != set(g.edges())


def _steered_matrix(seed: int, n_roles: int, values: str, steer: Any, prefix: str = "r") -> ValueMatrix:
    """Roles <prefix>0.. with discrete baseline scores, each under none / s1 / s2; ``steer(rng, s, x)`` moves x."""
    rng = np.random.default_rng(seed)
    rows, meta = [], []
    for r in range(n_roles):
        base = rng.integers(-3, 4, size=len(values)) / 6
        for s in ("none", "s1", "s2"):
            x = base.copy()
            steer(rng, s, x)
            rows.append(dict(zip(values, x)))
            meta.append({"condition_id": f"{prefix}{r}|{s}", "role_id": f"{prefix}{r}", "split": "", "steering_id": s,
                         "coefficient": 0.0, "seed": 0})
    return ValueMatrix(pd.DataFrame(rows), pd.DataFrame(meta)[list(META_COLUMNS)])


def _matrix(seed: int, n_roles: int = 20, prefix: str = "r") -> ValueMatrix:
    """True graph a -> b -> c, d -> e. Setting s1 pushes a, s2 pushes d; scores are discrete
    (unaffected values do not move at all)."""
    def steer(rng: np.random.Generator, s: str, x: np.ndarray) -> None:
        if s == "s1":
            da = 1.0 + rng.integers(0, 3) / 6
            x[:3] += np.array([1.0, 0.6, 0.36]) * da
        if s == "s2":
            dd = 1.0 + rng.integers(0, 3) / 6
            x[3:5] += np.array([1.0, 0.5]) * dd

    return _steered_matrix(seed, n_roles, "abcde", steer, prefix)


def test_heldout_true_graph_beats_baselines() -> None:
    true = nx.DiGraph([("a", "b"), ("b", "c"), ("d", "e")])
    wrong = nx.DiGraph([("a", "d"), ("a", "e"), ("d", "b"), ("d", "c")])  # ranks the wrong values first
    reversed_ = nx.DiGraph([("b", "a"), ("c", "b"), ("e", "d")])  # predicts nothing from a or d
    targets = (("s1", "a"), ("s2", "d"))
    res = heldout_evaluation(true, _matrix(0), _matrix(1, prefix="h"),
                             reference={"wrong": wrong, "reversed": reversed_}, n_random=20, seed=0, targets=targets,
                             n_boot=50)
    t = res.table.set_index("predictor")
    assert res.targets == {"s1": "a", "s2": "d"}
    assert res.target_choice["sources"] == {"s1": "given", "s2": "given"}
    assert res.significant.loc["s1", ["a", "b", "c"]].all() and not res.significant.loc["s1", ["d", "e"]].any()
    assert t.loc["learned graph", "auroc"] == 1.0
    assert t.loc["learned graph", "precision"] == 1.0 and t.loc["learned graph", "recall"] == 1.0
    assert t.loc["everything changes", "auroc"] == 0.5
    assert t.loc["wrong", "auroc"] < 0.5
    assert t.loc["reversed", "auroc"] == 0.5 and np.isnan(t.loc["reversed", "precision"])
    rand = [i for i in t.index if i.startswith("degree-preserving random")]
    assert len(rand) == 1 and 0.0 <= t.loc[rand[0], "auroc"] <= 1.0  # 3 edges: few swaps possible
    # every replicate of 50 finds the same changes: the intervals are the point
    assert t.loc["learned graph", "auroc_lo"] == t.loc["learned graph", "auroc_hi"] == 1.0
    with pytest.raises(UserError, match="not held out"):
        heldout_evaluation(true, _matrix(0), _matrix(1, prefix="h"), steering_ids=["s9"], targets=targets)
    # s1 / s2 name no value: without given targets nothing is guessed
    with pytest.raises(UserError, match="no held-out steering setting has a known target"):
        heldout_evaluation(true, _matrix(0), _matrix(1, prefix="h"))
    moved = heldout_evaluation(true, _matrix(0), _matrix(1, prefix="h"), target_rule="moved-most", n_boot=0,
                               n_random=0)
    assert moved.targets == {"s1": "a", "s2": "d"}
    assert all("moved most" in src and "not a designed target" in src
               for src in moved.target_choice["sources"].values())
    assert "NOT a designed target" in moved.params["target_rule_text"]


def _shift_matrix(seed: int, n_roles: int = 15, prefix: str = "r") -> ValueMatrix:
    """Seven values a..g, true graph a -> b, d -> e. Steering s1 pushes a (and b through it), s2 pushes
    d (and e); BOTH also shift every value by 0.5 (a response-bias change), slightly role-dependent."""
    def steer(rng: np.random.Generator, s: str, x: np.ndarray) -> None:
        if s != "none":
            x += 0.5 + rng.normal(0, 0.01, size=len(x))
        if s == "s1":
            x[:2] += [1.0, 0.6]
        if s == "s2":
            x[3:5] += [1.0, 0.5]

    return _steered_matrix(seed, n_roles, "abcdefg", steer, prefix)


def test_common_shift_hides_side_effects_unless_centred() -> None:
    """A shift of every value makes every change significant (AUROC undefined); median centring plus
    a minimum change recovers the value-specific pattern the true graph predicts."""
    true = nx.DiGraph([("a", "b"), ("d", "e")])
    true.add_nodes_from("abcdefg")
    train, held = _shift_matrix(0), _shift_matrix(1, prefix="h")
    tg = (("s1", "a"), ("s2", "d"))
    raw = heldout_evaluation(true, train, held, n_random=5, seed=0, targets=tg, n_boot=0)
    assert raw.significant.to_numpy().all()
    assert np.isnan(raw.table.set_index("predictor").loc["learned graph", "auroc"])
    res = heldout_evaluation(true, train, held, n_random=5, seed=0, centering="median", tol=0.1, targets=tg, n_boot=0)
    assert res.params["centering"] == "median" and res.params["tol"] == 0.1
    assert res.targets == {"s1": "a", "s2": "d"}
    observed = {s: sorted(res.significant.columns[res.significant.loc[s]]) for s in ("s1", "s2")}
    assert observed == {"s1": ["a", "b"], "s2": ["d", "e"]}
    t = res.table.set_index("predictor")
    assert t.loc["learned graph", "auroc"] == 1.0 and t.loc["everything changes", "auroc"] == 0.5
    # the mean moves with the targeted values: with "mrat" the untouched values count as (negative) changes
    mrat = heldout_evaluation(true, train, held, n_random=0, centering="mrat", tol=0.1, targets=tg, n_boot=0)
    assert mrat.significant.loc["s1", ["c", "f", "g"]].all()
    with pytest.raises(UserError, match="centering"):
        heldout_evaluation(true, train, held, centering="z", targets=tg)
    with pytest.raises(UserError, match="tol"):
        heldout_evaluation(true, train, held, tol=-1, targets=tg)


def test_center_changes() -> None:
    from lm_eval_values.analysis.side_effects import center_changes

    d = pd.DataFrame({"a": [1.0, 0.2], "b": [1.0, -0.2], "c": [1.0, 0.0]})
    assert center_changes(d) is d
    c = center_changes(d, "mrat")
    assert np.allclose(c.to_numpy(), [[0, 0, 0], [0.2, -0.2, 0.0]])
    m = center_changes(pd.DataFrame({"a": [2.0], "b": [0.5], "c": [0.5], "d": [0.4]}), "median")
    assert np.allclose(m.to_numpy(), [[1.5, 0.0, 0.0, -0.1]])
    # a change matrix where everything moves together: the study's metric sees no change after centring
    assert study_side_effects(c.iloc[[0]], {"a": {"b"}}, tol=1e-9).per_value["n_changed"].sum() == 0


def test_change_matrix_builders() -> None:
    vm = _matrix(2, n_roles=4)
    d = role_changes(vm, "r0")
    assert list(d.index) == ["r1", "r2", "r3"]
    assert np.allclose(d.loc["r1"].to_numpy(), (vm.scores.iloc[3] - vm.scores.iloc[0]).to_numpy())
    s = steering_changes(vm, "r1", ["s2"])
    assert list(s.index) == ["s2"] and s.loc["s2", "a"] == 0.0 and s.loc["s2", "d"] > 0
    with pytest.raises(UserError, match="unknown role"):
        steering_changes(vm, "nobody")
    with pytest.raises(UserError, match="unknown steering id"):
        steering_changes(vm, "r1", ["s7"])
    with pytest.raises(UserError, match="explicit reachability policy"):
        from lm_eval_values.causal.graph import ValueGraph

        descendant_sets(ValueGraph(list("abcde")), list("abcde"))


# ---------------------------------------------------------------------- the study's numbers
@pytest.fixture(scope="module")
def vcg(shared_data: Path) -> Path:
    d = shared_data / "valuecausalgraph" / "tutorials"
    if not (d / "useful_data" / "ans_gemma_test_formal.csv").is_file():
        pytest.skip("valuecausalgraph data not available")
    return d


@pytest.mark.parametrize("graph_name, role_expected, sae_expected", [
    ("gemma", (0.69, 0.56), (0.57, 0.51)),
    ("human1", (0.69, 0.59), (0.79, 0.50)),
])
def test_study_side_effect_table(vcg: Path, graph_name: str, role_expected: tuple[float, float],
                                 sae_expected: tuple[float, float]) -> None:
    test = read_value_matrix(vcg / "useful_data" / "ans_gemma_test_formal.csv", check=False)
    graph = load_reference(f"{vcg / 'value_graph_gemma.json'}:{graph_name}", nodes=test.values)
    ds = descendant_sets(graph, test.values, policy="study")
    roles = study_side_effects(role_changes(test, "Erika Jones"), ds)
    sae = study_side_effects(steering_changes(test, "Mary Holt", KEPT), ds)
    assert roles.n_rows == 24 and sae.n_rows == 10
    assert (round(roles.expected, 2), round(roles.unexpected, 2)) == role_expected
    assert (round(sae.expected, 2), round(sae.unexpected, 2)) == sae_expected


def test_side_effects_cli(vcg: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from lm_eval_values.cli import main as cli_main

    test_csv = vcg / "useful_data" / "ans_gemma_test_formal.csv"
    train_csv = vcg / "useful_data" / "ans_gemma_train_formal.csv"
    ref = vcg / "value_graph_gemma.json"
    out = tmp_path / "se"
    common = ["side-effects", "--graph", f"{ref}:gemma", "--reference", f"{ref}:human1",
              "--metric-role", "Mary Holt", "--baseline-role", "Erika Jones", "--policy", "study",
              "--keep-steer", ",".join(map(str, KEPT)), "--train", str(train_csv), "--heldout", str(test_csv),
              "--n-random", "5", "--n-boot", "20"]
    # the SAE features name no value: the held-out prediction is skipped with the reason, nothing is guessed
    rc = cli_main([*common, "--out", str(tmp_path / "designed")])
    skipped = json.loads((tmp_path / "designed" / "result.json").read_text())
    assert rc == 0 and skipped["heldout"] is None
    assert "no held-out steering setting has a known target (10 setting(s)" in skipped["heldout_skipped_reason"]
    assert "names no value" in skipped["heldout_skipped_reason"]
    # the study metric on these discrete scores is not degenerate (many changes are exactly 0)
    sm = json.loads((tmp_path / "designed" / "study_metric.json").read_text())
    assert sm["role prompting"]["degenerate"] is False and sm["role prompting"]["changed_share"] < 0.95
    rc = cli_main([*common, "--target-rule", "moved-most", "--target", "1025=Religious", "--out", str(out)])
    assert rc == 0
    metric = json.loads((out / "study_metric.json").read_text())
    steer = metric["steering (Mary Holt)"]["graphs"]
    assert round(steer["learned graph"]["expected"], 2) == 0.57 and round(steer["learned graph"]["unexpected"], 2) == 0.51
    assert round(steer[f"{ref}:human1"]["expected"], 2) == 0.79
    roles = metric["role prompting"]["graphs"]["learned graph"]
    assert (round(roles["expected"], 2), round(roles["unexpected"], 2)) == (0.69, 0.56)
    ho = json.loads((out / "heldout.json").read_text())
    names = [r["predictor"] for r in ho["table"]]
    assert names[0] == "learned graph" and "everything changes" in names and any("random" in n for n in names)
    assert all(r["auroc"] is None or 0.0 <= r["auroc"] <= 1.0 for r in ho["table"])
    assert ho["n_tests"] == 10 * 17  # the 10 kept SAE features x 17 values
    assert ho["target_sources"]["1025"] == "given" and ho["targets"]["1025"] == "Religious"
    assert all("moved most" in v for k, v in ho["target_sources"].items() if k != "1025")
    # the no-role condition is in both files: its 25 held-out rows are not held out
    assert ho["excluded"]["roles"] == ["(no role)"] and ho["excluded"]["n_rows"] == 25
    assert ho["params"]["n_heldout_roles"] == 25 and ho["power"]["min_p_text"] == "2/2^25 = 5.96e-08"
    assert ho["power"]["informative"] is True and "roles only" in ho["params"]["interval"]["resampling"]
    learned = ho["table"][0]
    assert learned["auroc_lo"] <= learned["auroc"] <= learned["auroc_hi"]
    result = json.loads((out / "result.json").read_text())
    assert result["heldout"]["n_tests"] == ho["n_tests"] and result["rows"]["heldout"]["n_roles"] == 26
    capsys.readouterr()
    bad = tmp_path / "bad"
    rc = cli_main(["side-effects", "--graph", f"{ref}:gemma", "--changes", str(test_csv), "--out", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and "--changes" in err and "value matrix" in err and not bad.exists()
