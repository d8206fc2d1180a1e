"""``lm-eval-values graph``: fit a causal value graph, bootstrap it, compare it, export and draw it.

The defaults are honest: Fisher-z tests count each role's rows by the effective sample size
(per-pair design effect of the role clusters), steering settings enter as JCI context variables,
stability comes from role subsamples without replacement. The reference study's procedure on its
data (44 edges; the settings are in lm_eval_values/data/protocols/kang2025-gemma-2b-it.yaml)::

    lm-eval-values graph ans_gemma_train_formal.csv --protocol kang2025-gemma-2b-it --out graph_out

Rerun a study's graph stage (same files as RUN/<model>/graph/): ``lm-eval-values graph --study RUN --out DIR``.
Everything is validated and computed before anything is written (see :mod:`lm_eval_values.causal.stage`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lm_eval_values.causal.discovery import ALGOS, INDEP_TESTS
from lm_eval_values.causal.graph import POLICIES
from lm_eval_values.causal.jci import CONTEXT_KINDS
from lm_eval_values.causal.reference import load_reference
from lm_eval_values.causal.resample import SCHEMES
from lm_eval_values.causal.settings import UNITS
from lm_eval_values.causal.stage import GraphRun, run_graph
from lm_eval_values.causal.stage_settings import DEFAULT_POLICY, GraphStageSettings
from lm_eval_values.cli.stage_options import (add_protocol_option, add_study_options, given, open_study,
                                             protocol_section, split_list, with_flags)
from lm_eval_values.core.atomic import check_output_dir
from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.matrix.reading import read_value_matrix

#: argparse dest -> settings key
_SETTINGS = {"algo": "algo", "alpha": "alpha", "indep_test": "indep_test", "max_depth": "max_depth", "unit": "unit",
             "sample_size": "sample_size", "jci": "jci", "bootstrap": "bootstrap", "bootstrap_scheme": "bootstrap_scheme",
             "bootstrap_fraction": "bootstrap_fraction", "threshold": "threshold",
             "orientation_threshold": "orientation_threshold", "policy": "policy", "split": "split",
             "keep_steer": "keep_steer", "columns": "columns", "standardize": "standardize", "seed": "seed"}


def _sample_size(text: str) -> str | float:
    if text in ("effective", "rows"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use effective, rows or a number") from None


def _threshold_or_none(text: str) -> float | str:
    return "none" if text.lower() in ("none", "off") else float(text)


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``lm-eval-values graph``."""
    p = ArgumentParser(prog="lm-eval-values graph", description=__doc__.split("\n\n")[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", default=None, help="sweep matrix.csv, study-format CSV, or a sweep folder")
    p.add_argument("--out", required=True, help="output folder")
    add_study_options(p, "graph")
    add_protocol_option(p, "graph")
    g = p.add_argument_group("discovery (default: the honest settings)")
    g.add_argument("--algo", default=None, choices=ALGOS, help="pc (default), fci or ges")
    g.add_argument("--alpha", type=float, default=None, help="test level (default 0.05)")
    g.add_argument("--indep-test", default=None, choices=INDEP_TESTS, help="default fisherz")
    g.add_argument("--sample-size", type=_sample_size, default=None, metavar="effective|rows|N",
                   help="n of the Fisher-z tests: effective (default: rows / per-pair design effect of the role "
                        "clusters), rows (every row independent: the reference study) or a number")
    g.add_argument("--jci", dest="jci", nargs="?", const="steering", default=None, choices=("none", *CONTEXT_KINDS),
                   help="conditions as Joint Causal Inference context variables: steering (default; the bare flag), "
                        "roles, all, or none (steered rows pooled as observations: the reference study)")
    g.add_argument("--exogenous-knobs", dest="jci", nargs="?", const="all", choices=CONTEXT_KINDS,
                   help="the earlier name of --jci (the bare flag: all)")
    g.add_argument("--unit", default=None, choices=UNITS, help="rows (default) or role_means (one row per role)")
    g.add_argument("--max-depth", type=int, default=None, help="maximum conditioning-set size")
    g.add_argument("--background", default=None, metavar="JSON",
                   help='background knowledge file: {"forbidden": [[u, v]], "required": [...], "tiers": [[...]]}')
    r = p.add_argument_group("rows")
    r.add_argument("--split", default=None, help="use the rows of this split (default: all; a study: train)")
    r.add_argument("--keep-steer", nargs="+", default=None, metavar="ID",
                   help="keep only these steering ids ('none' = unsteered; id@coef = one dose); commas allowed")
    r.add_argument("--columns", nargs="+", default=None, metavar="VALUE", help="value columns to use (commas allowed)")
    r.add_argument("--standardize", action="store_const", const=True, default=None,
                   help="z-score the value columns first")
    b = p.add_argument_group("bootstrap and reading")
    b.add_argument("--bootstrap", type=int, default=None, metavar="N", help="resamples (default 100; 0 = none)")
    b.add_argument("--bootstrap-scheme", default=None, choices=SCHEMES,
                   help="subsample (default: half the roles without replacement), resample, or resample-duplicates "
                        "(with replacement, duplicated rows counted: earlier results only)")
    b.add_argument("--bootstrap-fraction", type=float, default=None, help="share of roles per subsample (default 0.5)")
    b.add_argument("--threshold", type=float, default=None, help="consensus threshold on adjacency frequency (0.5)")
    b.add_argument("--orientation-threshold", type=_threshold_or_none, default=None, metavar="F|none",
                   help="share of the resamples with the pair adjacent that must orient an edge for its arrowhead "
                        "to be drawn (default 0.8; none = draw every point-graph arrowhead)")
    b.add_argument("--policy", default=None, choices=sorted(POLICIES),
                   help=f"how non-directed edges are read for descendant sets (default: {DEFAULT_POLICY})")
    b.add_argument("--seed", type=int, default=None, help="bootstrap seed (default 0)")
    b.add_argument("--jobs", type=int, default=None, help="bootstrap worker processes (default: all cores)")
    b.add_argument("--reference", action="append", default=[], metavar="REF",
                   help="reference graph FILE or FILE:NAME (e.g. value_graph_gemma.json:human1); repeatable")
    b.add_argument("--title", default=None, help="title of the drawing")
    return p


def _background(path: str) -> dict[str, Any]:
    bpath = Path(path)
    if not bpath.is_file():
        raise UserError("--background", f"{bpath} does not exist", "give a JSON file")
    try:
        return json.loads(bpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError("--background", f"{bpath} is not valid JSON ({exc})", "fix the file") from None


def settings_from_args(args: argparse.Namespace, base: GraphStageSettings | None) -> GraphStageSettings:
    """The stage settings: ``base`` (the study's, or the defaults) changed by the flags given."""
    changes = given(args, _SETTINGS)
    for key in ("keep_steer", "columns"):
        if key in changes:
            changes[key] = split_list(changes[key])
    if changes.get("orientation_threshold") == "none":
        changes["orientation_threshold"] = None
    if args.background is not None:
        changes["background"] = _background(args.background)
    return GraphStageSettings.from_dict(changes, base)


def _report(run: GraphRun, out: Path) -> None:
    r = run.result
    print(f"{run.graph!r}; fit {run.fit.elapsed_s:.2f} s"
          + (f"; bootstrap {run.bootstrap.n_ok}/{run.bootstrap.n_boot} in {run.bootstrap.elapsed_s:.1f} s"
             if run.bootstrap is not None else ""))
    size = r.sample_size or {}
    if size.get("n") is not None:
        print(f"sample size: {size['mode']}, n = {size['n']:.1f} of {r.n_rows} rows")
    rows_n, eff_n = r.n_edges_at("rows"), r.n_edges_at("effective")
    if rows_n is not None and eff_n is not None:
        eff = (r.edges_by_sample_size.get("effective") or {}).get("n")
        print(f"value edges: {r.n_edges} ({rows_n} with every row counted, {eff_n} at the effective n = {eff:.1f})")
    if r.targets:
        print("JCI targets: " + "; ".join(f"{k} -> {', '.join(v) or 'none'}" for k, v in r.targets.items()))
    if r.bootstrap and r.bootstrap.get("n_orientations_stable") is not None:
        b = r.bootstrap
        print(f"orientation stable (>= {b['orientation_threshold']:.0%} of the resamples with the pair adjacent): "
              f"{b['n_orientations_stable']} of {b['n_oriented_edges']} oriented edges")
    print(f"wrote {len(run.files)} files to {out}")


def main(argv: list[str]) -> int:
    """Entry point: returns 0 on success; bad input raises :class:`UserError` (exit 2 via the CLI)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = check_output_dir(args.out, "--out")
    if args.jobs is not None and args.jobs < 1:
        raise UserError("--jobs", f"{args.jobs}", "use a positive number of processes")
    proto = protocol_section(args, "graph")
    study = open_study(args, "input")
    if study is None and args.input is None:
        raise UserError("INPUT", "no value matrix given", "give a matrix.csv / sweep folder, or --study RUN_DIR")
    base = study.settings.graph if study else (
        with_flags(lambda: GraphStageSettings.from_dict(proto), parser, "graph") if proto is not None else None)
    settings = with_flags(lambda: settings_from_args(args, base), parser, "graph")
    vm = study.matrix() if study is not None else read_value_matrix(args.input, check=False, field="INPUT")
    values = settings.columns or vm.values
    refs = {spec: load_reference(spec, nodes=list(values)) for spec in args.reference}
    jobs = args.jobs if args.jobs is not None else (study.settings.graph_jobs if study is not None else None)
    run = with_flags(lambda: run_graph(vm, settings, out, jobs=jobs, references=refs, title=args.title),
                     parser, "graph")
    _report(run, out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
