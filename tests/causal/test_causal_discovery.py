"""discover() and pc_from_correlation() on synthetic data with a known structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lm_eval_values.causal.discovery import Background, discover, pc_from_correlation
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.matrix.value_matrix import ValueMatrix


def _collider(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """a -> c <- b, c -> d (linear Gaussian)."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    c = 0.8 * a + 0.8 * b + rng.normal(size=n)
    d = 0.9 * c + rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "c": c, "d": d})


def test_pc_recovers_v_structure_and_compelled_edge() -> None:
    g = discover(_collider())
    assert g.edge_set() == {("a", "c", "-->"), ("b", "c", "-->"), ("c", "d", "-->")}
    assert g.meta["algo"] == "pc" and g.meta["indep_test"] == "fisherz" and g.meta["n_rows"] == 1500


def test_pc_from_correlation_equals_pc_on_data() -> None:
    df = _collider(n=400, seed=3)
    assert pc_from_correlation(df.corr(), n=len(df)) == discover(df)
    with pytest.raises(UserError, match="positive definite"):
        pc_from_correlation(pd.DataFrame(np.ones((3, 3)), index=list("xyz"), columns=list("xyz")), n=100)
    with pytest.raises(UserError, match="too small"):
        pc_from_correlation(df.corr(), n=6)


def test_background_knowledge_changes_the_result() -> None:
    df = _collider()
    g = discover(df, background={"forbidden": [["c", "d"], ["d", "c"]]})
    assert not g.has_edge("c", "d")
    g2 = discover(df, background=Background(tiers=[["d"], ["a", "b", "c"]]))
    # d is in the earliest tier: c -> d is forbidden, so the edge cannot point into d
    assert g2.mark("d", "c") != "arrow"
    with pytest.raises(UserError, match="unknown node name"):
        discover(df, background={"forbidden": [["a", "zz"]]})
    with pytest.raises(UserError, match="GES takes no background"):
        discover(df, algo="ges", background={"forbidden": [["a", "b"]]})


def test_other_algorithms_and_tests_run() -> None:
    df = _collider(n=300)
    ges = discover(df, algo="ges")
    assert ges.skeleton() == {frozenset(p) for p in (("a", "c"), ("b", "c"), ("c", "d"))}
    fci = discover(df, algo="fci")
    assert fci.mark("c", "a") == "arrow" and fci.mark("c", "b") == "arrow"  # collider survives in the PAG
    kci = discover(df.iloc[:80], indep_test="kci")
    assert kci.meta["indep_test"] == "kci" and kci.has_edge("a", "c")
    with pytest.raises(UserError, match="unknown algorithm"):
        discover(df, algo="lingam")
    with pytest.raises(UserError, match="unknown independence test"):
        discover(df, indep_test="magic")
    with pytest.raises(UserError, match="alpha"):
        discover(df, alpha=1.5)


def _knob_matrix(seed: int = 0) -> ValueMatrix:
    """Steering 'k1' pushes value a only; a -> b; c is independent noise."""
    rng = np.random.default_rng(seed)
    rows, meta = [], []
    for r in range(60):
        base = rng.normal()
        for s in ("none", "k1"):
            a = base + (2.0 if s == "k1" else 0.0) + 0.5 * rng.normal()
            rows.append({"a": a, "b": 0.9 * a + 0.5 * rng.normal(), "c": rng.normal()})
            meta.append({"condition_id": f"{r}|{s}", "role_id": f"role{r}", "split": "train", "steering_id": s,
                         "coefficient": 0.0, "seed": 0})
    return ValueMatrix(pd.DataFrame(rows), pd.DataFrame(meta)[list(META_COLUMNS)])


def test_exogenous_knobs_are_tier_zero() -> None:
    vm = _knob_matrix()
    vm_steer = ValueMatrix(vm.scores, vm.meta.assign(role_id=""))  # steering knob only
    g = discover(vm_steer, exogenous_knobs=True)
    assert "steer=k1" in g.nodes and g.node_kinds["steer=k1"] == "knob"
    assert g.edge_kind("steer=k1", "a") == "-->"  # the knob hits a directly, and is never an effect
    assert not g.has_edge("steer=k1", "c")
    for n in g.nodes:
        if g.has_edge(n, "steer=k1"):
            assert g.mark("steer=k1", n) != "arrow"
    roles_only = discover(vm.filter(roles=[f"role{i}" for i in range(4)]), exogenous_knobs="roles")
    assert sorted(n for n, k in roles_only.node_kinds.items() if k == "knob") == ["role=role1", "role=role2",
                                                                                "role=role3"]
    with pytest.raises(UserError, match="single role and a single steering"):
        discover(vm_steer.filter(keep_steering=["none"]), exogenous_knobs=True)
    with pytest.raises(UserError, match="needs a ValueMatrix"):
        discover(vm.scores, exogenous_knobs=True)


def test_bad_matrices_are_user_errors() -> None:
    df = _collider(n=50)
    df["d"] = 1.0
    with pytest.raises(UserError, match="constant"):
        discover(df)
    df = _collider(n=50)
    df["e"] = df["a"] + df["b"]
    with pytest.raises(UserError, match="singular"):
        discover(df)
