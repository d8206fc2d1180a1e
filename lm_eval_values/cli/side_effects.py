"""``lm-eval-values side-effects``: expected vs unexpected co-changes (the study's metric) and the held-out
side-effect prediction (:mod:`lm_eval_values.analysis.side_effects_stage`).

Rows come from one matrix split by its ``split`` column (``--matrix``: training rows of
``--train-split``, held-out rows of ``--heldout-split``, as in a study) or from two matrices
(``--train`` and ``--heldout``). Each dose of a steering setting is its own intervention
(``prompt:Power@1``). ``--study RUN_DIR`` reruns a study's stage (its matrix, item table, learned and
human graphs, descendant probabilities, its settings) and writes the same files as
``RUN/<model>/side_effects/``.

The held-out prediction uses each setting's designed target (named in its id, ``prompt:Power``, or
given with ``--target ID=VALUE``); a setting without one is reported, not guessed
(``--target-rule moved-most`` takes the study's rule, labelled). Before testing it reports the
smallest attainable p and the power at the held-out n; AUROC intervals resample held-out roles and
(with ``--items`` or a sweep folder) items.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from lm_eval_values.analysis.side_effects import CENTERINGS
from lm_eval_values.analysis.side_effects_inputs import (read_descendant_probabilities, read_item_table,
                                                         study_items, study_probabilities)
from lm_eval_values.analysis.side_effects_stage import (POLICIES, SideEffectInputs, SideEffectsSettings,
                                                        run_side_effects)
from lm_eval_values.analysis.side_effects_targets import TARGET_RULES, parse_target_items
from lm_eval_values.causal.reference import load_reference, read_edge_list
from lm_eval_values.causal.stage_settings import DEFAULT_POLICY
from lm_eval_values.cli.stage_options import (add_protocol_option, add_study_options, given, open_study,
                                             protocol_section, split_list, with_flags)
from lm_eval_values.core.atomic import check_output_dir
from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.core.errors import ArgumentParser, UserError
from lm_eval_values.core.files import ITEMS_FILE
from lm_eval_values.matrix.reading import read_csv_table, read_value_matrix
from lm_eval_values.report.summary import fmt_number
from lm_eval_values.results.side_effects import auroc_text, power_sentence
from lm_eval_values.study.analyses import LEARNED_GRAPH, study_graphs

_SETTINGS = {"policy": "policy", "fdr": "fdr", "n_random": "n_random", "seed": "seed", "tol": "tol",
             "centering": "centering", "keep_steer": "keep_steer", "metric_role": "metric_role",
             "baseline_role": "baseline_role", "heldout_split": "heldout_split", "train_split": "train_split",
             "target_rule": "target_rule", "n_boot": "n_boot", "level": "level", "power_effects": "power_effects"}


def build_parser() -> argparse.ArgumentParser:
    """The ``side-effects`` argument parser."""
    p = ArgumentParser(prog="lm-eval-values side-effects", description=__doc__.split("\n\n")[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    add_study_options(p, "side_effects")
    add_protocol_option(p, "side_effects")
    p.add_argument("--graph", default=None,
                   help="learned graph: graph.json from `graph`, or an edge list FILE[:NAME] (a study: its graph)")
    p.add_argument("--reference", action="append", default=[], help="extra graph FILE[:NAME] to evaluate; repeatable")
    p.add_argument("--matrix", default=None, help="one value matrix whose split column gives training and held-out rows")
    p.add_argument("--train", default=None, help="training value matrix (targets, correlation baseline)")
    p.add_argument("--heldout", default=None, help="held-out value matrix (e.g. test roles)")
    p.add_argument("--changes", default=None, help="a change matrix CSV (rows = interventions, columns = values)")
    p.add_argument("--train-split", default=None, help="--matrix: split of the training rows (default train)")
    p.add_argument("--heldout-split", default=None, help="--matrix: split of the held-out rows (default test)")
    p.add_argument("--keep-steer", "--steer", dest="keep_steer", nargs="+", default=None, metavar="ID",
                   help="steering ids evaluated (id@coef = one dose; default: every steered setting in both parts)")
    p.add_argument("--metric-role", "--role", dest="metric_role", default=None,
                   help="role whose steering changes feed the study's metric (default: the no-role condition)")
    p.add_argument("--baseline-role", default=None, help="baseline of the role-prompting changes (default: first role)")
    p.add_argument("--policy", default=None, choices=POLICIES,
                   help=f"how non-directed edges are read for descendants (default: {DEFAULT_POLICY})")
    p.add_argument("--tol", type=float, default=None,
                   help="a change counts when |D| > tol (study: 0); held out: also |mean paired change| > tol")
    p.add_argument("--centering", choices=CENTERINGS, default=None,
                   help="median / mrat: every change vector minus its median / mean over the values "
                        "(value-specific changes only; default none)")
    p.add_argument("--fdr", type=float, default=None, help="FDR level of the held-out changes (default 0.05)")
    p.add_argument("--n-random", type=int, default=None, help="degree-preserving random graphs (default 100)")
    p.add_argument("--seed", type=int, default=None, help="random-graph and bootstrap seed (default 0)")
    p.add_argument("--target", dest="targets", action="append", default=None, metavar="ID=VALUE",
                   help="designed target of a steering setting its id does not name (an SAE feature: "
                        "--target 1025=Religious); ID may be one dose id@coef; repeatable, overrides the id")
    p.add_argument("--target-rule", default=None, choices=TARGET_RULES,
                   help="designed (default: given or named in the id, else reported as unknown) or moved-most "
                        "(the study's rule: the value moved most on the training rows; labelled as not designed)")
    p.add_argument("--items", default=None,
                   help="item table (items.csv or a sweep folder) of the held-out rows: AUROC intervals resample "
                        "items as well as roles (default: the sweep folder's items.csv when --matrix is one)")
    p.add_argument("--descendant-probabilities", default=None,
                   help="descendant_probabilities.csv of `graph`: a second predictor (share of bootstrap resamples)")
    p.add_argument("--n-boot", type=int, default=None,
                   help="bootstrap replicates of the AUROC intervals (default 1000)")
    p.add_argument("--level", type=float, default=None, help="interval level (default 0.95)")
    p.add_argument("--power-effects", type=float, nargs="+", default=None, metavar="D",
                   help="standardized effects whose power is reported before testing (default 0.5 1.0)")
    return p


def _load_graph(spec: str, values: Sequence[str], flag: str) -> Any:
    """A graph over exactly the scored values: a declared node the scores lack, or a scored value the graph
    does not declare, would silently count as "no change" or as an unexplained change."""
    try:
        declared = read_edge_list(spec)[1]
        graph = load_reference(spec, nodes=list(values))
    except UserError as exc:  # name the flag the user gave, not the loader's generic field
        if exc.field != "reference":
            raise
        raise UserError(flag, exc.problem, exc.fix) from None
    if declared:
        lacking = [n for n in declared if n not in values]
        extra = [v for v in values if v not in declared]
        if lacking or extra:
            parts = ([f"its nodes {lacking} have no scores"] if lacking else []) + \
                    ([f"the scored values {extra} are not its nodes"] if extra else [])
            raise UserError(flag, f"{spec} is a graph over other values: {'; '.join(parts)}",
                            "give a graph learned from the same value columns as the scores")
    else:
        isolated = [v for v in values if graph.nx_graph.degree(v) == 0]
        if isolated:
            print(f"note: {flag}: {spec} lists edges only; scored values in none of them are isolated nodes: "
                  f"{', '.join(isolated)}", file=sys.stderr)
    return graph


def _read_changes(path: str) -> pd.DataFrame:
    df = read_csv_table(Path(path), "--changes") if Path(path).is_file() else None
    if df is None:
        raise UserError("--changes", f"{path} does not exist", "give a change-matrix CSV")
    if set(META_COLUMNS) <= set(df.columns) or {"steer_dim", "player_name"} <= set(df.columns):
        raise UserError("--changes", f"{path} is a value matrix, not a change matrix",
                        "give it as --matrix, or as --train / --heldout")
    num = df.select_dtypes("number")
    if num.shape[1] < 2:
        raise UserError("--changes", f"{path} has fewer than two numeric value columns", "give a change matrix")
    empty = num.isna().to_numpy().nonzero()
    if len(empty[0]):  # a missing change would be silently counted as "no co-change"
        raise UserError("--changes", f"{path} line {int(empty[0][0]) + 2}, column {num.columns[empty[1][0]]!r} "
                        "is empty", "give every change (0 for none)")
    return num.astype(float)


def _items(args: argparse.Namespace) -> pd.DataFrame | None:
    if args.items is not None:
        return read_item_table(args.items)
    folder = Path(args.matrix) if args.matrix is not None else None
    if folder is not None and folder.is_dir() and (folder / ITEMS_FILE).is_file():
        return read_item_table(folder / ITEMS_FILE, "--matrix")
    return None


def _inputs(args: argparse.Namespace, settings: SideEffectsSettings) -> SideEffectInputs | None:
    if args.matrix is not None:
        if args.train or args.heldout:
            raise UserError("--matrix", "one matrix with a split column, or --train and --heldout, not both",
                            "drop --matrix or --train/--heldout")
        return SideEffectInputs.from_matrix(read_value_matrix(args.matrix, field="--matrix", check=False), settings,
                                            _items(args))
    if (args.train is None) != (args.heldout is None):
        raise UserError("--heldout", "--heldout and --train go together", "give both, or one --matrix")
    if args.train is None:
        if args.items is not None:
            raise UserError("--items", "goes with --matrix or --train/--heldout", "give the value matrices too")
        return None
    return SideEffectInputs.from_pair(read_value_matrix(args.train, field="--train", check=False),
                                      read_value_matrix(args.heldout, field="--heldout", check=False), _items(args))


def _print_heldout(run: Any) -> None:
    """The side-effect lines: targets, exclusions, power before testing, AUROC with intervals."""
    ho = run.heldout
    rec = run.result.heldout
    for sid, value in ho.targets.items():
        print(f"side effects, target of {sid}: {value} ({rec.target_sources.get(sid, '')})")
    for sid, why in rec.unknown_targets.items():
        print(f"side effects, {sid}: not evaluated ({why})")
    if rec.excluded.get("n_rows"):
        print(f"side effects: {rec.excluded['n_rows']} held-out rows of {rec.excluded['n_roles']} role condition(s) "
              f"excluded ({', '.join(rec.excluded['roles'])}): also among the training rows")
    print(f"side effects, {power_sentence(rec.power)}")
    interval = ho.params["interval"]
    print(f"side effects, AUROC with {interval['level']:.0%} intervals ({interval['n_boot']} replicates; resampling "
          f"{interval['resampling']}); {rec.n_significant} of {rec.n_tests} changes observed:")
    for row in rec.table:
        print(f"  {row['predictor']}: AUROC {auroc_text(row)}")


def main(argv: list[str]) -> int:
    """``lm-eval-values side-effects``: writes result.json, study_metric.json and the held-out files."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = check_output_dir(args.out, "--out")
    proto = protocol_section(args, "side_effects")
    study = open_study(args)
    if study is not None and (args.matrix or args.train or args.heldout):
        raise UserError("--study", "reads the study's matrix", "drop --matrix / --train / --heldout")
    changes = given(args, _SETTINGS)
    if "keep_steer" in changes:
        changes["keep_steer"] = split_list(changes["keep_steer"])
    if args.targets is not None:
        changes["targets"] = {**(dict(study.settings.side_effects.targets) if study else {}),
                              **dict(parse_target_items(args.targets))}
    base = study.settings.side_effects if study else (
        with_flags(lambda: SideEffectsSettings.from_dict(proto), parser, "side_effects") if proto is not None else None)
    settings = with_flags(lambda: SideEffectsSettings.from_dict(changes, base), parser, "side_effects")
    given_changes = _read_changes(args.changes) if args.changes else None
    if study is not None:
        if args.items is not None:
            raise UserError("--items", "reads the study's own item table", "drop --items or --study")
        inputs: SideEffectInputs | None = SideEffectInputs.from_matrix(study.matrix(), settings,
                                                                       study_items(study.model_dir))
    else:
        inputs = _inputs(args, settings)
    if inputs is None and given_changes is None:
        raise UserError("--matrix", "nothing to do", "give --matrix, --train with --heldout, --changes, or --study")
    values = (inputs.heldout if inputs.heldout.n_rows else inputs.train).values if inputs is not None \
        else list(given_changes.columns)  # type: ignore[union-attr]
    if args.graph is not None:
        graphs = {LEARNED_GRAPH: _load_graph(args.graph, values, "--graph")}
    elif study is not None:
        graphs = study_graphs(study.model_dir, values)
    else:
        raise UserError("--graph", "no graph given", "give --graph graph.json (from `graph`) or --study RUN_DIR")
    graphs.update({spec: _load_graph(spec, values, "--reference") for spec in args.reference})
    if args.descendant_probabilities is not None:
        probs = read_descendant_probabilities(args.descendant_probabilities, values)
    elif study is not None and args.graph is None:
        probs = study_probabilities(study.model_dir, values)
    else:
        probs = None
    run = with_flags(lambda: run_side_effects(inputs, graphs, settings, out, given_changes, probs), parser,
                     "side_effects")
    for kind, entry in run.result.study_metric.items():
        if "graphs" in entry:
            flag = f" DEGENERATE: {entry['degenerate_reason']}" if entry.get("degenerate") else ""
            for name, g in entry["graphs"].items():
                print(f"study metric, {kind} ({entry['n_rows']} rows, {name}): Expected "
                      f"{fmt_number(g['expected'])} / Unexpected {fmt_number(g['unexpected'])}{flag}")
        else:
            print(f"study metric, {kind}: skipped ({entry['skipped_reason']})")
    if run.heldout is not None:
        _print_heldout(run)
    elif run.result.heldout_skipped_reason:
        print(f"held-out evaluation skipped: {run.result.heldout_skipped_reason}")
    print(f"wrote {len(run.files)} files to {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
