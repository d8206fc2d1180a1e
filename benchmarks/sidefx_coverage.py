"""Ground truth for the held-out side-effect AUROC interval: coverage over simulated studies.

    python benchmarks/sidefx_coverage.py [--studies 100] [--n-boot 200] [--truth 200]
        [--out benchmarks/results/sidefx_coverage.json]

Each scenario is one known DAG (:mod:`lm_eval_values.analysis.side_effects_simulate`: role clusters,
item sampling with item-specific loadings, steering settings that shift their designed target, named
in their ids) and a partly wrong predictor graph (the true DAG with 40% of its edges dropped and 3
random edges added). Over ``--studies`` independent studies (new roles, new items, new answers) the
held-out evaluation runs with its defaults (designed targets, two-way bootstrap of roles and items
through the tests and the FDR decisions, 95% percentile interval); coverage is the share of intervals
holding

* ``theta_n``: the expected AUROC at the design (the mean point estimate over ``--truth`` further
  studies): what the interval estimates;
* ``theta_inf``: the AUROC against the values that truly change (the DAG's descendants of the target).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lm_eval_values.analysis.side_effects_simulate import SideEffectSimulation, auroc_coverage

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = {
    "8 values, 4 settings, 25 held-out roles, DAG 0": (SideEffectSimulation(n_heldout_roles=25), 0, True),
    "8 values, 4 settings, 25 held-out roles, DAG 3": (SideEffectSimulation(n_heldout_roles=25), 3, True),
    "6 values, 3 settings, 15 held-out roles, DAG 0": (
        SideEffectSimulation(n_values=6, n_settings=3, n_train_roles=8, n_heldout_roles=15), 0, True),
    "8 values, 4 settings, 40 held-out roles, DAG 5": (SideEffectSimulation(n_heldout_roles=40), 5, True),
    "8 values, 4 settings, 25 held-out roles, DAG 3, roles only": (SideEffectSimulation(n_heldout_roles=25), 3,
                                                                    False),
}


def main() -> None:
    """Run every scenario, write the JSON and print a markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--studies", type=int, default=100)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--truth", type=int, default=200)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "sidefx_coverage.json"))
    args = ap.parse_args()
    out = {}
    print("| scenario | theta_n (SD over studies) | theta_inf | coverage of theta_n | coverage of theta_inf | "
          "mean width |\n|---|---|---|---|---|---|")
    for name, (setting, dag_seed, items) in SCENARIOS.items():
        t0 = time.perf_counter()
        cov = auroc_coverage(setting, args.studies, args.n_boot, args.truth, dag_seed=dag_seed, use_items=items)
        out[name] = {**cov.to_dict(), "seconds": round(time.perf_counter() - t0, 1)}
        print(f"| {name} | {cov.theta_n:.3f} ({cov.theta_n_sd:.3f}) | {cov.theta_inf:.3f} | {cov.coverage_n:.2f} | "
              f"{cov.coverage_inf:.2f} | {cov.mean_width:.3f} |", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"settings": vars(args), "scenarios": out}, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
