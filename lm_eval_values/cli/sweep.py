"""``lm-eval-values sweep``: run roles x steering settings into one tidy value matrix (:mod:`lm_eval_values.sweep.run`)."""

from __future__ import annotations

import argparse

from lm_eval_values.core.errors import ArgumentParser
from lm_eval_values.sweep.conditions import parse_shard
from lm_eval_values.sweep.config import load_config
from lm_eval_values.sweep.check_report import CheckSettings
from lm_eval_values.sweep.preflight import check_parsed
from lm_eval_values.sweep.run import run_sweep


def main(argv: list[str]) -> int:
    """``lm-eval-values sweep CONFIG [--shard i/N] [--out DIR] [--no-progress]``."""
    parser = ArgumentParser(
        prog="lm-eval-values sweep",
        description="Run roles x steering settings (x seeds) with the model loaded once; write per-condition "
                    "lm-eval results and samples, matrix.csv, items.csv and manifest.json. Re-running resumes "
                    "(finished conditions are skipped).")
    parser.add_argument("config", metavar="CONFIG", help="sweep YAML (see lm_eval_values/sweep/config.py)")
    parser.add_argument("--shard", default=None, help="run shard i of N (0-based), e.g. 0/4; join with `merge`")
    parser.add_argument("--out", default=None, help="output folder (overrides output_dir in the config)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--max-conditions", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    shard = parse_shard(args.shard)
    cfg = load_config(args.config)
    # the offline checks of `lm-eval-values check` (SAE references, layers, memory) before any model loads
    check_parsed(cfg, CheckSettings.for_run(), source=args.config).raise_first_problem(args.config)
    summary = run_sweep(cfg, shard=shard, out=args.out, progress=not args.no_progress,
                        max_conditions=args.max_conditions)
    return 0 if summary.n_run + summary.n_skipped >= summary.n_conditions or args.max_conditions else 1
