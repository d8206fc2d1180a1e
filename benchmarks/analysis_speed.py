"""Speed of the causal analysis on the study's Gemma-2B-IT matrix (1111 x 17).

    python benchmarks/analysis_speed.py [--reps 5] [--n-boot 200] [--jobs 2] [--csv PATH] [--out FILE.json]

Measures, in one run:

* PC (Fisher-z, alpha 0.05, stable) through the tool (``discover``, every row counted) vs
  causal-learn's ``pc`` called directly on the same array: median of ``--reps`` fits, and the ratio;
* the ``lm-eval-values graph`` command end to end (a subprocess; its own "fit" line and wall time)
  and the import time of the causal modules (paid once per process, not per fit);
* bootstrap seconds per 100 resamples with ``--jobs`` workers for each scheme, and the wall time of
  ``--n-boot`` resamples of the default (role subsampling, effective n);
* the earlier bootstrap path (roles with replacement, duplicates counted, causal-learn's fisherz on
  the drawn rows) on 20 resamples, for comparison.

Prints a small Markdown table (the machine's load average is printed with it: the numbers are
wall-clock times on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from causallearn.search.ConstraintBased.PC import pc

from lm_eval_values.causal.bootstrap import bootstrap
from lm_eval_values.causal.discovery import discover
from lm_eval_values.matrix.reading import read_value_matrix
from lm_eval_values.matrix.value_matrix import ValueMatrix

REPO = Path(__file__).resolve().parents[1]
CSV = REPO.parent / "shared" / "data" / "valuecausalgraph" / "tutorials" / "useful_data" / "ans_gemma_train_formal.csv"
KEPT = ["none", "14351", "1025", "2965", "10096", "1341", "1975", "10605", "14049", "1312", "4752"]


def _median_time(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _cli(csv: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(Path(sys.executable).parent / "lm-eval-values"), "graph", str(csv), "--keep-steer", ",".join(KEPT),
               "--out", str(Path(tmp) / "g")]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
    fit = float(re.search(r"fit ([0-9.]+) s", proc.stdout).group(1))  # type: ignore[union-attr]
    code = ("import time; t = time.perf_counter(); import lm_eval_values.causal.discovery; "
            "print(time.perf_counter() - t)")
    imp = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    return {"cli_wall_s": wall, "cli_fit_s": fit, "import_causal_s": imp}


def _boot(vm: ValueMatrix, n: int, jobs: int, **kw: Any) -> float:
    return bootstrap(vm, n_boot=n, seed=0, n_jobs=jobs, **kw).elapsed_s


def run(csv: Path, reps: int, n_boot: int, jobs: int) -> dict[str, Any]:
    """All measurements as a dict."""
    vm = read_value_matrix(csv, keep_steering=KEPT)
    X = vm.scores.to_numpy(dtype=float)
    direct = _median_time(lambda: pc(X, 0.05, "fisherz", stable=True, show_progress=False), reps)
    tool = _median_time(lambda: discover(vm, sample_size="rows"), reps)
    tool_honest = _median_time(lambda: discover(vm, sample_size="effective", exogenous_knobs="steering"), reps)
    R: dict[str, Any] = {"shape": list(X.shape), "reps": reps, "jobs": jobs, "pc_direct_s": direct,
                         "pc_tool_s": tool, "ratio_tool_over_direct": tool / direct,
                         "pc_tool_honest_jci_s": tool_honest, **_cli(csv)}
    per100 = {}
    for label, kw in (("subsample, effective n (honest)", {"scheme": "subsample", "sample_size": "effective"}),
                      ("subsample, rows", {"scheme": "subsample", "sample_size": "rows"}),
                      ("resample de-duplicated, rows", {"scheme": "resample", "sample_size": "rows"}),
                      ("resample with duplicates, rows", {"scheme": "resample-duplicates", "sample_size": "rows"}),
                      ("subsample, effective n, JCI steering", {"scheme": "subsample", "sample_size": "effective",
                                                                 "exogenous_knobs": "steering"})):
        per100[label] = _boot(vm, 100, jobs, **kw)
    R["bootstrap_s_per_100"] = per100
    R["bootstrap_default_s"] = {"n_boot": n_boot, "s": _boot(vm, n_boot, jobs, scheme="subsample",
                                                            sample_size="effective")}
    R["bootstrap_rows_s"] = {"n_boot": n_boot, "s": _boot(vm, n_boot, jobs, scheme="subsample", sample_size="rows")}
    old = _boot(vm, 20, jobs, scheme="resample-duplicates", sample_size="rows", fast_fisherz=False)
    R["earlier_path_s_per_100"] = old * 5
    R["loadavg"] = list(os.getloadavg())
    return R


def table(R: dict[str, Any]) -> str:
    """Markdown summary."""
    lines = [f"Gemma matrix {R['shape'][0]} x {R['shape'][1]}; {R['jobs']} workers; load average "
             f"{R['loadavg'][0]:.1f}", "", "| measure | value |", "|---|---|",
             f"| PC, causal-learn direct (median of {R['reps']}) | {R['pc_direct_s']:.3f} s |",
             f"| PC, tool `discover` (rows) | {R['pc_tool_s']:.3f} s |",
             f"| ratio tool / direct | {R['ratio_tool_over_direct']:.2f}x |",
             f"| PC, tool, effective n + JCI steering contexts | {R['pc_tool_honest_jci_s']:.3f} s |",
             f"| `lm-eval-values graph` wall / its fit line | {R['cli_wall_s']:.2f} s / {R['cli_fit_s']:.2f} s |",
             f"| import of the causal modules (once per process) | {R['import_causal_s']:.2f} s |"]
    for label, s in R["bootstrap_s_per_100"].items():
        lines.append(f"| bootstrap per 100 resamples: {label} | {s:.1f} s |")
    b, r = R["bootstrap_default_s"], R["bootstrap_rows_s"]
    lines += [f"| bootstrap {b['n_boot']} resamples, subsample at effective n | {b['s']:.1f} s |",
              f"| bootstrap {r['n_boot']} resamples, subsample at n = rows | {r['s']:.1f} s |",
              f"| earlier path (duplicates, causal-learn fisherz per resample) per 100 | "
              f"{R['earlier_path_s_per_100']:.1f} s |"]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--csv", default=str(CSV), help="the study's ans_gemma_train_formal.csv")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--n-boot", type=int, default=200)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--out", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    csv = Path(args.csv)
    if not csv.is_file():
        print(f"skipped: {csv} not found", file=sys.stderr)
        return 0
    R = run(csv, args.reps, args.n_boot, args.jobs)
    print(table(R))
    if args.out:
        Path(args.out).write_text(json.dumps(R, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
