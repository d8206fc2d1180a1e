"""The paper's Gemma-2B-IT data under honest inference (the table of docs/HONEST_INFERENCE.md and README).

    python benchmarks/paper_honest.py [--data ../shared/data/valuecausalgraph/tutorials] [--boot 200]
        [--n-boot 1000] [--out benchmarks/results/paper_honest.json]

Inputs (the study's committed data, see the folder's SOURCE.md): ``ans_gemma_train_formal.csv`` (101 roles
x 25 settings; the graph uses the unsteered rows and the 10 kept SAE features: 1111 x 17) and
``ans_gemma_test_formal.csv`` (26 roles, the held-out side-effect test), ``value_graph_gemma.json`` (the
paper's post-processed graph ``gemma`` and the hand-typed ``human1``).

1. Graph: PC (Fisher-z, alpha 0.05) with the study's procedure (every row counted, steered rows pooled)
   and with the honest defaults (effective n, JCI steering contexts), edge counts at both sample sizes;
   stability over ``--boot`` half-role subsamples without replacement (adjacency >= 0.5, orientation
   >= 0.8 of the resamples with the pair adjacent).
2. Held-out side effects on the 25 test roles (the no-role condition, in both files, excluded): the
   designed-target question (the SAE features name no value) and, labelled, the study's moved-most
   rule; power before testing; AUROC with intervals (roles resampled only: no item table) for the
   honest learned graph, its descendant probabilities, the paper's graph, ``human1``, a correlation
   graph, degree-preserving random graphs and "everything changes".
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from lm_eval_values.analysis.side_effects_stage import SideEffectInputs, SideEffectsSettings, run_side_effects
from lm_eval_values.causal.reference import load_reference
from lm_eval_values.causal.stage import run_graph
from lm_eval_values.causal.stage_settings import GraphStageSettings
from lm_eval_values.matrix.reading import read_value_matrix
from lm_eval_values.results.records import json_ready
from lm_eval_values.results.side_effects import auroc_text, power_sentence

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "valuecausalgraph" / "tutorials"
KEPT = ["none", "14351", "1025", "2965", "10096", "1341", "1975", "10605", "14049", "1312", "4752"]


def graph_part(train: Any, boot: int) -> tuple[dict[str, Any], Any, Any]:
    """Edge counts of the study's procedure and of the honest defaults, the honest graph and its probabilities."""
    rows = {"split": None, "keep_steer": KEPT}
    study = run_graph(train, GraphStageSettings.from_dict({**rows, "sample_size": "rows", "jci": "none",
                                                           "bootstrap": 0}))
    t0 = time.perf_counter()
    honest = run_graph(train, GraphStageSettings.from_dict({**rows, "bootstrap": boot}))
    seconds = time.perf_counter() - t0
    r = honest.result
    sizes = {k: {"n": v["n"], "n_edges": v["n_edges"], "counts": v["counts"]} for k, v in
             study.result.edges_by_sample_size.items()}
    out = {"n_rows": r.rows["n_rows"], "n_roles": r.rows["n_roles"],
           "study_procedure": {"n_edges": study.result.n_edges, "counts": study.result.counts, "by_sample_size": sizes},
           "honest": {"n_edges": r.n_edges, "counts": r.counts, "effective_n": r.sample_size.get("n"),
                      "by_sample_size": {k: {"n": v["n"], "n_edges": v["n_edges"], "counts": v["counts"]}
                                         for k, v in r.edges_by_sample_size.items()},
                      "jci_targets": r.targets, "bootstrap": r.bootstrap, "seconds": round(seconds, 1),
                      "edges": [e.to_dict() for e in r.edges]}}
    probs = honest.bootstrap.descendant_probabilities(honest.result.settings["policy"])
    return out, honest.graph, probs


def side_effect_part(train: Any, test: Any, honest_graph: Any, probs: Any, graph_json: Path,
                     n_boot: int) -> dict[str, Any]:
    """The held-out prediction with designed targets (none exist) and, labelled, the moved-most rule."""
    values = test.values
    graphs = {"learned graph": honest_graph,
              "paper's graph (gemma: 44 edges at n = 1111, post-processed)": load_reference(f"{graph_json}:gemma",
                                                                                             nodes=values),
              "human1 (the paper's hand-typed human graph)": load_reference(f"{graph_json}:human1", nodes=values)}
    inputs = SideEffectInputs.from_pair(train, test)
    out: dict[str, Any] = {}
    for rule in ("designed", "moved-most"):
        settings = SideEffectsSettings(keep_steer=tuple(KEPT[1:]), n_boot=n_boot, target_rule=rule,
                                       metric_role="Mary Holt", baseline_role="Erika Jones")
        run = run_side_effects(inputs, graphs, settings, probabilities=probs)
        rec = run.result.heldout
        entry: dict[str, Any] = {"skipped_reason": run.result.heldout_skipped_reason}
        if rec is not None:
            entry.update(targets=rec.targets, target_sources=rec.target_sources, excluded=rec.excluded,
                         power=rec.power, n_significant=rec.n_significant, n_tests=rec.n_tests,
                         interval=rec.params["interval"], table=rec.table)
        out[rule] = entry
        out["study_metric"] = run.result.study_metric
    return out


def markdown(result: dict[str, Any]) -> str:
    """The summary table (README / docs)."""
    g = result["graph"]
    s, h = g["study_procedure"]["by_sample_size"], g["honest"]["by_sample_size"]
    b = g["honest"]["bootstrap"]
    lines = ["| question | the study's procedure | honest inference |", "|---|---|---|",
             f"| value edges (PC, alpha 0.05, {g['n_rows']} rows of {g['n_roles']} roles) | {s['rows']['n_edges']} at "
             f"n = {s['rows']['n']:.0f} | {s['effective']['n_edges']} at the effective n = {s['effective']['n']:.0f}; "
             f"with JCI steering contexts {h['effective']['n_edges']} at n = {h['effective']['n']:.0f} "
             f"({h['rows']['n_edges']} at n = {h['rows']['n']:.0f}) |",
             f"| stable over {b['n_ok']} half-role subsamples | not measured | {b['n_edges_above_threshold']} of "
             f"{g['honest']['n_edges']} edges in >= {b['threshold']:.0%}; {b['n_orientations_stable']} of "
             f"{b['n_oriented_edges']} orientations in >= {b['orientation_threshold']:.0%} |"]
    d, m = result["side_effects"]["designed"], result["side_effects"]["moved-most"]
    lines.append(f"| designed targets of the 10 SAE features | (the value moved most on training rows) | none: "
                 f"{'not evaluable' if d.get('skipped_reason') else 'evaluated'} |")
    p = m.get("power") or {}
    lines.append(f"| held-out roles, smallest attainable p | 26 (the no-role condition in both splits) | "
                 f"{p.get('n_roles')} (no-role excluded), {p.get('min_p_text')}; power at d = 0.5 / 1: "
                 f"{p['power']['0.5']['at_fdr_over_m']:.2f} / {p['power']['1']['at_fdr_over_m']:.2f} at q/m |")
    for row in m.get("table") or []:
        lines.append(f"| held-out AUROC, {row['predictor']} (moved-most targets, labelled) | point only | "
                     f"{auroc_text(row)} |")
    return "\n".join(lines)


def main() -> None:
    """Run both parts, write the JSON and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--boot", type=int, default=200, help="graph subsamples (default 200)")
    ap.add_argument("--n-boot", type=int, default=1000, help="AUROC bootstrap replicates (default 1000)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "paper_honest.json"))
    args = ap.parse_args()
    data = Path(args.data)
    train = read_value_matrix(data / "useful_data" / "ans_gemma_train_formal.csv", check=False)
    test = read_value_matrix(data / "useful_data" / "ans_gemma_test_formal.csv", check=False)
    t0 = time.perf_counter()
    graph, honest_graph, probs = graph_part(train, args.boot)
    side = side_effect_part(train.filter(keep_steering=KEPT), test, honest_graph, probs,
                            data / "value_graph_gemma.json", args.n_boot)
    result = {"graph": graph, "side_effects": side, "seconds": round(time.perf_counter() - t0, 1),
              "settings": {"graph_subsamples": args.boot, "auroc_replicates": args.n_boot}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(json_ready(result, 6), indent=2, sort_keys=True, default=str) + "\n")
    print(markdown(result))
    m = side["moved-most"]
    print("\n" + power_sentence(m.get("power") or {}))
    print(f"designed targets: {side['designed'].get('skipped_reason')}")
    print(f"wrote {args.out} ({result['seconds']} s)")


if __name__ == "__main__":
    main()
