"""``lm-eval-values study``: the end-to-end value study of a config, resumable, with a report
(:mod:`lm_eval_values.study.run`; the config is described in :mod:`lm_eval_values.study.config`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.study.config import ANALYSIS_STAGE_VERSIONS, load_study_config
from lm_eval_values.sweep.check_report import CheckSettings
from lm_eval_values.sweep.preflight import check_parsed
from lm_eval_values.study.run import print_value_profiles, run_study


def main(argv: list[str]) -> int:
    """``lm-eval-values study CONFIG [--out DIR] [--no-progress] [--redo STAGES]``."""
    parser = ArgumentParser(
        prog="lm-eval-values study",
        description="Run the end-to-end value study of a config (role sweep x steering settings, measurement "
                    "reliability, causal graph with bootstrap, comparison with the human Schwartz structure, held-out "
                    "side effects) and write report.html. Re-running resumes: finished stages and conditions are "
                    "skipped.",
        epilog="The study config format (every key, with an example) is in docs/CONFIGS.md of the lm-eval-values "
               "sources; `lm-eval-values check CONFIG` checks a config offline in seconds.")
    parser.add_argument("config", metavar="CONFIG", help="study YAML, e.g. lm_eval_values/configs/study_smollm2.yaml")
    parser.add_argument("--out", default=None,
                        help="run folder (default: output_dir of the config, else runs/<config file name>)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--redo", default="",
                        help=f"analysis stages to run again even if complete, comma-separated: "
                             f"{', '.join(ANALYSIS_STAGE_VERSIONS)} (the sweep always resumes)")
    args = parser.parse_args(argv)
    t0 = time.time()
    redo = tuple(x.strip() for x in args.redo.split(",") if x.strip())
    unknown = [x for x in redo if x not in ANALYSIS_STAGE_VERSIONS]
    if unknown:
        raise UserError("--redo", f"unknown stage(s) {unknown}", f"use some of: {', '.join(ANALYSIS_STAGE_VERSIONS)}")
    cfg = load_study_config(args.config)
    # the offline checks of `lm-eval-values check` (SAE references, layers, memory) before any model loads
    check_parsed(cfg, CheckSettings.for_run(), source=args.config).raise_first_problem(args.config)
    out = Path(args.out or (str(cfg.output_dir) if cfg.output_dir else f"runs/{Path(args.config).stem}"))
    if out.exists() and not out.is_dir():
        raise UserError("--out", f"{out} exists and is not a folder", "give a folder path")
    rec = run_study(cfg, out, progress=not args.no_progress, redo=redo)
    wall = time.time() - t0
    print("")
    print(f"Study {cfg.name!r} finished in {wall / 60:.1f} min ({wall:.0f} s) -> {rec['report']}")
    for table in print_value_profiles(out):
        print(table)
    for line in rec["summary"]:
        print(f"- {line}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
