"""``lm-eval-values plan``: rank roles / SAE features / steering vectors for a target value change
(:mod:`lm_eval_values.analysis.plan`); ``--verify`` runs the top candidates on the model
(:mod:`lm_eval_values.analysis.plan_verify`, the sweep runner).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from lm_eval_values.analysis.plan import (DEFAULT_TOL, KINDS, Target, cell_means, center_candidates,
                                          parent_coefficients, parse_target, rank_candidates, role_candidates,
                                          steering_candidates, steering_kinds, value_scale)
from lm_eval_values.analysis.plan_se import with_standard_errors
from lm_eval_values.analysis.side_effects_inputs import read_item_table
from lm_eval_values.analysis.plan_verify import observed_table, verify_config
from lm_eval_values.analysis.side_effects import CENTERINGS, descendant_sets
from lm_eval_values.causal.reference import load_reference
from lm_eval_values.causal.stage_settings import DEFAULT_POLICY
from lm_eval_values.core.atomic import atomic_write_files, check_output_dir
from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.core.files import ITEMS_FILE
from lm_eval_values.matrix.reading import read_value_matrix
from lm_eval_values.study.config import load_sweep_or_study_config
from lm_eval_values.sweep.config import parse_config
from lm_eval_values.sweep.run import run_sweep


def build_parser() -> argparse.ArgumentParser:
    """The ``plan`` argument parser."""
    p = ArgumentParser(prog="lm-eval-values plan",
                       description="Rank roles / SAE features / steering vectors by their effect on a "
                                   "target value minus side effects the causal graph does not explain.")
    p.add_argument("--target", required=True, help='"<Value>:+" or "<Value>:-"')
    p.add_argument("--graph", required=True, help="graph: node-link JSON from `graph`, or an edge list FILE[:NAME]")
    p.add_argument("--policy", default=DEFAULT_POLICY, choices=("study", "possible", "directed"),
                   help=f"how non-directed edges are read for descendants (default: {DEFAULT_POLICY})")
    p.add_argument("--candidates", required=True, help="roles | features | vectors")
    p.add_argument("--matrix", required=True, help="value matrix: sweep folder, matrix.csv or study-format CSV")
    p.add_argument("--split", default=None,
                   help="rank on the rows of this split only (e.g. train); --verify then prefers the other roles")
    p.add_argument("--top", type=int, default=None, help="keep the top K candidates in the table")
    p.add_argument("--penalty", type=float, default=1.0, help="weight of the side effect (default 1)")
    p.add_argument("--tol", type=float, default=DEFAULT_TOL,
                   help=f"a change counts when |z| > tol standard errors (default {DEFAULT_TOL:g})")
    p.add_argument("--items", default=None,
                   help="item table (items.csv) for standard errors from role AND item sampling (default: the "
                        "sweep folder's items.csv when --matrix is one; without it roles only)")
    p.add_argument("--centering", choices=CENTERINGS, default="none",
                   help="median / mrat: remove the shift common to all values from every change vector first")
    p.add_argument("--verify", action="store_true", help="run the top candidates on the model (needs --config)")
    p.add_argument("--config", default=None,
                   help="the sweep (or study) config that produced the matrix (for --verify)")
    p.add_argument("--study-model", default=None, help="with a study --config: the model id (default: its only model)")
    p.add_argument("--model", default=None, help="override model_args.pretrained of --config for --verify")
    p.add_argument("--verify-top", type=int, default=2, help="how many top candidates --verify runs (default 2)")
    p.add_argument("--verify-roles", type=int, default=3, help="roles per steering candidate in --verify (default 3)")
    p.add_argument("--verify-fraction", type=float, default=None, help="item fraction for --verify (default: config)")
    p.add_argument("--out", required=True, help="output folder")
    return p


def _validate_flags(args: argparse.Namespace) -> None:
    if args.candidates not in KINDS:
        raise UserError("--candidates", f"unknown candidate kind {args.candidates!r}", f"use one of: {', '.join(KINDS)}")
    if args.top is not None and args.top < 1:
        raise UserError("--top", f"{args.top} is not positive", "use 1 or more")
    if not (args.penalty >= 0) or not (args.tol >= 0):
        raise UserError("--penalty/--tol", "must be non-negative numbers", "e.g. --penalty 1 --tol 0.5")
    if args.verify and not args.config:
        raise UserError("--config", "--verify needs the sweep config that produced the matrix", "add --config FILE")
    if (args.config or args.model or args.study_model) and not args.verify:
        raise UserError("--verify", "--config/--model/--study-model only matter with --verify",
                        "add --verify or drop them")
    if args.verify_top < 1 or args.verify_roles < 1:
        raise UserError("--verify-top/--verify-roles", "must be at least 1", "e.g. --verify-top 2")
    if args.verify_fraction is not None and not (0 < args.verify_fraction <= 1):
        raise UserError("--verify-fraction", f"{args.verify_fraction} is not in (0, 1]", "e.g. 0.5")


def _load_config(args: argparse.Namespace) -> Any:
    """The sweep config (``--model`` applied), validated; None without ``--verify``."""
    if not args.verify:
        return None
    cfg = load_sweep_or_study_config(args.config, args.study_model)
    if args.model:
        raw = json.loads(json.dumps(cfg.raw, default=str))
        raw.setdefault("model_args", {})["pretrained"] = args.model
        cfg = parse_config(raw, base=Path(args.config).resolve().parent, source=cfg.source)
    return cfg


def _items(args: argparse.Namespace) -> pd.DataFrame | None:
    """The item table: ``--items``, else the sweep folder's ``items.csv``; rows of ``--split`` only."""
    if args.items is not None:
        items = read_item_table(args.items)
    elif Path(args.matrix).is_dir() and (Path(args.matrix) / ITEMS_FILE).is_file():
        items = read_item_table(Path(args.matrix) / "items.csv", "--matrix")
    else:
        return None
    return items[items["split"].astype(str) == args.split] if args.split is not None else items


def _fmt_table(df: pd.DataFrame) -> str:
    return df.to_string(index=False, float_format=lambda x: f"{x:.3f}")


def main(argv: list[str]) -> int:
    """``lm-eval-values plan``: writes plan.csv / plan.json (and verify.csv / verify.json with --verify)."""
    args = build_parser().parse_args(argv)
    _validate_flags(args)
    out = check_output_dir(args.out, "--out")
    vm = read_value_matrix(args.matrix, field="--matrix", check=False)
    if args.split is not None:
        splits = sorted(set(vm.meta["split"].astype(str)))
        if args.split not in splits:
            raise UserError("--split", f"no rows of split {args.split!r} in the matrix", f"use one of: {', '.join(splits)}")
        vm = vm.filter(split=args.split)
    values = vm.values
    target = parse_target(args.target, values)
    graph = load_reference(args.graph, nodes=values)
    desc = descendant_sets(graph, values, args.policy)[target.value]
    cfg = _load_config(args)
    cells = cell_means(vm)
    cands = (role_candidates(cells) if args.candidates == "roles"
             else steering_candidates(cells, steering_kinds(vm, cfg), args.candidates))
    if not cands:
        raise UserError("--candidates", f"the matrix has no {args.candidates} candidates",
                        "pick another kind or give a matrix with such conditions")
    cands = center_candidates(cands, args.centering)
    scale = value_scale(vm)
    items = _items(args)
    cands = with_standard_errors(cands, items, scale, args.centering)
    parents = [p for p in graph.to_digraph(args.policy).predecessors(target.value) if p in values]
    beta = parent_coefficients(vm, target.value, parents)
    table = rank_candidates(cands, target, desc, values, scale, beta, args.penalty, args.tol)
    if args.top is not None:
        table = table.head(args.top)
    vcfg = None
    if args.verify:
        chosen = table[table["score"].notna()].head(args.verify_top)
        if chosen.empty:
            raise UserError("--target", "no candidate has a measured or predicted effect", "check the matrix")
        vcfg = verify_config(cfg, chosen, args.candidates, vm, args.verify_roles, args.verify_fraction)
    payload: dict[str, Any] = {
        "format": "lm-eval-values/plan", "version": 1, "target": str(target), "graph": args.graph,
        "policy": args.policy, "candidates": args.candidates, "matrix": args.matrix, "split": args.split,
        "centering": args.centering,
        "penalty": args.penalty,
        "tol": args.tol, "descendants": sorted(desc), "parents": {p: float(beta[p]) for p in beta.index},
        "value_sd": {v: float(scale[v]) for v in values}, "items": items is not None,
        "scoring": "score = sign * z[target] - penalty * mean |z[w]| over values w that are neither the target "
                   "nor its graph descendants; z = change / its standard error from role and item sampling "
                   "(se_source per candidate; the value's SD over unsteered rows only where no error exists)",
        "table": json.loads(table.to_json(orient="records")),
    }
    files = {"plan.csv": table.to_csv(index=False, float_format="%.6g").encode(),
             "plan.json": (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode()}
    atomic_write_files(out, files)
    print(_fmt_table(table[["rank", "candidate", "effect_source", "target_change", "target_se", "target_z",
                            "side_effect", "n_unexpected", "score"]]))
    print("z = change / standard error; errors from " + "; ".join(sorted(set(table["se_source"]))))
    if vcfg is not None:
        _run_verify(vcfg, table, args, target, desc, values, scale, out, payload, set(vm.role_ids))
    print(f"wrote {out}")
    return 0


def _run_verify(vcfg: Any, table: pd.DataFrame, args: argparse.Namespace, target: Target, desc: set[str],
                values: list[str], scale: pd.Series, out: Path, payload: dict[str, Any],
                ranked_roles: set[str]) -> None:
    """Run the restricted sweep (the sweep runner, model loaded once) and write verify.csv / verify.json."""
    summary = run_sweep(vcfg, out=out / "verify", progress=False)
    vm_obs = read_value_matrix(summary.matrix_path, field="verify", check=False)
    chosen = table[table["score"].notna()].head(args.verify_top)
    verify_items = read_item_table(out / "verify" / ITEMS_FILE, "verify") if (out / "verify" / ITEMS_FILE).is_file() \
        else None
    obs = observed_table(chosen, vm_obs, args.candidates, target, desc, values, scale, args.penalty, args.tol,
                         args.centering, verify_items)
    ver = {"target": str(target), "sweep": str(out / "verify"), "n_conditions": summary.n_conditions,
           "roles": [r.id for r in vcfg.roles], "steering": [s.id for s in vcfg.steering],
           "held_out_roles": [r.id for r in vcfg.roles if r.id not in ranked_roles],
           "elapsed_s": round(summary.total_s, 1), "plan": payload["table"][:len(chosen)],
           "table": json.loads(obs.to_json(orient="records"))}
    atomic_write_files(out, {"verify.csv": obs.to_csv(index=False, float_format="%.6g").encode(),
                             "verify.json": (json.dumps(ver, indent=2, sort_keys=True) + "\n").encode()})
    print("verify (standard-error units):")
    print(_fmt_table(obs[["rank", "candidate", "predicted_target_z", "observed_target_z",
                          "predicted_side_effect", "observed_side_effect", "direction_confirmed"]]))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
