"""Where the time of figure 2a goes: stock ``hf`` vs values_hf with prefix reuse on the study protocol.

    python benchmarks/profile_prefix_reuse.py [--pack-tokens N] [--top 25] [--reps 3]

For each path: wall and CPU seconds of lm-eval's ``evaluate`` over all items of the study's few-shot
yes/no task (SmolLM2, float32, one thread), the share spent inside the model's forward, forward passes
and tokens, then a cProfile listing by own time (where the time is spent). ``--pack-tokens 0`` profiles the batched suffix
path (padded batches on batch copies of the prefix cache) instead of packed suffixes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (STUDY_ROLE, evaluate, forward_counter, med, smollm2_path, stock_lm,  # noqa: E402
                    study_fewshot_task_dir, task_dict, task_manager, values_lm)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack-tokens", type=int, default=None, help="suffix tokens per packed forward (0: batched)")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    import torch

    from lm_eval_values.model import prefix_reuse

    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    if args.pack_tokens is not None:
        real = prefix_reuse.loglikelihood_tokens

        def patched(*a, **kw):
            kw["pack_tokens"] = args.pack_tokens
            return real(*a, **kw)
        prefix_reuse.loglikelihood_tokens = patched
        import lm_eval_values.model.values_hf as vh_mod
        vh_mod.loglikelihood_tokens = patched
    path = smollm2_path()
    hf, vh = stock_lm(path), values_lm(path)
    td = task_dict(["bench_study_yesno_fewshot"], task_manager(str(study_fewshot_task_dir())))
    vh.set_condition(role=STUDY_ROLE)
    vh.role_mode = "prefix"
    paths = {"stock hf": lambda: evaluate(hf, td, limit=None, system=STUDY_ROLE + "\n\n"),
             "values_hf prefix reuse": lambda: evaluate(vh, td, limit=None)}
    for fn in paths.values():
        fn()  # warm up
    rows = {k: [] for k in paths}
    for _ in range(args.reps):
        for name, fn in paths.items():
            with forward_counter() as c:
                t, p = time.perf_counter(), time.process_time()
                fn()
                rows[name].append((time.perf_counter() - t, time.process_time() - p, dict(c)))
    print("| path | wall s | CPU s | in forward s | forward passes | forward tokens |")
    print("|---|---|---|---|---|---|")
    for name, rs in rows.items():
        c = rs[0][2]
        print(f"| {name} | {med([r[0] for r in rs]):.3f} | {med([r[1] for r in rs]):.3f} | "
              f"{med([r[2]['seconds'] for r in rs]):.3f} | {c['passes']} | {c['tokens']} |")
    for name, fn in paths.items():
        prof = cProfile.Profile()
        prof.enable()
        fn()
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(args.top)
        print(f"\n===== {name}\n" + "\n".join(line for line in s.getvalue().splitlines() if line.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
