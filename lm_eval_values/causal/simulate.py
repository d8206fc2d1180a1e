"""Ground truth for causal discovery on role x steering matrices: a simulated study.

A random linear-Gaussian DAG over ``n_values`` values (``x = B x + e``; edge weights
``+-U(weight_low, weight_high)``). Each row is one (role, steering setting) condition; its
exogenous noise has four independent parts:

* ``role``: the role's persona, one draw per role and value, shared by ALL of the role's rows
  (the clustering that makes rows of a role dependent);
* ``item``: the sampling noise of the role's item sample, one draw per role and value, also
  shared by all of the role's rows (every steering setting asks the role the same items);
* ``shift``: the steering setting's intervention, a mean shift of ``shift`` on each of its
  target values (setting ``none`` shifts nothing);
* ``row``: condition-level noise, independent per row and value.

All four enter the structural equations (``e`` above), so the observed scores follow the DAG
exactly and every d-separation holds in the population: an edge found between non-adjacent
values is a false edge. (Item noise added *after* the structural equations would be
measurement error, which breaks conditional independences at any n; that is a different
problem from pseudo-replication and is left out on purpose.) With the defaults the
within-role ICC of every value is ``(role_sd^2 + item_sd^2) / (role_sd^2 + item_sd^2 + row_sd^2)``
= 0.55 before steering shifts, and 100 roles x 11 settings mimic the study's 1111 x 17 matrix.

The unit of analysis is the role: rows of one role are not independent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import networkx as nx
import numpy as np
import pandas as pd

from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.causal.jci import STEER_PREFIX, intervention_targets
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.conditions import META_COLUMNS, NO_STEERING
from lm_eval_values.matrix.value_matrix import ValueMatrix


@dataclass(frozen=True)
class SimulationSetting:
    """Parameters of :func:`simulate_study` (see the module docstring)."""

    n_values: int = 10
    edge_prob: float = 0.15
    weight_low: float = 0.2
    weight_high: float = 0.6
    n_roles: int = 100
    n_settings: int = 10
    targets_per_setting: int = 1
    shift: float = 1.0
    role_sd: float = 0.6
    item_sd: float = 0.44
    row_sd: float = 0.67

    def __post_init__(self) -> None:
        if self.n_values < 3 or self.n_roles < 4 or self.n_settings < 0:
            raise UserError("simulation", "needs >= 3 values, >= 4 roles and >= 0 settings", "raise the counts")
        if not (0.0 <= self.edge_prob <= 1.0):
            raise UserError("simulation.edge_prob", f"{self.edge_prob} is not in [0, 1]", "use e.g. 0.3")
        if not (1 <= self.targets_per_setting <= self.n_values):
            raise UserError("simulation.targets_per_setting", f"{self.targets_per_setting}", "use 1..n_values")
        if min(self.role_sd, self.item_sd, self.row_sd) < 0 or self.row_sd == 0:
            raise UserError("simulation", "noise SDs must be >= 0 and row_sd > 0", "fix the SDs")

    @property
    def icc(self) -> float:
        """Within-role ICC of every value's exogenous noise (without steering shifts)."""
        between = self.role_sd ** 2 + self.item_sd ** 2
        return between / (between + self.row_sd ** 2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SimulationSetting":
        """Inverse of :meth:`to_dict` (unknown keys -> UserError)."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise UserError("simulation", f"unknown key(s) {sorted(unknown)}",
                            f"use some of: {', '.join(cls.__dataclass_fields__)}")
        return cls(**dict(d))


@dataclass
class SimulatedStudy:
    """A simulated value matrix with its truth.

    Attributes:
        matrix: rows = (role, steering setting), columns = values ``V0..``.
        weights: ``B`` as a DataFrame, ``weights.loc[u, v]`` = weight of u -> v (0 = no edge).
        targets: ``{steering id: [target values]}``.
        setting: the parameters.
        seed: the seed.
    """

    matrix: ValueMatrix
    weights: pd.DataFrame
    targets: dict[str, list[str]]
    setting: SimulationSetting
    seed: int
    values: list[str] = field(default_factory=list)

    def true_dag(self) -> nx.DiGraph:
        """The true DAG over the values."""
        dg = nx.DiGraph()
        dg.add_nodes_from(self.values)
        dg.add_edges_from((u, v) for u in self.values for v in self.values if self.weights.loc[u, v] != 0)
        return dg

    def true_skeleton(self) -> set[frozenset[str]]:
        """Adjacent value pairs of the true DAG."""
        return {frozenset(e) for e in self.true_dag().edges()}


def random_dag_weights(n: int, edge_prob: float, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    """``B`` with ``B[i, j]`` = weight of i -> j over a random causal order (acyclic)."""
    order = rng.permutation(n)
    B = np.zeros((n, n))
    for a in range(n):
        for b in range(a + 1, n):
            if rng.random() < edge_prob:
                B[order[a], order[b]] = rng.uniform(low, high) * rng.choice([-1.0, 1.0])
    return B


def simulate_study(setting: SimulationSetting | None = None, seed: int = 0) -> SimulatedStudy:
    """Draw a DAG, targets and a role x steering matrix (see the module docstring)."""
    s = setting or SimulationSetting()
    rng = np.random.default_rng(seed)
    p = s.n_values
    values = [f"V{i}" for i in range(p)]
    B = random_dag_weights(p, s.edge_prob, s.weight_low, s.weight_high, rng)
    steer_ids = [NO_STEERING] + [f"s{k + 1}" for k in range(s.n_settings)]
    targets: dict[str, list[str]] = {}
    for sid in steer_ids[1:]:
        idx = np.sort(rng.choice(p, size=s.targets_per_setting, replace=False))
        targets[sid] = [values[i] for i in idx]
    shift = np.zeros((len(steer_ids), p))
    for k, sid in enumerate(steer_ids[1:], start=1):
        shift[k, [values.index(v) for v in targets[sid]]] = s.shift
    role_part = rng.normal(0.0, s.role_sd, size=(s.n_roles, p)) + rng.normal(0.0, s.item_sd, size=(s.n_roles, p))
    n_rows = s.n_roles * len(steer_ids)
    role_idx = np.repeat(np.arange(s.n_roles), len(steer_ids))
    steer_idx = np.tile(np.arange(len(steer_ids)), s.n_roles)
    E = role_part[role_idx] + shift[steer_idx] + rng.normal(0.0, s.row_sd, size=(n_rows, p))
    # x = B^T x + e (row-vector form: x = e (I - B)^-1)
    X = E @ np.linalg.inv(np.eye(p) - B)
    scores = pd.DataFrame(X, columns=values)
    meta = pd.DataFrame({
        "condition_id": [f"r{r}|{steer_ids[k]}" for r, k in zip(role_idx, steer_idx)],
        "role_id": [f"r{r}" for r in role_idx],
        "split": "train",
        "steering_id": [steer_ids[k] for k in steer_idx],
        "coefficient": np.where(steer_idx > 0, 1.0, 0.0),
        "seed": int(seed),
    })[list(META_COLUMNS)]
    vm = ValueMatrix(scores, meta, f"simulation(seed={seed})")
    return SimulatedStudy(vm, pd.DataFrame(B, index=values, columns=values), targets, s, int(seed), values)


def skeleton_errors(graph: ValueGraph, study: SimulatedStudy) -> dict[str, float]:
    """False and true adjacencies among the values of ``graph`` against the truth.

    ``false_edge_rate`` = learned value-value adjacencies absent from the true skeleton, divided
    by the number of non-adjacent value pairs (the possible false edges); ``recall`` = true
    adjacencies found / true adjacencies.
    """
    vals = set(study.values)
    learned = {s for s in graph.skeleton() if s <= vals}
    truth = study.true_skeleton()
    n_pairs = len(vals) * (len(vals) - 1) // 2
    possible_false = n_pairs - len(truth)
    false = len(learned - truth)
    found = len(learned & truth)
    return {"false_edges": false, "possible_false": possible_false,
            "false_edge_rate": false / possible_false if possible_false else 0.0,
            "true_found": found, "true_edges": len(truth), "recall": found / len(truth) if truth else 1.0,
            "n_edges": len(learned)}


def target_recovery(graph: ValueGraph, study: SimulatedStudy) -> dict[str, float]:
    """Precision / recall of JCI's ``setting -> value`` edges against the designed targets."""
    found = {(c[len(STEER_PREFIX):], v) for c, vs in intervention_targets(graph).items()
             if c.startswith(STEER_PREFIX) for v in vs}
    truth = {(sid, v) for sid, vs in study.targets.items() for v in vs}
    tp = len(found & truth)
    return {"tp": tp, "fp": len(found - truth), "fn": len(truth - found),
            "precision": tp / len(found) if found else float("nan"),
            "recall": tp / len(truth) if truth else float("nan")}


__all__ = ["SimulatedStudy", "SimulationSetting", "random_dag_weights", "simulate_study", "skeleton_errors",
           "target_recovery"]
