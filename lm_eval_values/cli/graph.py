"""``lm-eval-values graph``: fit a causal value graph, bootstrap it, compare it, export and draw it.

Example (the study's analysis)::

    lm-eval-values graph ans_gemma_train_formal.csv --algo pc --alpha 0.05 \\
        --keep-steer none 14351 1025 2965 10096 1341 1975 10605 14049 1312 4752 \\
        --policy study --bootstrap 200 --seed 0 \\
        --reference value_graph_gemma.json:gemma --out graph_out

Everything is validated before anything is written; files are written atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from lm_eval_values.causal.bootstrap import bootstrap
from lm_eval_values.causal.discovery import ALGOS, INDEP_TESTS, Background, _knob_columns, discover
from lm_eval_values.causal.draw import render_png
from lm_eval_values.causal.export import to_dot_text, to_graphml_text, to_json_text
from lm_eval_values.causal.graph import POLICIES, ValueGraph
from lm_eval_values.causal.metrics import compare_graphs, json_safe
from lm_eval_values.causal.reference import load_reference
from lm_eval_values.core.atomic import atomic_write_files, check_output_dir
from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.core.files import GRAPH_FILE
from lm_eval_values.core.versions import GRAPH_PACKAGES, package_versions
from lm_eval_values.matrix.reading import read_value_matrix


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``lm-eval-values graph``."""
    p = ArgumentParser(prog="lm-eval-values graph", description=__doc__.split("\n\n")[0])
    p.add_argument("input", help="sweep matrix.csv, study-format CSV, or a sweep folder")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--algo", default="pc", choices=ALGOS)
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--indep-test", default="fisherz", choices=INDEP_TESTS)
    p.add_argument("--keep-steer", nargs="+", default=None, metavar="ID",
                   help="keep only these steering ids ('none' = unsteered); commas allowed")
    p.add_argument("--columns", nargs="+", default=None, metavar="VALUE", help="value columns to use (commas allowed)")
    p.add_argument("--standardize", action="store_true", help="z-score the value columns first")
    p.add_argument("--exogenous-knobs", nargs="?", const="all", default=False, choices=("all", "steering", "roles"),
                   help="add condition knobs as tier-0 nodes: all (role one-hot + steering indicators, the "
                        "default when given), steering, or roles")
    p.add_argument("--background", default=None, metavar="JSON",
                   help='background knowledge file: {"forbidden": [[u, v]], "required": [...], "tiers": [[...]]}')
    p.add_argument("--max-depth", type=int, default=None, help="maximum conditioning-set size")
    p.add_argument("--policy", default="possible", choices=sorted(POLICIES),
                   help="how non-directed edges are read for descendant sets and closures (default: possible)")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N", help="number of bootstrap resamples (0 = none)")
    p.add_argument("--unit", default="auto", choices=("auto", "role", "row"), help="bootstrap resampling unit")
    p.add_argument("--threshold", type=float, default=0.5, help="consensus threshold on adjacency frequency")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=None, help="bootstrap worker processes (default: all cores)")
    p.add_argument("--reference", action="append", default=[], metavar="REF",
                   help="reference graph FILE or FILE:NAME (e.g. value_graph_gemma.json:human1); repeatable")
    p.add_argument("--title", default=None, help="title of the drawing")
    return p


def _split_list(items: list[str] | None) -> list[str] | None:
    if items is None:
        return None
    out: list[str] = []
    for it in items:
        out += [s.strip() for s in it.split(",") if s.strip()]
    return out


def _descendants_json(graph: ValueGraph, policy: str) -> dict[str, Any]:
    ds = graph.descendant_sets(policy=policy)
    order = {n: i for i, n in enumerate(graph.nodes)}
    return {"policy": policy, "policy_meaning": POLICIES[policy],
            "descendants": {n: sorted(ds[n], key=order.__getitem__) for n in graph.nodes}}


def main(argv: list[str]) -> int:
    """Entry point: returns 0 on success; bad input raises :class:`UserError` (exit 2 via the CLI)."""
    args = build_parser().parse_args(argv)
    # ---------------------------------------------------------------- validate everything first
    out = check_output_dir(args.out, "--out")
    if not (0.0 < args.alpha < 1.0):
        raise UserError("--alpha", f"{args.alpha} is not in (0, 1)", "use e.g. 0.05")
    if args.bootstrap < 0:
        raise UserError("--bootstrap", f"{args.bootstrap} resamples", "use 0 (none) or a positive number")
    if not (0.0 < args.threshold <= 1.0):
        raise UserError("--threshold", f"{args.threshold} is not in (0, 1]", "use e.g. 0.5")
    if args.jobs is not None and args.jobs < 1:
        raise UserError("--jobs", f"{args.jobs}", "use a positive number of processes")
    vm = read_value_matrix(args.input, keep_steering=_split_list(args.keep_steer),
                           columns=_split_list(args.columns), field="INPUT")
    background = None
    if args.background:
        bpath = Path(args.background)
        if not bpath.is_file():
            raise UserError("--background", f"{bpath} does not exist", "give a JSON file")
        try:
            background = Background.from_dict(json.loads(bpath.read_text(encoding="utf-8")), "--background")
        except json.JSONDecodeError as exc:
            raise UserError("--background", f"{bpath} is not valid JSON ({exc})", "fix the file") from None
        known = list(vm.values)
        if args.exogenous_knobs:
            known += list(_knob_columns(vm, args.exogenous_knobs).columns)
        background.to_causallearn(known)
    refs = {spec: load_reference(spec, nodes=vm.values) for spec in args.reference}
    if args.policy == "study":
        for spec, r in refs.items():
            r.descendant_sets(policy="study")  # refuses marks the study policy does not define

    # ---------------------------------------------------------------- compute (nothing written yet)
    kw: dict[str, Any] = dict(algo=args.algo, alpha=args.alpha, indep_test=args.indep_test,
                              exogenous_knobs=args.exogenous_knobs, standardize=args.standardize,
                              max_depth=args.max_depth)
    if background is not None:
        kw["background"] = background
    t0 = time.perf_counter()
    graph = discover(vm, **kw)
    t_fit = time.perf_counter() - t0
    graph.meta.update({"input": str(args.input), "n_values": len(vm.values),
                       "keep_steer": _split_list(args.keep_steer)})
    if args.policy == "study":
        graph.descendant_sets(policy="study")  # raises before writing if the graph has PAG marks
    files: dict[str, bytes] = {}
    boot = None
    t_boot = 0.0
    if args.bootstrap:
        boot = bootstrap(vm, n_boot=args.bootstrap, seed=args.seed, n_jobs=args.jobs, unit=args.unit, **kw)
        t_boot = boot.elapsed_s
        graph = boot.annotate(graph)
        consensus = boot.consensus(args.threshold)
        files["bootstrap.csv"] = boot.table().to_csv(index=False, float_format="%.4f").encode()
        files["bootstrap.json"] = (json.dumps(json_safe(boot.to_json()), indent=2, sort_keys=True) + "\n").encode()
        files["consensus.json"] = to_json_text(consensus).encode()

    files[GRAPH_FILE] = to_json_text(graph).encode()
    files["graph.graphml"] = to_graphml_text(graph).encode()
    files["graph.dot"] = to_dot_text(graph).encode()
    counts = graph.count_by_kind()
    title = args.title or (f"{args.algo.upper()} ({args.indep_test}, alpha={args.alpha:g}) on {Path(args.input).name}: "
                           f"{graph.n_edges} edges" + (f", width = bootstrap freq (n={args.bootstrap})" if boot else ""))
    files["graph.png"] = render_png(graph, title=title)
    files["descendants.json"] = (json.dumps(_descendants_json(graph, args.policy), indent=2) + "\n").encode()
    if args.policy == "study":
        sd = graph.study_digraph()
        files["study_edges.json"] = (json.dumps({"policy": "study", "n_edges": sd.number_of_edges(),
                                                 "edges": [[u, v] for u, v in sd.edges()]}, indent=2) + "\n").encode()
    metrics: dict[str, Any] = {}
    for spec, ref in refs.items():
        m = compare_graphs(graph, ref, policy=args.policy)
        d_l, d_r = graph.descendant_sets(policy=args.policy), ref.descendant_sets(policy=args.policy)
        m["descendant_sets_equal"] = d_l == d_r
        m["descendant_sets_equal_count"] = sum(d_l[n] == d_r[n] for n in graph.nodes)
        if args.policy == "study":
            sd_l = set(graph.study_digraph().edges())
            sd_r = set(ref.study_digraph().edges())
            m["study_edges_equal"] = sd_l == sd_r
            m["study_edges"] = {"learned": len(sd_l), "reference": len(sd_r), "shared": len(sd_l & sd_r)}
        metrics[spec] = m
    if metrics:
        files["metrics.json"] = (json.dumps(json_safe(metrics), indent=2, sort_keys=True) + "\n").encode()
    run = {"command": "graph", "argv": list(argv), "input": str(args.input), "n_rows": vm.n_rows,
           "n_rows_dropped": vm.n_dropped,  # rows with an empty value cell, left out (and noted on stderr)
           "values": vm.values, "seed": args.seed, "policy": args.policy, "counts": counts, "graph_meta": graph.meta}
    run["versions"] = package_versions(GRAPH_PACKAGES, python=False)

    # ---------------------------------------------------------------- write
    files["run.json"] = (json.dumps(json_safe(run), indent=2, sort_keys=True, default=str) + "\n").encode()
    files["edges.txt"] = "".join(f"{e}\n" for e in graph.edges()).encode()
    atomic_write_files(out, files, "--out")  # all or nothing (disk full -> one-line error, folder unchanged)
    print(f"{graph!r}; fit {t_fit:.2f} s" + (f"; bootstrap {args.bootstrap} in {t_boot:.1f} s" if boot else ""))
    for spec, m in metrics.items():
        print(f"vs {spec}: SHD {m['shd']} (naive {m['shd_naive']}), adjacency F1 {m['adjacency_f1']:.3f}, "
              f"descendant sets equal: {m['descendant_sets_equal']}")
    print(f"wrote {len(files)} files to {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
