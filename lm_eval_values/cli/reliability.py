"""``lm-eval-values reliability SOURCE --out OUT``: is there value signal, or only response bias?

``SOURCE`` is a sweep folder, an ``items.csv`` or a folder of plain ``lm_eval --log_samples``
outputs (one per condition). Writes ``OUT/reliability.json`` (see
:mod:`lm_eval_values.measurement.run`) and prints the summary lines. Until the command is registered
with the console script it runs as ``python -m lm_eval_values.cli.reliability SOURCE --out OUT``.
"""

from __future__ import annotations

import sys

from lm_eval_values.measurement.bias import SCORINGS
from lm_eval_values.measurement.components import ESTIMATORS
from lm_eval_values.measurement.intervals import IntervalSettings
from lm_eval_values.measurement.manipulation import ManipulationSettings
from lm_eval_values.measurement.reliability import GStudySettings
from lm_eval_values.measurement.run import RELIABILITY_FILE, ReliabilitySettings, run_reliability
from lm_eval_values.core.errors import ArgumentParser, UserError


def _targets(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for p in pairs:
        sid, sep, value = p.rpartition("=")
        if not sep or not sid or not value:
            raise UserError("--target", f"{p!r} is not STEERING_ID=VALUE", 'e.g. --target "sae:1085=Power"')
        out.append((sid, value))
    return tuple(sorted(out))


def build_parser() -> ArgumentParser:
    """The command's argument parser."""
    p = ArgumentParser(
        prog="lm-eval-values reliability",
        description="Generalizability study of value scores (roles x items, both random), acquiescence, "
                    "honest intervals and steering manipulation checks; writes OUT/reliability.json.")
    p.add_argument("source", metavar="SOURCE", help="sweep folder, items.csv, or lm_eval --log_samples folders")
    p.add_argument("--out", required=True, help="output folder (reliability.json)")
    p.add_argument("--scoring", default="raw", choices=list(SCORINGS), help="response-bias scoring (default raw)")
    p.add_argument("--alpha", type=float, default=0.05, help="level of the F test of role variance (default 0.05)")
    p.add_argument("--g-floor", type=float, default=0.5, help="smallest G that counts as signal (default 0.5)")
    p.add_argument("--estimator", default="anova", choices=list(ESTIMATORS),
                   help="anova: ANOVA/EMS, Henderson III or nested ANOVA by design (default); reml: statsmodels")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--n-boot", type=int, default=2000, help="two-way bootstrap replicates (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--strata", default="key", choices=["key", "none"],
                   help="resample items within (value, key) strata (default) or within value regardless of key")
    p.add_argument("--exclude-no-role", action="store_true", help="do not count the no-role condition as a respondent")
    p.add_argument("--target", action="append", default=[], metavar="STEERING_ID=VALUE",
                   help="designed target of a steering id that names none (e.g. sae:1085=Power); repeatable")
    p.add_argument("--score-metric", default=None, help="per-sample metric used as item score (default: auto)")
    return p


def settings_from_args(args) -> ReliabilitySettings:
    """:class:`ReliabilitySettings` from parsed arguments (bad values -> :class:`UserError` naming the flag)."""
    include = not args.exclude_no_role
    try:
        g = GStudySettings(alpha=args.alpha, g_floor=args.g_floor, estimator=args.estimator, include_no_role=include)
    except UserError as exc:
        raise UserError("--" + exc.field.split(".")[-1].replace("_", "-"), exc.problem, exc.fix) from None
    try:
        iv = IntervalSettings(level=args.level, n_boot=args.n_boot, seed=args.seed, strata=args.strata,
                              include_no_role=include)
    except UserError as exc:
        raise UserError("--" + exc.field.split(".")[-1].replace("_", "-"), exc.problem, exc.fix) from None
    mp = ManipulationSettings(level=args.level, n_boot=args.n_boot, seed=args.seed, strata=args.strata,
                              targets=_targets(args.target), include_no_role=include)
    return ReliabilitySettings(scoring=args.scoring, score_metric=args.score_metric, g_study=g, intervals=iv,
                               manipulation=mp)


def main(argv: list[str]) -> int:
    """``lm-eval-values reliability SOURCE --out OUT [options]``."""
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args)
    result = run_reliability(args.source, settings, args.out)
    for line in result["summary"]:
        print(line)
    print(f"-> {args.out}/{RELIABILITY_FILE}", file=sys.stderr)
    return 0

