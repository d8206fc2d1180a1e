"""``lm-eval-values matrix``: rebuild ``matrix.csv`` and ``items.csv`` from per-condition files (:mod:`lm_eval_values.matrix.tables`)."""

from __future__ import annotations

import sys

from lm_eval_values.core.atomic import check_output_dir
from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.core.files import ITEMS_FILE, MATRIX_FILE
from lm_eval_values.matrix.condition_files import read_conditions
from lm_eval_values.matrix.tables import ITEM_SCORE_METRICS, build_tables, write_tables


def main(argv: list[str]) -> int:
    """``lm-eval-values matrix DIR [--out OUT] [--score-metric NAME]``."""
    parser = ArgumentParser(
        prog="lm-eval-values matrix",
        description="Rebuild matrix.csv (one row per condition, one column per value) and items.csv from a "
                    "sweep folder's per-condition files, or from plain `lm_eval --output_path X --log_samples` "
                    "folders (one per condition) below DIR.")
    parser.add_argument("dir", metavar="DIR", help="a sweep output folder (conditions/ inside), or a folder of "
                                                   "lm_eval --output_path folders, one per condition")
    parser.add_argument("--out", default=None, help="output folder (default: DIR)")
    parser.add_argument("--score-metric", default=None,
                        help=f"per-sample metric used as the item score (default: first of {', '.join(ITEM_SCORE_METRICS)})")
    args = parser.parse_args(argv)
    conds = read_conditions(args.dir)
    tables = build_tables(conds, args.score_metric)
    out = check_output_dir(args.out or args.dir, "--out")
    try:
        write_tables(out, tables)
    except UserError as exc:
        raise UserError("--out", exc.problem, exc.fix) from None
    print(f"{tables.n_rows} conditions x {len(tables.values)} values -> {out / MATRIX_FILE}, {out / ITEMS_FILE}",
          file=sys.stderr)
    return 0
