"""``lm-eval-values sweep``: run roles x steering settings into one tidy value matrix (:mod:`lm_eval_values.sweep.run`)."""

from __future__ import annotations

import argparse
import sys

from lm_eval_values.core.errors import ArgumentParser
from lm_eval_values.sweep.check_report import CheckSettings
from lm_eval_values.sweep.conditions import resolve_shard
from lm_eval_values.sweep.config import load_config
from lm_eval_values.sweep.preflight import check_parsed
from lm_eval_values.sweep.run import run_sweep

#: where the config formats are described (printed by --help)
CONFIGS_DOC = "docs/CONFIGS.md"
CLUSTER_DOC = "docs/CLUSTER.md"


def main(argv: list[str]) -> int:
    """``lm-eval-values sweep CONFIG [--shard i/N|auto|auto/N] [--out DIR] [--no-progress]``."""
    parser = ArgumentParser(
        prog="lm-eval-values sweep",
        description="Run roles x steering settings (x seeds) with the model loaded once; write per-condition "
                    "lm-eval results and samples, matrix.csv, items.csv and manifest.json. Re-running resumes "
                    "(finished conditions are verified and skipped).",
        epilog=f"The sweep config format (every key, with an example) is in {CONFIGS_DOC} of the lm-eval-values "
               f"sources; `lm-eval-values check CONFIG` checks a config offline in seconds. Job arrays (SLURM, "
               f"Kubernetes): {CLUSTER_DOC}.")
    parser.add_argument("config", metavar="CONFIG", help=f"sweep YAML (format: {CONFIGS_DOC})")
    parser.add_argument("--shard", default=None, metavar="i/N|auto|auto/N",
                        help="run only the conditions whose grid index is i modulo N (0-based), e.g. 0/4; "
                             "`auto` takes i and N from the scheduler (SLURM job array, Kubernetes Indexed Job, "
                             "or $LM_EVAL_VALUES_SHARD_INDEX / $LM_EVAL_VALUES_SHARD_COUNT); `auto/N` takes i "
                             "and checks N. Join the shards with `lm-eval-values merge`")
    parser.add_argument("--out", default=None, help="output folder (overrides output_dir in the config)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (the final summary is printed)")
    parser.add_argument("--max-conditions", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    shard, source = resolve_shard(args.shard)
    if source:
        print(f"sweep: shard {shard[0]}/{shard[1]} from the {source}", file=sys.stderr)
    cfg = load_config(args.config)
    # the offline checks of `lm-eval-values check` (SAE references, layers, memory) before any model loads
    check_parsed(cfg, CheckSettings.for_run(), source=args.config).raise_first_problem(args.config)
    summary = run_sweep(cfg, shard=shard, out=args.out, progress=not args.no_progress,
                        max_conditions=args.max_conditions)
    return 0 if summary.n_run + summary.n_skipped >= summary.n_conditions or args.max_conditions else 1
