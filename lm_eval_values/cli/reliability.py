"""``lm-eval-values reliability SOURCE --out OUT``: is there value signal, or only response bias?

``SOURCE`` is a sweep folder, an ``items.csv`` or a folder of plain ``lm_eval --log_samples``
outputs (one per condition). Writes ``OUT/reliability.json`` (see
:mod:`lm_eval_values.measurement.run`) and prints the summary lines. ``--study RUN_DIR`` reruns a
study's reliability stage with its settings (same bytes as ``RUN/<model>/reliability/reliability.json``).
"""

from __future__ import annotations

import sys

from lm_eval_values.cli.stage_options import add_study_options, open_study
from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.core.files import RELIABILITY_FILE
from lm_eval_values.measurement.bias import SCORINGS
from lm_eval_values.measurement.components import ESTIMATORS
from lm_eval_values.measurement.run import ReliabilitySettings, run_reliability


def _targets(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for p in pairs:
        sid, sep, value = p.rpartition("=")
        if not sep or not sid or not value:
            raise UserError("--target", f"{p!r} is not STEERING_ID=VALUE", 'e.g. --target "sae:1085=Power"')
        out.append((sid, value))
    return tuple(sorted(out))


def build_parser() -> ArgumentParser:
    """The command's argument parser (settings flags default to "not given": the defaults, or the study's)."""
    p = ArgumentParser(
        prog="lm-eval-values reliability",
        description="Generalizability study of value scores (roles x items, both random), acquiescence, "
                    "honest intervals and steering manipulation checks; writes OUT/reliability.json.")
    p.add_argument("source", metavar="SOURCE", nargs="?", default=None,
                   help="sweep folder, items.csv, or lm_eval --log_samples folders")
    p.add_argument("--out", required=True, help="output folder (reliability.json)")
    add_study_options(p, "reliability")
    p.add_argument("--scoring", default=None, choices=list(SCORINGS), help="response-bias scoring (default raw)")
    p.add_argument("--alpha", type=float, default=None, help="level of the F test of role variance (default 0.05)")
    p.add_argument("--g-floor", type=float, default=None, help="smallest G that counts as signal (default 0.5)")
    p.add_argument("--estimator", default=None, choices=list(ESTIMATORS),
                   help="anova: ANOVA/EMS, Henderson III or nested ANOVA by design (default); reml: statsmodels")
    p.add_argument("--level", type=float, default=None, help="interval level (default 0.95)")
    p.add_argument("--n-boot", type=int, default=None, help="two-way bootstrap replicates (default 2000)")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed (default 0)")
    p.add_argument("--strata", default=None, choices=["key", "none"],
                   help="resample items within (value, key) strata (default) or within value regardless of key")
    p.add_argument("--exclude-no-role", action="store_const", const=True, default=None,
                   help="do not count the no-role condition as a respondent")
    p.add_argument("--target", action="append", default=None, metavar="STEERING_ID=VALUE",
                   help="designed target of a steering id that names none (e.g. sae:1085=Power); repeatable")
    p.add_argument("--score-metric", default=None, help="per-sample metric used as item score (default: auto)")
    return p


def settings_from_args(args, base: ReliabilitySettings | None = None) -> ReliabilitySettings:
    """:class:`ReliabilitySettings`: ``base`` (the defaults, or a study's) changed by the flags given (bad
    values -> :class:`UserError` naming the flag)."""
    d = (base or ReliabilitySettings()).to_dict()
    parts = {"g_study": ("alpha", "g_floor", "estimator"), "intervals": ("level", "n_boot", "seed", "strata"),
             "manipulation": ("level", "n_boot", "seed", "strata")}
    for part, names in parts.items():
        for name in names:
            if getattr(args, name) is not None:
                d[part][name] = getattr(args, name)
        if args.exclude_no_role:
            d[part]["include_no_role"] = False
    for name in ("scoring", "score_metric"):
        if getattr(args, name) is not None:
            d[name] = getattr(args, name)
    if args.target is not None:
        d["manipulation"]["targets"] = dict(_targets(args.target))
    try:
        return ReliabilitySettings.from_dict(d)
    except UserError as exc:
        raise UserError("--" + exc.field.split(".")[-1].replace("_", "-"), exc.problem, exc.fix) from None


def main(argv: list[str]) -> int:
    """``lm-eval-values reliability SOURCE --out OUT [options]`` or ``--study RUN_DIR [--model ID] --out OUT``."""
    args = build_parser().parse_args(argv)
    study = open_study(args, "source")
    if study is None and args.source is None:
        raise UserError("SOURCE", "no sweep given", "give a sweep folder / items.csv, or --study RUN_DIR")
    settings = settings_from_args(args, study.settings.reliability if study is not None else None)
    if study is not None:
        result = run_reliability(study.sweep_dir, settings, args.out, label=study.reliability_label)
    else:
        result = run_reliability(args.source, settings, args.out)
    for line in result["summary"]:
        print(line)
    print(f"-> {args.out}/{RELIABILITY_FILE}", file=sys.stderr)
    return 0
