"""``lm-eval-values side-effects``: expected vs unexpected co-changes (the study's metric) and the held-out
side-effect prediction (:mod:`lm_eval_values.analysis.side_effects`, :mod:`lm_eval_values.analysis.heldout`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from lm_eval_values.analysis.heldout import heldout_evaluation
from lm_eval_values.analysis.side_effects import (CENTERINGS, center_changes, cochange_frequencies, descendant_sets,
                                                  role_changes, steering_changes, study_side_effects)
from lm_eval_values.causal.reference import load_reference
from lm_eval_values.core.atomic import atomic_write_bytes
from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.matrix.reading import read_csv_table, read_value_matrix
from lm_eval_values.matrix.value_matrix import frame_to_value_matrix


def _build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="lm-eval-values side-effects",
                       description="Expected vs unexpected co-changes (the study's metric) and the "
                                   "held-out side-effect prediction.")
    p.add_argument("--graph", required=True, help="graph: node-link JSON from `graph`, or an edge list FILE[:NAME]")
    p.add_argument("--policy", default="study", choices=("study", "possible", "directed"),
                   help="how non-directed edges are read for descendants (default: study)")
    p.add_argument("--changes", default=None,
                   help="change matrix CSV (columns = values), or a value matrix (sweep/study CSV) with --mode")
    p.add_argument("--mode", choices=("role", "steering"), default=None,
                   help="build changes from a value matrix: role = each role minus --baseline-role; "
                        "steering = --role under each setting minus --role unsteered")
    p.add_argument("--baseline-role", default=None, help="baseline role for --mode role (default: first named role)")
    p.add_argument("--role", default=None, help="role for --mode steering")
    p.add_argument("--keep-steer", nargs="+", default=None, help="steering ids for --mode steering (commas allowed)")
    p.add_argument("--tol", type=float, default=0.0,
                   help="a change counts when |D| > tol (study: 0); held out: also |mean paired change| > tol")
    p.add_argument("--centering", choices=CENTERINGS, default="none",
                   help="median / mrat: every change vector minus its median / mean over the values "
                        "(value-specific changes only)")
    p.add_argument("--heldout", default=None, help="held-out value matrix (e.g. test roles) for the prediction test")
    p.add_argument("--train", default=None, help="training value matrix (targets, correlation baseline)")
    p.add_argument("--reference", action="append", default=[], help="extra graph FILE[:NAME] to evaluate; repeatable")
    p.add_argument("--steer", nargs="+", default=None, help="held-out steering ids to evaluate (default: all shared)")
    p.add_argument("--fdr", type=float, default=0.05)
    p.add_argument("--n-random", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    return p


def _split(items: list[str] | None) -> list[str] | None:
    if items is None:
        return None
    return [s.strip() for it in items for s in it.split(",") if s.strip()]


def _load_graph(spec: str, values: Sequence[str] | None, flag: str = "--graph") -> Any:
    try:
        return load_reference(spec, nodes=list(values) if values is not None else None)
    except UserError as exc:  # name the flag the user gave, not the loader's generic field
        if exc.field != "reference":
            raise
        raise UserError(flag, exc.problem, exc.fix) from None


def _read_changes(args: argparse.Namespace) -> pd.DataFrame:
    path = Path(args.changes)
    if not path.is_file():
        raise UserError("--changes", f"{path} does not exist", "give a change-matrix CSV or a value matrix")
    df = read_csv_table(path, "--changes")  # strict: duplicate columns, infinite or huge cells are refused
    is_matrix = set(META_COLUMNS) <= set(df.columns) or {"steer_dim", "player_name"} <= set(df.columns)
    if not is_matrix:
        if args.mode:
            raise UserError("--mode", f"{path} is a change matrix, not a value matrix", "drop --mode")
        num = df.select_dtypes("number")
        if num.shape[1] < 2:
            raise UserError("--changes", f"{path} has fewer than two numeric value columns", "give a change matrix")
        empty = num.isna().to_numpy().nonzero()
        if len(empty[0]):  # a missing change would be silently counted as "no co-change"
            raise UserError("--changes", f"{path} line {int(empty[0][0]) + 2}, column {num.columns[empty[1][0]]!r} "
                            "is empty", "give every change (0 for none)")
        return num.astype(float)
    vm = frame_to_value_matrix(df, str(path), field="--changes")
    if args.mode == "role":
        return role_changes(vm, args.baseline_role)
    if args.mode == "steering":
        if not args.role:
            raise UserError("--role", "--mode steering needs --role", 'e.g. --role "Mary Holt"')
        return steering_changes(vm, args.role, _split(args.keep_steer))
    raise UserError("--mode", f"{path} is a value matrix", "say how to build changes: --mode role or --mode steering")


def main(argv: list[str]) -> int:
    """``lm-eval-values side-effects``: writes side_effects.json / cochange.csv and/or heldout.json / heldout_auroc.csv."""
    args = _build_parser().parse_args(argv)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError("--out", f"{out} exists and is not a folder", "give a folder path")
    if args.changes is None and args.heldout is None:
        raise UserError("--changes", "nothing to do", "give --changes and/or --heldout with --train")
    if (args.heldout is None) != (args.train is None):
        raise UserError("--heldout", "--heldout and --train go together", "give both")
    if not (0 < args.fdr < 1):
        raise UserError("--fdr", f"{args.fdr} is not in (0, 1)", "use e.g. 0.05")
    if args.n_random < 0:
        raise UserError("--n-random", f"{args.n_random}", "use 0 or more")
    if not (args.tol >= 0) or not math.isfinite(args.tol):
        raise UserError("--tol", f"{args.tol} is not a number >= 0", "e.g. 0 (the study) or 0.05")
    changes = center_changes(_read_changes(args), args.centering) if args.changes else None
    train = heldout = None
    if args.heldout:
        train = read_value_matrix(args.train, field="--train", check=False)
        heldout = read_value_matrix(args.heldout, field="--heldout", check=False)
    values = list(changes.columns) if changes is not None else list(heldout.values)  # type: ignore[union-attr]
    graph = _load_graph(args.graph, values)
    refs = {spec: _load_graph(spec, values, "--reference") for spec in args.reference}
    files: dict[str, bytes] = {}
    summary: dict[str, Any] = {"graph": args.graph, "policy": args.policy}
    if changes is not None:
        res = study_side_effects(changes, descendant_sets(graph, values, args.policy), args.tol)
        payload = {"graph": args.graph, "policy": args.policy, "changes": args.changes, "mode": args.mode,
                   "tol": args.tol, "centering": args.centering, **res.to_json()}
        for spec, g in refs.items():
            payload.setdefault("references", {})[spec] = study_side_effects(
                changes, descendant_sets(g, values, args.policy), args.tol).to_json()
        files["side_effects.json"] = (json.dumps(payload, indent=2) + "\n").encode()
        files["cochange.csv"] = cochange_frequencies(changes, args.tol).to_csv(float_format="%.4f").encode()
        summary["study_metric"] = {"expected": res.expected, "unexpected": res.unexpected}
        print(f"study metric ({res.n_rows} rows): Expected {res.expected:.2f} / Unexpected {res.unexpected:.2f}")
    if heldout is not None and train is not None:
        ho = heldout_evaluation(graph.to_digraph(args.policy), train, heldout,
                                reference={spec: g.to_digraph(args.policy) for spec, g in refs.items()},
                                q=args.fdr, n_random=args.n_random, seed=args.seed,
                                steering_ids=_split(args.steer), centering=args.centering, tol=args.tol)
        files["heldout.json"] = (json.dumps(ho.to_json(), indent=2) + "\n").encode()
        files["heldout_auroc.csv"] = ho.table.to_csv(index=False, float_format="%.4f").encode()
        files["heldout_pairs.csv"] = ho.per_condition.to_csv(index=False, float_format="%.4f").encode()
        files["heldout_pvalues.csv"] = ho.pvalues.to_csv(float_format="%.6g").encode()
        print(ho.table[["predictor", "precision", "recall", "auroc"]].to_string(index=False, float_format="%.3f"))
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        atomic_write_bytes(out / name, data)
    print(f"wrote {len(files)} files to {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
