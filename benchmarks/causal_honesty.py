"""Ground-truth benchmark of the causal analysis: false-edge rates and JCI target recovery.

    python benchmarks/causal_honesty.py [--seeds 100] [--alpha 0.05] [--out FILE.json]

Simulated studies (:mod:`lm_eval_values.causal.simulate`): a random linear-Gaussian DAG over 10
values, roles as clusters (role persona and item-sample noise shared by all of a role's rows),
steering settings as mean-shift interventions on one known target each. Two scenarios:

* ``study-like``: 100 roles x 11 settings (none + 10), within-role ICC 0.55 (the study's Gemma
  matrix: 101 x 11, median ICC 0.55);
* ``many-settings``: 50 roles x 25 settings (none + 24), ICC 0.75.

For each seed (0 .. seeds-1) and method, PC (Fisher-z, alpha) is fitted and compared with the true
DAG: false-edge rate = learned value-value adjacencies absent from the true skeleton / non-adjacent
value pairs (pooled over seeds); recall = true adjacencies found / true adjacencies; for JCI,
precision / recall of the ``setting -> value`` edges against the designed targets. Methods:

* ``pooled-rows``: every row counted, steered rows pooled as observations (the study's way);
* ``effective-kish``: n = rows / (1 + (m-1) rho), rho = median ICC(1);
* ``effective-pairwise``: n per tested pair = rows / (1 + (m-1) rho_x rho_y) (the default);
* ``role-means``: one row per role (mean over its settings), n = roles;
* ``jci-rows`` / ``jci-effective``: steering settings as JCI context variables, at n = rows / the
  default effective n.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

from lm_eval_values.causal.discovery import discover
from lm_eval_values.causal.graph import ValueGraph
from lm_eval_values.causal.sample_size import role_means
from lm_eval_values.causal.simulate import SimulationSetting, simulate_study, skeleton_errors, target_recovery
from lm_eval_values.matrix.value_matrix import ValueMatrix

SCENARIOS = {
    "study-like": SimulationSetting(),
    "many-settings": SimulationSetting(n_roles=50, n_settings=24, role_sd=0.75, item_sd=0.5, row_sd=0.52),
}


def methods(alpha: float) -> dict[str, Callable[[ValueMatrix], ValueGraph]]:
    """Method name -> fit."""
    kish = {"mode": "effective", "design": "kish"}
    return {
        "pooled-rows": lambda vm: discover(vm, alpha=alpha, sample_size="rows"),
        "effective-kish": lambda vm: discover(vm, alpha=alpha, sample_size=kish),
        "effective-pairwise": lambda vm: discover(vm, alpha=alpha, sample_size="effective"),
        "role-means": lambda vm: discover(role_means(vm), alpha=alpha, sample_size="rows"),
        "jci-rows": lambda vm: discover(vm, alpha=alpha, sample_size="rows", exogenous_knobs="steering"),
        "jci-effective": lambda vm: discover(vm, alpha=alpha, sample_size="effective", exogenous_knobs="steering"),
    }


def run_scenario(setting: SimulationSetting, seeds: int, alpha: float) -> dict[str, Any]:
    """Pooled counts and rates per method over seeds 0 .. seeds-1."""
    fits = methods(alpha)
    acc = {k: {"false_edges": 0, "possible_false": 0, "true_found": 0, "true_edges": 0, "tp": 0, "fp": 0, "fn": 0,
               "seconds": 0.0} for k in fits}
    for seed in range(seeds):
        study = simulate_study(setting, seed=seed)
        for name, fit in fits.items():
            t0 = time.perf_counter()
            g = fit(study.matrix)
            acc[name]["seconds"] += time.perf_counter() - t0
            for k, v in skeleton_errors(g, study).items():
                if k in acc[name]:
                    acc[name][k] += v
            if name.startswith("jci"):
                r = target_recovery(g, study)
                for k in ("tp", "fp", "fn"):
                    acc[name][k] += r[k]
    out: dict[str, Any] = {}
    for name, a in acc.items():
        row = {"false_edge_rate": a["false_edges"] / max(a["possible_false"], 1),
               "recall": a["true_found"] / max(a["true_edges"], 1), **a}
        if name.startswith("jci"):
            row["target_precision"] = a["tp"] / max(a["tp"] + a["fp"], 1)
            row["target_recall"] = a["tp"] / max(a["tp"] + a["fn"], 1)
        out[name] = row
    return out


def table(results: dict[str, Any], seeds: int, alpha: float) -> str:
    """Markdown table of every scenario."""
    lines = [f"Seeds 0-{seeds - 1}, PC Fisher-z alpha {alpha:g}; false-edge rate = false value-value adjacencies "
             "/ non-adjacent pairs (pooled over seeds)", ""]
    for scen, res in results.items():
        s = SCENARIOS[scen]
        lines += [f"### {scen}: {s.n_roles} roles x {s.n_settings + 1} settings, {s.n_values} values, "
                  f"ICC {s.icc:.2f}", "",
                  "| method | false-edge rate | skeleton recall | target precision | target recall | s/fit |",
                  "|---|---|---|---|---|---|"]
        for name, r in res.items():
            tp = f"{r['target_precision']:.3f}" if "target_precision" in r else "-"
            tr = f"{r['target_recall']:.3f}" if "target_recall" in r else "-"
            lines.append(f"| {name} | {r['false_edge_rate']:.3f} ({r['false_edges']}/{r['possible_false']}) | "
                         f"{r['recall']:.3f} | {tp} | {tr} | {r['seconds'] / seeds:.3f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    results = {s: run_scenario(SCENARIOS[s], args.seeds, args.alpha) for s in args.scenarios}
    print(table(results, args.seeds, args.alpha))
    print(f"total {time.perf_counter() - t0:.0f} s")
    if args.out:
        Path(args.out).write_text(json.dumps({"seeds": list(range(args.seeds)), "alpha": args.alpha,
                                              "scenarios": {s: SCENARIOS[s].to_dict() for s in results},
                                              "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
