"""Ground truth for the held-out side-effect prediction: a simulated steering study with a known DAG.

A random linear DAG over ``n_values`` values (:func:`lm_eval_values.causal.simulate.random_dag_weights`;
``x_j = sum_i B[i, j] x_i + e_j``). Each role r has a persona ``e_r ~ N(0, role_sd^2)`` per value
(the role cluster: all of a role's conditions share it). Steering setting s is an intervention on its
DESIGNED target ``t_s`` (named in its id, ``prompt:<value>``): it adds ``shift + N(0, shift_sd^2)``
(role-dependent) to ``e_r[t_s]``, so the latent profile is ``x_r(s) = (I - B^T)^-1 (e_r + delta_rs 1_t)``
and the value ``w`` truly changes under s exactly when the total effect ``M[w, t_s]`` is non-zero
(``M = (I - B^T)^-1``; generically: ``w`` a descendant of ``t_s``).

Items: every role answers the same ``items_per_value`` items per value (half keyed, half
reverse-keyed), drawn afresh for each simulated study from an infinite item population. The KEYED
score of role r on item i of value v under setting s is
``l_i x_r(s)[v] + b_i + g_ri + eps_ris``: item loading ``l_i ~ N(1, loading_sd^2)`` (items differ in
how much a change of the value moves them, so which items were asked matters for a change), item
difficulty ``b_i ~ N(0, item_sd^2)``, a role x item
interaction ``g_ri ~ N(0, role_item_sd^2)`` shared by the role's steered and unsteered answers, and
answer noise ``eps ~ N(0, noise_sd^2)`` per condition. Value scores are item means, as the tool's
matrices.

:func:`simulate_side_effects` returns the training and held-out matrices, the item table, the DAG and
the true change sets; :func:`true_labels` and :func:`noisy_graph` serve the coverage checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import networkx as nx
import numpy as np
import pandas as pd

from lm_eval_values.analysis.heldout import heldout_evaluation
from lm_eval_values.analysis.side_effects_bootstrap import ROLES_AND_ITEMS, ROLES_ONLY
from lm_eval_values.analysis.side_effects_predictors import auroc, pair_scores_from_graph
from lm_eval_values.causal.simulate import random_dag_weights
from lm_eval_values.core.conditions import META_COLUMNS, NO_STEERING
from lm_eval_values.matrix.selection import with_dose_ids
from lm_eval_values.matrix.tables import ITEM_COLUMNS
from lm_eval_values.matrix.value_matrix import ValueMatrix


@dataclass(frozen=True)
class SideEffectSimulation:
    """Parameters of :func:`simulate_side_effects` (see the module docstring)."""

    n_values: int = 8
    edge_prob: float = 0.3
    weight_low: float = 0.4
    weight_high: float = 0.9
    n_settings: int = 4
    n_train_roles: int = 20
    n_heldout_roles: int = 25
    items_per_value: int = 6
    shift: float = 0.6
    shift_sd: float = 0.2
    role_sd: float = 0.3
    item_sd: float = 0.3
    role_item_sd: float = 0.25
    noise_sd: float = 0.25
    loading_sd: float = 0.3


@dataclass
class SimulatedSideEffects:
    """One simulated study: rows, items and the truth."""

    train: ValueMatrix
    heldout: ValueMatrix
    items: pd.DataFrame
    dag: nx.DiGraph
    total_effects: np.ndarray
    targets: dict[str, str]
    changed: dict[str, set[str]]
    values: list[str]


def _dag(setting: SideEffectSimulation, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    values = [f"V{j}" for j in range(setting.n_values)]
    B = random_dag_weights(setting.n_values, setting.edge_prob, setting.weight_low, setting.weight_high, rng)
    return B, values


def _choose_targets(M: np.ndarray, values: list[str], n: int, rng: np.random.Generator) -> list[int]:
    """Distinct targets, preferring values with descendants (so that side effects exist)."""
    n_desc = (np.abs(M) > 1e-12).sum(axis=0) - 1
    order = sorted(range(len(values)), key=lambda j: (-int(n_desc[j] > 0), rng.random()))
    return sorted(order[:n])


def simulate_side_effects(setting: SideEffectSimulation | None = None, seed: int = 0, *,
                          dag_seed: int | None = None) -> SimulatedSideEffects:
    """A simulated study (see the module docstring); ``dag_seed`` fixes the DAG and the settings while
    ``seed`` draws roles, items and answers (so studies can share one truth)."""
    s = setting or SideEffectSimulation()
    g_rng = np.random.default_rng([dag_seed if dag_seed is not None else seed, 1])
    B, values = _dag(s, g_rng)
    M = np.linalg.inv(np.eye(s.n_values) - B.T)
    target_idx = _choose_targets(M, values, s.n_settings, g_rng)
    settings = {f"prompt:{values[t]}": t for t in target_idx}
    rng = np.random.default_rng([seed, 2])
    k = s.items_per_value
    item_value = np.repeat(np.arange(s.n_values), k)
    item_key = np.tile(np.where(np.arange(k) < (k + 1) // 2, 1, -1), s.n_values)
    item_b = rng.normal(0, s.item_sd, item_value.size)
    loading = rng.normal(1.0, s.loading_sd, item_value.size)
    rows, meta, items = [], [], []
    for split, n_roles in (("train", s.n_train_roles), ("test", s.n_heldout_roles)):
        for r in range(n_roles):
            role = f"{split}-{r}"
            e = rng.normal(0, s.role_sd, s.n_values)
            g = rng.normal(0, s.role_item_sd, item_value.size)
            for sid, t in [(NO_STEERING, None), *settings.items()]:
                shock = e.copy()
                if t is not None:
                    shock[t] += s.shift + rng.normal(0, s.shift_sd)
                x = M @ shock
                y = loading * x[item_value] + item_b + g + rng.normal(0, s.noise_sd, item_value.size)
                coef = 0.0 if t is None else 1.0
                cid = f"{role}|{sid}"
                rows.append({v: float(y[item_value == j].mean()) for j, v in enumerate(values)})
                meta.append({"condition_id": cid, "role_id": role, "split": split, "steering_id": sid,
                             "coefficient": coef, "seed": 0})
                items += [{"condition_id": cid, "role_id": role, "split": split, "steering_id": sid,
                           "coefficient": coef, "seed": 0, "task": "sim", "doc_id": i, "item_id": f"i{i}",
                           "value": values[item_value[i]], "agreement": int(item_key[i]), "format": "sim",
                           "inventory": "sim", "metric": "score", "score": float(y[i])} for i in range(item_value.size)]
    frame_meta = pd.DataFrame(meta)[list(META_COLUMNS)]
    scores = pd.DataFrame(rows, columns=values)
    train = (frame_meta["split"] == "train").to_numpy()
    vm_train = ValueMatrix(scores[train].reset_index(drop=True), frame_meta[train].reset_index(drop=True))
    vm_held = ValueMatrix(scores[~train].reset_index(drop=True), frame_meta[~train].reset_index(drop=True))
    dag = nx.DiGraph()
    dag.add_nodes_from(values)
    dag.add_edges_from((values[i], values[j]) for i, j in zip(*np.nonzero(B)))
    changed = {f"{sid}@1": {values[w] for w in range(s.n_values) if w != t and abs(M[w, t]) > 1e-12}
               for sid, t in settings.items()}
    targets = {f"{sid}@1": values[t] for sid, t in settings.items()}
    return SimulatedSideEffects(vm_train, vm_held, pd.DataFrame(items)[list(ITEM_COLUMNS)], dag, M, targets,
                                changed, values)


def true_labels(sim: SimulatedSideEffects, pairs: Sequence[tuple[str, str, str]]) -> np.ndarray:
    """Whether each ``(setting, target, value)`` pair truly changes."""
    return np.array([w in sim.changed.get(s, set()) for s, _, w in pairs], bool)


def noisy_graph(dag: nx.DiGraph, drop: float, add: int, seed: int) -> nx.DiGraph:
    """``dag`` with a share ``drop`` of its edges removed and ``add`` random new edges (a partly right
    prediction, so that its AUROC is neither 0.5 nor 1)."""
    rng = np.random.default_rng([seed, 3])
    g = nx.DiGraph()
    g.add_nodes_from(dag.nodes)
    edges = sorted(dag.edges())
    keep = [e for e in edges if rng.random() >= drop]
    g.add_edges_from(keep)
    nodes = sorted(dag.nodes)
    while add > 0:
        u, v = rng.choice(nodes, 2, replace=False)
        if not g.has_edge(u, v) and not g.has_edge(v, u):
            g.add_edge(str(u), str(v))
            add -= 1
    return g




@dataclass
class CoverageResult:
    """How often the held-out AUROC interval of the learned graph covers the truth (simulated studies)."""

    theta_n: float
    theta_n_sd: float
    theta_inf: float
    coverage_n: float
    coverage_inf: float
    mean_width: float
    n_studies: int
    level: float
    resampling: str

    def to_dict(self) -> dict[str, float | int | str]:
        """JSON-ready dict."""
        return dict(self.__dict__)


def auroc_coverage(setting: SideEffectSimulation, n_studies: int, n_boot: int, n_truth: int, dag_seed: int = 0,
                   level: float = 0.95, drop: float = 0.4, add: int = 3, use_items: bool = True) -> CoverageResult:
    """Coverage of the learned graph's AUROC interval over ``n_studies`` simulated studies sharing one truth.

    The predictor is :func:`noisy_graph` of the true DAG. Truths: ``theta_inf``, the AUROC against the
    values that truly change; ``theta_n``, the AUROC's expectation at this held-out design (roles x items,
    FDR-detected changes), the mean point estimate over ``n_truth`` further independent studies.
    """
    sim0 = simulate_side_effects(setting, seed=0, dag_seed=dag_seed)
    predictor = noisy_graph(sim0.dag, drop, add, seed=dag_seed)
    pairs = [(s, t, w) for s, t in sim0.targets.items() for w in sim0.values if w != t]
    theta_inf = auroc(pair_scores_from_graph(predictor, pairs), true_labels(sim0, pairs))

    def run(seed: int, boot: int) -> Any:
        sim = simulate_side_effects(setting, seed=seed, dag_seed=dag_seed)
        return heldout_evaluation(predictor, with_dose_ids(sim.train), with_dose_ids(sim.heldout), n_random=0,
                                  seed=seed, n_boot=boot, level=level, items=sim.items if use_items else None,
                                  effects=()).table.iloc[0]

    points = np.array([run(10_000 + k, 0)["auroc"] for k in range(n_truth)], float)
    theta_n = float(np.nanmean(points))
    rows = [run(k, n_boot) for k in range(n_studies)]
    lo, hi = np.array([r["auroc_lo"] for r in rows], float), np.array([r["auroc_hi"] for r in rows], float)
    return CoverageResult(theta_n, float(np.nanstd(points)), float(theta_inf),
                          float(np.mean((lo <= theta_n + 1e-12) & (theta_n <= hi + 1e-12))),
                          float(np.mean((lo <= theta_inf + 1e-12) & (theta_inf <= hi + 1e-12))),
                          float(np.nanmean(hi - lo)), int(n_studies), float(level),
                          ROLES_AND_ITEMS if use_items else ROLES_ONLY)


__all__ = ["CoverageResult", "SideEffectSimulation", "SimulatedSideEffects", "auroc_coverage", "noisy_graph",
           "simulate_side_effects", "true_labels"]
