"""Tests of lm_eval_values.analysis.circumplex: human reference, MRAT, distance curve, RTHOR, MDS."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_values.analysis import circumplex as cx
from lm_eval_values.core.errors import UserError
from lm_eval_values.values.names import SCHWARTZ_VALUES


@pytest.fixture(scope="module")
def ref() -> cx.HumanReference:
    return cx.load_human_reference()


def _random_corr(seed: int, n: int = 300, names=SCHWARTZ_VALUES) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n, len(names))), columns=list(names)).corr()


def _circumplex_scores(n: int = 400, noise: float = 0.3, seed: int = 0, order=SCHWARTZ_VALUES) -> pd.DataFrame:
    """Rows generated from two factors with loadings on a circle: a perfect circumplex plus noise."""
    rng = np.random.default_rng(seed)
    theta = 2 * np.pi * np.arange(len(order)) / len(order)
    f = rng.normal(size=(n, 2))
    x = f[:, :1] * np.cos(theta) + f[:, 1:] * np.sin(theta) + noise * rng.normal(size=(n, len(order)))
    return pd.DataFrame(x + 3.0, columns=list(order))


# ----------------------------------------------------------------------------- reference


def test_reference_loads_in_circle_order(ref):
    assert ref.values == SCHWARTZ_VALUES
    assert ref.n == 151
    assert sum(ref.items_per_value.values()) == 40
    for c in ("mrat", "none"):
        m = ref.correlation(c)
        assert list(m.index) == list(SCHWARTZ_VALUES) and np.allclose(m, m.T)
    assert ref.correlation("none").loc["Tradition", "Conformity"] == pytest.approx(0.7076)
    assert "Borg, Bardi & Schwartz (2017)" in ref.source


@pytest.mark.parametrize("centering", ["mrat", "none"])
def test_distance_curve_reproduces_published(ref, centering):
    curve = cx.distance_curve(ref.correlation(centering))
    published = ref.published_distance_curve(centering)
    assert sorted(curve) == [1, 2, 3, 4, 5]
    for d in curve:
        assert curve[d] == pytest.approx(published[d], abs=5e-4)
    assert cx.is_monotone_decreasing(curve)


@pytest.mark.parametrize("centering", ["mrat", "none"])
def test_correspondence_index_reproduces_published(ref, centering):
    res = cx.correspondence_index(ref.correlation(centering))
    assert res.comparisons == 800  # 990 pairs of the 45 cells minus 190 at equal distance
    assert res.ci == pytest.approx(ref.published_correspondence_index(centering), abs=1e-9)
    assert res.agreements + res.violations + res.ties == 800


# ----------------------------------------------------------------------------- RTHOR


def test_human_index_is_high_and_significant(ref):
    res = cx.rthor_test(ref.correlation("mrat"), permutations=2000, seed=0)
    assert res.ci > 0.8
    assert res.method == "monte_carlo" and res.permutations == 2000
    assert res.p_value == pytest.approx(1 / 2001)  # no random labeling reaches 0.835
    raw = cx.rthor_test(ref.correlation("none"), permutations=2000, seed=0)
    assert raw.ci > 0.7 and raw.p_value < 0.001


def test_random_matrix_index_near_zero():
    res = cx.rthor_test(_random_corr(seed=1), permutations=2000, seed=0)
    assert abs(res.ci) < 0.25
    assert res.p_value > 0.05
    cis = [cx.correspondence_index(_random_corr(seed=s)).ci for s in range(2, 32)]
    assert abs(float(np.mean(cis))) < 0.1


def test_hand_computed_four_value_case():
    """Four values A, B, C, D on a circle (distances 1 for neighbours, 2 for A-C and B-D).

    Correlations: AB .50, BC .40, CD .35, DA .20 (distance 1); AC .10, BD .35 (distance 2).
    Predictions: each of the 4 distance-1 cells beats each of the 2 distance-2 cells: 8.
      vs AC = .10: .50, .40, .35, .20 all larger          -> 4 agreements
      vs BD = .35: .50, .40 larger (2 agreements), .35 tie (CD), .20 smaller (1 violation)
    CI = (6 - 1) / 8 = 0.625.
    Exact permutation test: the 24 labelings fall into 3 choices of the "opposite" pairs,
    8 labelings each (the symmetries of the square):
      {AC, BD} opposite: 0.625 (observed);
      {AB, CD} opposite: vs AB=.50 four violations; vs CD=.35: BC agrees, AC and DA violate,
                         BD ties -> (1 - 6) / 8 = -0.625;
      {AD, BC} opposite: vs AD=.20: AB, BD, CD agree, AC violates; vs BC=.40: AB agrees,
                         AC, BD, CD violate -> (4 - 4) / 8 = 0.
    So p = P(CI >= 0.625) = 8 / 24 = 1/3.
    """
    names = ["A", "B", "C", "D"]
    r = {("A", "B"): .50, ("B", "C"): .40, ("C", "D"): .35, ("A", "D"): .20, ("A", "C"): .10, ("B", "D"): .35}
    m = pd.DataFrame(np.eye(4), index=names, columns=names)
    for (a, b), v in r.items():
        m.loc[a, b] = m.loc[b, a] = v
    res = cx.rthor_test(m, order=names, permutations=100, seed=0)
    assert (res.agreements, res.violations, res.ties, res.comparisons) == (6, 1, 1, 8)
    assert res.ci == pytest.approx(0.625)
    assert res.method == "exact" and res.permutations == 24
    assert res.p_value == pytest.approx(1 / 3)
    flipped = m.loc[["A", "C", "B", "D"], ["A", "C", "B", "D"]]  # {AB, CD} now opposite
    assert cx.correspondence_index(flipped, order=["A", "C", "B", "D"]).ci == pytest.approx(-0.625)


def test_monte_carlo_p_is_seeded(ref):
    corr = _random_corr(seed=5)
    a = cx.rthor_test(corr, permutations=500, seed=3)
    b = cx.rthor_test(corr, permutations=500, seed=3)
    assert a == b and a.seed == 3


def test_convention_changes_index(ref):
    sep = cx.correspondence_index(ref.correlation("mrat"), convention="separate")
    shared = cx.correspondence_index(ref.correlation("mrat"), convention="shared")
    dist = cx.circular_distances(convention="shared")
    assert dist.loc["Tradition", "Conformity"] == 0 and dist.to_numpy().max() == 4
    assert shared.comparisons == 770 and shared.ci != sep.ci
    with pytest.raises(UserError):
        cx.circular_distances(convention="wedges")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.integers(0, 9), reverse=st.booleans())
def test_index_invariant_to_rotation_and_reflection(seed, shift, reverse):
    corr = _random_corr(seed, n=40)
    order = list(SCHWARTZ_VALUES[shift:] + SCHWARTZ_VALUES[:shift])
    if reverse:
        order = order[::-1]
    base = cx.correspondence_index(corr)
    moved = cx.correspondence_index(corr, order=order)
    assert (moved.agreements, moved.violations) == (base.agreements, base.violations)
    neg = -corr + 2 * np.eye(10)  # negate off-diagonal cells: agreements and violations swap
    flipped = cx.correspondence_index(pd.DataFrame(neg, index=corr.index, columns=corr.columns))
    assert flipped.ci == pytest.approx(-base.ci)
    assert -1 <= base.ci <= 1


# ----------------------------------------------------------------------------- MRAT centering


def test_mrat_weighted_by_items_matches_item_mean():
    """Value scores that are means of their items: the weighted MRAT equals the mean of all 40 items."""
    ref = cx.load_human_reference()
    rng = np.random.default_rng(0)
    items = {v: rng.integers(1, 7, size=(25, k)).astype(float) for v, k in ref.items_per_value.items()}
    scores = pd.DataFrame({v: it.mean(axis=1) for v, it in items.items()})[list(SCHWARTZ_VALUES)]
    all_items = np.hstack([items[v] for v in SCHWARTZ_VALUES]).mean(axis=1)
    weighted = cx.mrat_center(scores, items_per_value=ref.items_per_value)
    given = cx.mrat_center(scores, item_mean=all_items)
    assert np.allclose(weighted, given)
    assert not np.allclose(cx.mrat_center(scores), given)  # equal weights differ with unequal counts
    assert np.allclose(cx.mrat_center(scores).mean(axis=1), 0.0)


def test_centering_changes_correlations_and_bad_options():
    scores = _circumplex_scores(n=60)
    scores = scores.add(np.random.default_rng(1).normal(size=60), axis=0)  # a shared response style
    raw = cx.value_correlations(scores, centering="none")
    cen = cx.value_correlations(scores, centering="mrat")
    assert raw.to_numpy().mean() > cen.to_numpy().mean()
    with pytest.raises(UserError, match="centering"):
        cx.value_correlations(scores, centering="zscore")
    with pytest.raises(UserError, match="item_mean"):
        cx.value_correlations(scores, item_mean=[1.0, 2.0])
    with pytest.raises(UserError, match="items_per_value"):
        cx.value_correlations(scores, items_per_value={"Power": 3})


# ----------------------------------------------------------------------------- input checks


def test_input_columns_matched_by_slug_and_extra_columns_ignored():
    scores = _circumplex_scores(n=30)
    renamed = scores.rename(columns={"Self-Direction": "self_direction", "Power": "POWER"})
    renamed["Hedonism_sd"] = 1.0
    renamed["role"] = "x"
    got = cx.schwartz_scores(renamed)
    assert list(got.columns) == list(SCHWARTZ_VALUES)
    assert np.allclose(got, scores)


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.drop(columns=["Tradition", "Power"]), "Power, Tradition"),
    (lambda d: d.assign(Security=2.0), "constant"),
    (lambda d: d.assign(Security=np.where(np.arange(len(d)) == 3, np.nan, d["Security"])), "missing"),
    (lambda d: d.head(2), "at least 3"),
    (lambda d: d.assign(Hedonism="high"), "non-numeric"),
])
def test_bad_input_raises_user_error(mutate, match):
    with pytest.raises(UserError, match=match) as info:
        cx.compare_with_human(mutate(_circumplex_scores(n=30)), permutations=10)
    assert "\n" not in str(info.value)


def test_rows_constant_after_centering_rejected():
    base = np.random.default_rng(0).normal(size=(20, 1))
    scores = pd.DataFrame(np.repeat(base, 10, axis=1) + np.arange(10), columns=list(SCHWARTZ_VALUES))
    with pytest.raises(UserError, match="MRAT-centered"):
        cx.value_correlations(scores, centering="mrat")
    assert np.allclose(cx.value_correlations(scores, centering="none"), 1.0)


# ----------------------------------------------------------------------------- similarity, MDS, contrasts


def test_matrix_similarity(ref):
    human = ref.correlation("mrat")
    same = cx.matrix_similarity(human, human)
    assert same["r_offdiag"] == pytest.approx(1.0) and same["rmse"] == 0.0 and same["n_cells"] == 45
    rand = cx.matrix_similarity(_random_corr(seed=0), human)
    assert rand["r_offdiag"] < 0.5 and rand["rmse"] > 0.2


def test_classical_mds_recovers_euclidean_configuration():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(10, 2))
    d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    x = cx.classical_mds(d)
    assert cx.procrustes_fit(x, pts).disparity < 1e-10
    assert cx.stress1(d, cx.metric_mds(d)) < 1e-4


def test_mds_of_circumplex_fits_circle_and_shuffled_does_not():
    corr = cx.value_correlations(_circumplex_scores(n=2000, noise=0.2), centering="none")
    conf = cx.mds_configuration(corr)
    assert conf.circle["disparity"] < 0.02 and conf.circle["cyclic_order_matches"]
    assert conf.circle["mean_abs_angle_deviation_deg"] < 5
    shuffled = list(np.random.default_rng(2).permutation(SCHWARTZ_VALUES))
    bad = cx.mds_configuration(corr.loc[shuffled, shuffled].set_axis(list(SCHWARTZ_VALUES), axis=0)
                               .set_axis(list(SCHWARTZ_VALUES), axis=1))
    assert bad.circle["disparity"] > 0.3 and not bad.circle["cyclic_order_matches"]


def test_human_mds_reads_as_circle(ref):
    for centering in ("mrat", "none"):
        conf = cx.mds_configuration(ref.correlation(centering))
        classical = cx.classical_mds(cx.correlation_dissimilarity(ref.correlation(centering).to_numpy()))
        delta = cx.correlation_dissimilarity(ref.correlation(centering).to_numpy())
        assert conf.stress1 <= cx.stress1(delta, classical) + 1e-12
        assert conf.circle["cyclic_order_matches"]
        assert conf.circle["disparity"] < 0.1


def test_higher_order_contrasts(ref):
    human = cx.higher_order_contrasts(ref.correlation("mrat"))
    assert all(c["as_theory"] and c["sign"] == "negative" for c in human.values())
    opp = ref.correlation("mrat").copy()
    for a in ("Power", "Achievement"):
        for b in ("Universalism", "Benevolence"):
            opp.loc[a, b] = opp.loc[b, a] = 0.4
    flipped = cx.higher_order_contrasts(opp)
    assert flipped["self_enhancement_vs_self_transcendence"]["sign"] == "positive"
    assert flipped["openness_vs_conservation"]["as_theory"]


# ----------------------------------------------------------------------------- whole comparison


def test_compare_with_human_circumplex_vs_random():
    good = cx.compare_with_human(_circumplex_scores(n=300, noise=0.4), permutations=500, seed=1)
    rng = np.random.default_rng(3)
    noise = pd.DataFrame(rng.normal(size=(300, 10)), columns=list(SCHWARTZ_VALUES))
    bad = cx.compare_with_human(noise, permutations=500, seed=1)
    assert good.rthor.ci > 0.8 and good.rthor.p_value < 0.01
    assert abs(bad.rthor.ci) < 0.3 and bad.rthor.p_value > 0.05
    assert good.similarity["r_offdiag"] > 0.7 > bad.similarity["r_offdiag"]
    assert good.mds_to_human_disparity < bad.mds_to_human_disparity
    assert good.human_rthor.ci == pytest.approx(0.835)
    d1, d2 = good.to_dict(), cx.compare_with_human(_circumplex_scores(n=300, noise=0.4),
                                                   permutations=500, seed=1).to_dict()
    assert json.dumps(d1, sort_keys=True) == json.dumps(d2, sort_keys=True)
    assert d1["distance_curve"]["human"]["5"] == pytest.approx(-0.451, abs=1e-3)


def test_bootstrap_intervals(ref):
    human = ref.correlation("mrat")
    small = cx.bootstrap_structure(_circumplex_scores(n=30, noise=0.5, seed=4), human, n_boot=400, seed=2)
    large = cx.bootstrap_structure(_circumplex_scores(n=600, noise=0.5, seed=4), human, n_boot=400, seed=2)
    point = cx.compare_with_human(_circumplex_scores(n=600, noise=0.5, seed=4), permutations=10)
    assert large["ci"][0] <= point.rthor.ci <= large["ci"][1]
    assert large["r_offdiag"][0] <= point.similarity["r_offdiag"] <= large["r_offdiag"][1]
    for d in range(1, 6):
        lo, hi = large["distance_curve"][str(d)]
        assert lo <= point.distance_curve[d] <= hi
    width = lambda b, k: b[k][1] - b[k][0]  # noqa: E731
    assert width(large, "r_offdiag") < width(small, "r_offdiag") and width(large, "rmse") < width(small, "rmse")
    again = cx.bootstrap_structure(_circumplex_scores(n=30, noise=0.5, seed=4), human, n_boot=400, seed=2)
    assert again == small and small["skipped"] == 0
    noise = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 10)), columns=list(SCHWARTZ_VALUES))
    rand = cx.bootstrap_structure(noise, human, n_boot=400, seed=2)
    assert rand["ci"][0] < 0.3 and rand["ci"][1] < small["ci"][0]


def test_procrustes_matches_scipy_and_rotated_keeps_scale():
    from scipy.spatial import procrustes

    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(10, 2)), rng.normal(size=(10, 2))
    fit = cx.procrustes_fit(b, a)
    t, f, disparity = procrustes(a, b)
    assert fit.disparity == pytest.approx(disparity) and np.allclose(fit.fitted, f) and np.allclose(fit.target, t)
    assert np.linalg.norm(fit.rotated) == pytest.approx(1.0)
    angle = 0.7
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = cx.procrustes_fit(3 * a @ rot * [1, -1] + 5, a)  # rotated, reflected, scaled, shifted
    assert moved.disparity < 1e-12 and np.allclose(moved.rotated, moved.target)
