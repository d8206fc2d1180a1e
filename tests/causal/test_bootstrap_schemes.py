"""Role subsampling / resampling: no duplicated rows by default, fast path = refitting the drawn rows,
adjacency and orientation reported separately, descendant probabilities."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from lm_eval_values.causal.bootstrap import bootstrap
from lm_eval_values.causal.discovery import discover
from lm_eval_values.causal.resample import draw_weights
from lm_eval_values.causal.sample_size import SampleSizeSetting
from lm_eval_values.causal.simulate import SimulationSetting, simulate_study
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.value_matrix import ValueMatrix

SMALL = SimulationSetting(n_values=6, n_roles=40, n_settings=3, edge_prob=0.4)


def _edges(g) -> list[tuple[str, str, str]]:
    order = {n: i for i, n in enumerate(g.nodes)}
    out = []
    for e in g.edges():
        u, v = (e.u, e.v) if order[e.u] < order[e.v] else (e.v, e.u)
        out.append((u, v, g.edge_kind(u, v)))
    return out


def test_draw_weights_per_scheme() -> None:
    rng = np.random.default_rng(0)
    w = draw_weights(rng, 101, "subsample", 0.5)
    assert set(np.unique(w)) == {0.0, 1.0} and w.sum() == 50
    r = draw_weights(rng, 101, "resample")
    assert set(np.unique(r)) <= {0.0, 1.0} and 45 < r.sum() < 80  # about 63% of the roles, each once
    d = draw_weights(rng, 101, "resample-duplicates")
    assert d.sum() == 101 and d.max() > 1
    with pytest.raises(UserError, match="scheme"):
        draw_weights(rng, 10, "jackknife")


@pytest.mark.parametrize("scheme", ["subsample", "resample", "resample-duplicates"])
def test_fast_path_equals_causallearn_on_the_drawn_rows(scheme: str) -> None:
    vm = simulate_study(SMALL, seed=3).matrix
    fast = bootstrap(vm, n_boot=6, seed=11, n_jobs=1, scheme=scheme)
    slow = bootstrap(vm, n_boot=6, seed=11, n_jobs=1, scheme=scheme, fast_fisherz=False)
    assert fast.n_ok == slow.n_ok == 6
    assert fast.resamples == slow.resamples and fast.kinds == slow.kinds


def test_subsample_refits_distinct_roles_at_the_effective_n() -> None:
    vm = simulate_study(SMALL, seed=4).matrix
    size = SampleSizeSetting("effective", design="kish")
    res = bootstrap(vm, n_boot=3, seed=5, n_jobs=1, scheme="subsample", sample_size=size)
    roles = list(dict.fromkeys(vm.meta["role_id"]))
    deff = res.design_effect
    assert deff > 2
    for b, child in enumerate(np.random.SeedSequence(5).spawn(3)):
        w = draw_weights(np.random.default_rng(child), len(roles), "subsample", 0.5)
        keep = vm.meta["role_id"].isin([r for r, k in zip(roles, w) if k]).to_numpy()
        part = ValueMatrix(vm.scores[keep].reset_index(drop=True), vm.meta[keep].reset_index(drop=True))
        assert part.meta.duplicated().sum() == 0 and len(part.role_ids) == 20
        expected = discover(part, sample_size=part.n_rows / deff)
        assert res.resamples[b] == _edges(expected)


def test_seeded_and_independent_of_workers() -> None:
    vm = simulate_study(SMALL, seed=6).matrix
    a = bootstrap(vm, n_boot=8, seed=1, n_jobs=1, exogenous_knobs="steering", sample_size="effective")
    b = bootstrap(vm, n_boot=8, seed=1, n_jobs=2, exogenous_knobs="steering", sample_size="effective")
    assert a.to_json() == b.to_json() and a.scheme == "subsample" and a.fraction == 0.5
    assert a.to_json() != bootstrap(vm, n_boot=8, seed=2, n_jobs=1, exogenous_knobs="steering",
                                    sample_size="effective").to_json()


def test_orientation_table_and_descendant_probabilities() -> None:
    study = simulate_study(SimulationSetting(n_values=6, n_roles=60, n_settings=3, edge_prob=0.5, shift=1.5), seed=2)
    res = bootstrap(study.matrix, n_boot=10, seed=0, n_jobs=1, exogenous_knobs="steering", sample_size="effective")
    t = res.orientation_table()
    assert {"adjacency", "u_to_v", "v_to_u", "undirected", "u_to_v_if_adjacent", "v_to_u_if_adjacent"} <= set(t.columns)
    np.testing.assert_allclose(t["u_to_v_if_adjacent"] * t["adjacency"], t["u_to_v"], atol=1e-12)
    np.testing.assert_allclose(t[["u_to_v", "v_to_u", "undirected", "other"]].sum(axis=1), t["adjacency"], atol=1e-12)
    dp = res.descendant_probabilities("possible")
    assert dp.shape == (len(res.nodes), len(res.nodes)) and dp.to_numpy().min() >= 0 and dp.to_numpy().max() <= 1
    for sid, targets in study.targets.items():
        for v in targets:
            assert dp.loc[f"steer={sid}", v] >= 0.8  # a designed target is reached in (almost) every resample
            assert (dp.loc[v, f"steer={sid}"]) == 0.0  # nothing reaches a context
    # "directed" reachability recomputed by hand from the resample edge lists
    by_hand = dp * 0.0
    for edges in res.resamples:
        dg = nx.DiGraph([(u, v) for u, v, k in edges if k == "-->"] + [(v, u) for u, v, k in edges if k == "<--"])
        for src in dg.nodes:
            for dst in nx.descendants(dg, src):
                by_hand.loc[src, dst] += 1 / len(res.resamples)
    np.testing.assert_allclose(res.descendant_probabilities("directed").to_numpy(), by_hand.to_numpy(), atol=1e-12)
    with pytest.raises(UserError, match="policy"):
        res.descendant_probabilities("sideways")


def test_consensus_drops_unstable_arrowheads() -> None:
    vm = simulate_study(SMALL, seed=8).matrix
    res = bootstrap(vm, n_boot=10, seed=0, n_jobs=1, sample_size="effective")
    loose = res.consensus(0.3)
    strict = res.consensus(0.3, orientation_threshold=1.0)
    assert loose.skeleton() == strict.skeleton()
    for e in strict.edges():
        attrs = strict.edge_attrs(e.u, e.v)
        if not attrs["orientation_stable"]:
            assert e.kind == "---"
        elif e.kind == "-->":
            assert attrs["orient_freq"] == pytest.approx(attrs["freq"])  # the same arrow in every adjacent resample


def test_the_study_data_schemes(gemma_train: ValueMatrix) -> None:
    mean_edges = {}
    for scheme, size in (("resample-duplicates", "rows"), ("resample", "rows"), ("subsample", "effective")):
        res = bootstrap(gemma_train, n_boot=4, seed=0, n_jobs=1, scheme=scheme, sample_size=size)
        assert res.n_ok == 4 and res.unit == "role"
        mean_edges[scheme] = np.mean([len(r) for r in res.resamples if r is not None])
    # duplicated rows inflate n: more edges than the de-duplicated draw of the same roles
    assert mean_edges["resample-duplicates"] > mean_edges["resample"] > mean_edges["subsample"]
