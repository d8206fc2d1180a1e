"""Checking a plan on the model: the sweep config restricted to the chosen candidates and their
baselines (held-out roles first), and the observed changes next to the predicted ones.

See ``--verify`` in :mod:`lm_eval_values.analysis.plan`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.analysis.plan import (Target, candidate_z, cell_means, center_candidates, role_candidates,
                                          score_change, steering_candidates, steering_kinds)
from lm_eval_values.analysis.plan_se import with_standard_errors
from lm_eval_values.core.conditions import NO_ROLE, NO_STEERING, coefficient_text
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.value_matrix import ValueMatrix
from lm_eval_values.sweep.steering import SteeringSetting


def verify_config(cfg: Any, chosen: pd.DataFrame, kind: str, vm: ValueMatrix, n_roles: int,
                  fraction: float | None) -> Any:
    """The sweep config restricted to the chosen settings and their baselines (validated, nothing run).

    ``vm`` holds the rows the plan was ranked on: steering candidates are verified on the config's
    roles outside ``vm`` first (held out), in config order, then on roles inside it.
    """
    none = [s for s in cfg.steering if s.kind == "none"] or [SteeringSetting(NO_STEERING, "none", 0.0)]
    by_id = {r.id: r for r in cfg.roles}
    if kind == "roles":
        missing = [r for r in chosen["role_id"] if r not in by_id]
        if NO_ROLE not in by_id:
            raise UserError("--config", "has no no-role condition (the baseline of role candidates)",
                            "set roles.no_role: true in the sweep config")
        if missing:
            raise UserError("--config", f"role(s) {missing} are not roles of the sweep config",
                            "give the config that produced the matrix")
        roles, steering = [by_id[NO_ROLE], *(by_id[r] for r in chosen["role_id"])], none[:1]
    else:
        want = list(zip(chosen["steering_id"], chosen["coefficient"]))
        have = {(s.id, coefficient_text(s.coefficient)): s for s in cfg.steering}
        missing = [f"{s}@{c}" for s, c in want if (s, c) not in have]
        if missing:
            raise UserError("--config", f"steering setting(s) {missing} are not in the sweep config",
                            "give the config that produced the matrix")
        ranked_on = set(vm.role_ids)
        ordered = sorted(cfg.roles, key=lambda r: (r.id in ranked_on, cfg.roles.index(r)))
        roles, steering = ordered[:n_roles], none[:1] + [have[k] for k in want]
    sampling = cfg.sampling
    if fraction is not None:
        sampling = dataclasses.replace(sampling, fraction=fraction, per_split={})
    return dataclasses.replace(cfg, roles=roles, steering=steering, sampling=sampling)


def observed_table(plan: pd.DataFrame, vm_obs: ValueMatrix, kind: str, target: Target, descendants: set[str],
                   values: Sequence[str], scale: pd.Series, penalty: float, tol: float,
                   centering: str = "none", items: pd.DataFrame | None = None) -> pd.DataFrame:
    """Observed change of each verified candidate next to its prediction from the plan (both over their own
    standard errors; ``items``: the verification sweep's item table)."""
    cells = cell_means(vm_obs)
    if kind == "roles":
        cands = center_candidates(role_candidates(cells), centering)
        key = "role_id"
    else:
        cands = center_candidates(steering_candidates(cells, steering_kinds(vm_obs, None) | {
            s: kind for s in plan["steering_id"]}, kind), centering)
        key = "candidate"
    cands = with_standard_errors(cands, items, scale, centering)
    obs = {(c.role_id if kind == "roles" else c.label): c for c in cands}
    empty = pd.Series(dtype=float)
    rows = []
    for _, p in plan.iterrows():
        c = obs.get(p[key])
        expected = [v for v in values if v in descendants and v != target.value]
        unexpected = [v for v in values if v not in descendants and v != target.value]
        if c is not None:
            z, _, source = candidate_z(c, target, scale, empty)
        else:
            z, source = pd.Series(np.nan, index=list(values)), "none"
        o = score_change(z, target, unexpected, expected, penalty, tol, source)
        rows.append({"rank": p["rank"], "candidate": p["candidate"], "n_roles_observed": c.n_roles if c else 0,
                     "predicted_target_z": p["target_z"], "observed_target_z": o["target_z"],
                     "observed_se_source": c.se_source if c else "",
                     "observed_target_change": float(c.change.get(target.value, np.nan)) if c else np.nan,
                     "predicted_side_effect": p["side_effect"], "observed_side_effect": o["side_effect"],
                     "predicted_n_unexpected": p["n_unexpected"], "observed_n_unexpected": o["n_unexpected"],
                     "predicted_score": p["score"], "observed_score": o["score"],
                     "direction_confirmed": bool(pd.notna(o["target_effect"]) and o["target_effect"] > 0)})
    return pd.DataFrame(rows)
