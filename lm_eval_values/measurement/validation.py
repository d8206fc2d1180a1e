"""Checks of the estimators against simulated respondents with a known truth.

Each function simulates with :mod:`lm_eval_values.measurement.simulate` and compares what the
analysis recovers with the truth; the tests and ``docs/reliability.md`` quote their numbers.

* :func:`component_recovery`: estimated vs expected variance components per value;
* :func:`interval_coverage`: how often each interval of a value mean covers the true mean;
* :func:`bias_control_recovery`: per scoring choice, the role variance, the verdicts and how well
  role value scores recover the true role effects.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from lm_eval_values.measurement.bias import SCORINGS, apply_scoring
from lm_eval_values.measurement.intervals import IntervalSettings, value_profile
from lm_eval_values.measurement.reliability import GStudySettings, g_study
from lm_eval_values.measurement.simulate import SimulationSettings, simulate_items
from lm_eval_values.measurement.table import NO_STEERING, respondent_cells


def component_recovery(settings: SimulationSettings, gstudy: GStudySettings = GStudySettings()) -> pd.DataFrame:
    """Per value: ``design, true_role, est_role, true_item, est_item, true_residual, est_residual, g, signal``."""
    data = simulate_items(settings)
    res = g_study(data.items, gstudy)
    rows = []
    for v, r in res.items():
        truth = data.truth["components"][v]
        c = r.components
        nested = c is not None and c.design == "nested"
        rows.append({"value": v, "design": c.design if c else None,
                     "true_role": truth["role"], "est_role": c.role if c else np.nan,
                     "true_item": np.nan if nested else truth["item"], "est_item": (c.item if c else np.nan) or np.nan,
                     "true_residual": truth["residual"] + (truth["item"] if nested else 0.0),
                     "est_residual": c.residual if c else np.nan, "f": c.f if c else np.nan, "g": r.g,
                     "signal": r.signal})
    return pd.DataFrame(rows)


def interval_coverage(settings: SimulationSettings, intervals: IntervalSettings = IntervalSettings(n_boot=1000),
                      n_datasets: int = 200) -> dict[str, Any]:
    """Share of ``n_datasets`` simulated data sets (seeds ``settings.seed + j``) whose interval of each
    value's mean covers the true mean, for the two-way bootstrap, the variance-component and the
    roles-only interval; plus the median width of each relative to the roles-only interval."""
    hits = {"two_way": 0, "components": 0, "roles_only": 0}
    widths: dict[str, list[float]] = {"two_way": [], "components": []}
    n = 0
    for j in range(n_datasets):
        data = simulate_items(dataclasses.replace(settings, seed=settings.seed + j))
        prof = value_profile(data.items, dataclasses.replace(intervals, seed=intervals.seed + j))
        for _, p in prof.iterrows():
            mu = data.truth["value_mean"][p["value"]]
            hits["two_way"] += bool(p["ci_lo"] <= mu <= p["ci_hi"])
            hits["components"] += bool(p["vc_lo"] <= mu <= p["vc_hi"])
            hits["roles_only"] += bool(p["roles_only_lo"] <= mu <= p["roles_only_hi"])
            base = p["roles_only_hi"] - p["roles_only_lo"]
            widths["two_way"].append((p["ci_hi"] - p["ci_lo"]) / base)
            widths["components"].append((p["vc_hi"] - p["vc_lo"]) / base)
            n += 1
    return {"n_intervals": n, "level": intervals.level, "coverage": {k: v / n for k, v in hits.items()},
            "width_vs_roles_only": {k: float(np.median(v)) for k, v in widths.items()}}


def bias_control_recovery(settings: SimulationSettings, gstudy: GStudySettings = GStudySettings()) -> pd.DataFrame:
    """Per scoring choice: ``mean_role_var`` (mean over values of the estimated role component),
    ``n_signal`` (values with a signal verdict), ``r_true`` (Pearson r between the roles' value scores
    and the true role effects, both centred per value over roles, pooled over values) and
    ``rmse_true`` (root mean squared difference of those centred scores)."""
    data = simulate_items(settings)
    truth = data.truth["role_effects"]
    rows = []
    for name in SCORINGS:
        scored, _ = apply_scoring(data.items, name, gstudy.include_no_role)
        res = g_study(scored, gstudy)
        cells = respondent_cells(scored, NO_STEERING, include_no_role=gstudy.include_no_role)
        scores = cells.pivot_table(index="role_id", columns="value", values="score", aggfunc="mean")
        est = (scores - scores.mean()).reindex(index=truth.index, columns=truth.columns)
        true = truth - truth.mean()
        pair = pd.DataFrame({"est": est.to_numpy().ravel(), "true": true.to_numpy().ravel()}).dropna()
        r = float(np.corrcoef(pair["est"], pair["true"])[0, 1]) if pair["true"].std() > 0 else float("nan")
        rows.append({"scoring": name,
                     "mean_role_var": float(np.mean([x.components.role for x in res.values() if x.components])),
                     "n_signal": int(sum(x.signal for x in res.values())), "n_values": len(res), "r_true": r,
                     "rmse_true": float(np.sqrt(np.mean((pair["est"] - pair["true"]) ** 2)))})
    return pd.DataFrame(rows)
