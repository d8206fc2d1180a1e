"""``lm-eval-values compare-human``: compare a value matrix with human Schwartz PVQ-40 structure.

Usage::

    lm-eval-values compare-human INPUT --out DIR [--centering mrat|none] [--permutations N] [--seed S]

INPUT is a sweep ``matrix.csv`` (or its folder), a study-format CSV, or any CSV whose columns
include the 10 Schwartz values (one row per role or condition; other columns are ignored).
DIR receives ``compare_human.json`` (all metrics, human figures next to the model's),
``model_correlation.csv`` and three plots: ``distance_curve.png``, ``mds.png``,
``correlations.png``. Input is validated and everything is computed before anything is
written; each file is written atomically.

Example (a role sweep with ``values_schwartz``; unsteered rows only)::

    lm-eval-values compare-human runs/smollm2_roles/matrix.csv --out runs/smollm2_roles/human \
        --keep-steer none --permutations 10000 --seed 0

The console summary and ``compare_human.json`` give the model's distance curve, RTHOR
correspondence index with p-value, similarity to the human matrix and bootstrap intervals,
each next to the human figures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lm_eval_values.analysis import circumplex as cx
from lm_eval_values.analysis.circumplex.compare import comparison_summary
from lm_eval_values.analysis.circumplex.inputs import item_mean_column, parse_items_per_value, read_input, select_rows
from lm_eval_values.analysis.circumplex.plots import render_plots
from lm_eval_values.analysis.circumplex.scores import find_schwartz_columns
from lm_eval_values.core.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text, check_writable_dir
from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.core.files import COMPARE_HUMAN_FILE
from lm_eval_values.core.jsonable import json_ready
from lm_eval_values.matrix.value_matrix import require_rows
from lm_eval_values.values.names import SCHWARTZ_VALUES


def build_parser() -> argparse.ArgumentParser:
    """The ``compare-human`` argument parser."""
    p = ArgumentParser(prog="lm-eval-values compare-human", description=__doc__.split("\n\n")[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="INPUT", help="matrix.csv, sweep folder, study CSV or CSV with the 10 Schwartz columns")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created; existing files replaced)")
    p.add_argument("--centering", choices=cx.CENTERINGS, default="mrat",
                   help="mrat: subtract each row's mean over all items before correlating (PVQ practice; default)")
    p.add_argument("--permutations", type=int, default=10000, metavar="N", help="RTHOR label permutations (default 10000)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="permutation and bootstrap seed (default 0)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="B",
                   help="row (role) bootstrap resamples for intervals of the model's figures (default 1000; 0 = off)")
    p.add_argument("--items-per-value", default="equal", metavar="equal|pvq40|NAME=K,...",
                   help="weights of the value scores in each row's item mean (MRAT): equal (default), the PVQ-40 "
                        "item counts, or explicit counts such as Power=3,Achievement=4,...")
    p.add_argument("--convention", choices=cx.CONVENTIONS, default="separate",
                   help="circle positions: separate (10 positions, as the published figures; default) or shared "
                        "(Tradition and Conformity share one wedge)")
    p.add_argument("--item-mean-column", metavar="COL", help="column holding each row's mean over all items (MRAT)")
    p.add_argument("--keep-steer", action="append", metavar="ID",
                   help="keep only rows with this steering id (repeatable; 'none' = unsteered)")
    p.add_argument("--drop-incomplete", action="store_true", help="drop rows with a missing Schwartz score")
    p.add_argument("--alpha", type=float, default=0.05, help="PC significance level for the causal comparison")
    p.add_argument("--no-causal", action="store_true", help="skip the PC graphs (human and model)")
    p.add_argument("--no-plots", action="store_true", help="write only the JSON and CSV (faster for batches)")
    return p


# ----------------------------------------------------------------------------- plots


def main(argv: list[str]) -> int:
    """Entry point of ``lm-eval-values compare-human``."""
    args = build_parser().parse_args(argv)
    if args.permutations < 1:
        raise UserError("--permutations", f"{args.permutations}", "use 1 or more (e.g. 10000)")
    if args.bootstrap < 0:
        raise UserError("--bootstrap", f"{args.bootstrap}", "use 0 (off) or a number of resamples, e.g. 1000")
    if not 0.0 < args.alpha < 1.0:
        raise UserError("--alpha", f"{args.alpha} is not in (0, 1)", "use e.g. 0.05")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError("--out", f"{out} is a file", "give a folder")
    ref = cx.load_human_reference()
    table, dropped = select_rows(read_input(args.input, args.keep_steer), args.drop_incomplete)
    cols = list(find_schwartz_columns(list(table.columns)).values())
    if len(cols) == len(SCHWARTZ_VALUES):  # the minimum-row rule every correlation analysis shares
        require_rows(int(table[cols].notna().all(axis=1).sum()), len(cols), "INPUT", str(args.input), dropped)
    ipv = parse_items_per_value(args.items_per_value, ref)
    res = cx.compare_with_human(table, args.centering, args.permutations, args.seed,
                                item_mean=item_mean_column(table, args.item_mean_column), items_per_value=ipv,
                                reference=ref, convention=args.convention, bootstrap=args.bootstrap)
    payload = res.to_dict()
    payload["input"] = {"path": str(args.input), "rows_dropped_incomplete": dropped,
                        "keep_steer": args.keep_steer, "item_mean_column": args.item_mean_column}
    if not args.no_causal:
        raw_corr = cx.value_correlations(table, "none", order=ref.values)
        payload["causal"] = json_ready(cx.compare_causal_with_human(raw_corr, res.n_rows, args.alpha, ref), 6)
    plots = {} if args.no_plots else render_plots(res, ref.abbrev)
    check_writable_dir(out)
    atomic_write_text(out / "model_correlation.csv", res.correlation.round(6).to_csv())
    for name, data in plots.items():
        atomic_write_bytes(out / name, data)
    atomic_write_json(out / COMPARE_HUMAN_FILE, payload)
    print(comparison_summary(payload))
    print(f"wrote {out / COMPARE_HUMAN_FILE}" + (f" and {', '.join(plots)}" if plots else ""))
    return 0
