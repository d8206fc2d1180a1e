"""``lm-eval-values compare-human``: compare a value matrix with human Schwartz PVQ-40 structure.

Usage::

    lm-eval-values compare-human INPUT --out DIR [--rows unsteered|all] [--split S] [--keep-steer ID ...]
    lm-eval-values compare-human --study RUN_DIR [--model ID] --out DIR

INPUT is a sweep ``matrix.csv`` (or its folder), a study-format CSV, or any CSV whose columns
include the 10 Schwartz values (one row per role or condition; other columns are ignored). The
respondents are the unsteered rows by default (the structure of the model's values, not of
interventions), a condition run in two splits counted once. DIR receives ``result.json``,
``compare_human.json`` (all metrics, human figures next to the model's), ``model_correlation.csv``,
``human_graph.json`` and three plots: ``distance_curve.png``, ``mds.png``, ``correlations.png``
(see :mod:`lm_eval_values.analysis.circumplex.stage`). Everything is computed before anything
is written; ``--study`` writes the same files as the study's ``RUN/<model>/human/``.

The console summary and ``compare_human.json`` give the model's distance curve, RTHOR
correspondence index with p-value, similarity to the human matrix and bootstrap intervals,
each next to the human figures.
"""

from __future__ import annotations

import argparse

from lm_eval_values.analysis import circumplex as cx
from lm_eval_values.analysis.circumplex.compare import comparison_summary
from lm_eval_values.analysis.circumplex.inputs import read_human_input
from lm_eval_values.analysis.circumplex.stage import ROWS, HumanStageSettings, run_compare_human
from lm_eval_values.cli.stage_options import add_study_options, given, open_study, split_list, with_flags
from lm_eval_values.core.atomic import check_output_dir
from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.core.files import COMPARE_HUMAN_FILE

_SETTINGS = {"centering": "centering", "permutations": "permutations", "seed": "seed", "bootstrap": "bootstrap",
             "items_per_value": "items_per_value", "convention": "convention", "item_mean_column": "item_mean_column",
             "keep_steer": "keep_steer", "split": "split", "rows": "rows", "drop_incomplete": "drop_incomplete",
             "alpha": "alpha", "causal": "causal", "plots": "plots"}


def build_parser() -> argparse.ArgumentParser:
    """The ``compare-human`` argument parser."""
    p = ArgumentParser(prog="lm-eval-values compare-human", description=__doc__.split("\n\n")[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="INPUT", nargs="?", default=None,
                   help="matrix.csv, sweep folder, study CSV or CSV with the 10 Schwartz columns")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created; existing files replaced)")
    add_study_options(p, "human")
    p.add_argument("--centering", choices=cx.CENTERINGS, default=None,
                   help="mrat: subtract each row's mean over all items before correlating (PVQ practice; default)")
    p.add_argument("--permutations", type=int, default=None, metavar="N", help="RTHOR label permutations (default 10000)")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="permutation and bootstrap seed (default 0)")
    p.add_argument("--bootstrap", type=int, default=None, metavar="B",
                   help="row (role) bootstrap resamples for intervals of the model's figures (default 1000; 0 = off)")
    p.add_argument("--items-per-value", default=None, metavar="equal|pvq40|NAME=K,...",
                   help="weights of the value scores in each row's item mean (MRAT): equal (default), the PVQ-40 "
                        "item counts, or explicit counts such as Power=3,Achievement=4,...")
    p.add_argument("--convention", choices=cx.CONVENTIONS, default=None,
                   help="circle positions: separate (10 positions, as the published figures; default) or shared "
                        "(Tradition and Conformity share one wedge)")
    p.add_argument("--item-mean-column", metavar="COL", default=None,
                   help="column holding each row's mean over all items (MRAT; plain tables)")
    p.add_argument("--rows", choices=ROWS, default=None,
                   help="unsteered (default: the model's own value structure) or all rows (steered too)")
    p.add_argument("--split", default=None, help="use the rows of this split (default: every split)")
    p.add_argument("--keep-steer", action="append", metavar="ID", default=None,
                   help="keep only rows with this steering id (repeatable, commas allowed; 'none' = unsteered; "
                        "id@coef = one dose); overrides --rows")
    p.add_argument("--drop-incomplete", action="store_const", const=True, default=None,
                   help="drop rows with a missing Schwartz score")
    p.add_argument("--alpha", type=float, default=None, help="PC significance level for the causal comparison")
    p.add_argument("--no-causal", dest="causal", action="store_const", const=False, default=None,
                   help="skip the PC graphs (human and model)")
    p.add_argument("--no-plots", dest="plots", action="store_const", const=False, default=None,
                   help="write only the JSON and CSV (faster for batches)")
    return p


def main(argv: list[str]) -> int:
    """Entry point of ``lm-eval-values compare-human``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = check_output_dir(args.out, "--out")
    study = open_study(args, "input")
    if study is None and args.input is None:
        raise UserError("INPUT", "no value matrix given", "give a matrix.csv / sweep folder / CSV, or --study RUN_DIR")
    changes = given(args, _SETTINGS)
    if "keep_steer" in changes:
        changes["keep_steer"] = split_list(changes["keep_steer"])
    settings = with_flags(lambda: HumanStageSettings.from_dict(changes, study.settings.human if study else None),
                          parser, "human")
    data = study.matrix() if study is not None else read_human_input(args.input)
    run = with_flags(lambda: run_compare_human(data, settings, out), parser, "human")
    print(comparison_summary(run.payload))
    for note in run.result.notes:
        print(f"note: {note}")
    print(f"wrote {out / COMPARE_HUMAN_FILE} and {len(run.files) - 1} other files")
    return 0
