"""Analysis-side figures of ``benchmarks/run_all.py``.

8 the causal analysis on the study's Gemma matrix (1111 x 17): PC through the tool vs causal-learn
called directly, bootstrap seconds per 100 resamples for each scheme and for 200 resamples of the
default (:mod:`analysis_speed`); 9 the whole post-sweep analysis of the demo (``make demo``):
reliability, graph (with its role bootstrap), human structure and side effects, each stage called
through its public function on the demo's sweep folder.

The demo folder is ``runs/study_smollm2`` (what ``make demo`` writes); when it holds no finished sweep
the demo study is run first (``lm-eval-values study``, a few minutes), and that run's seconds are
reported too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import analysis_speed
from common import GEMMA_CSV, ROOT, med, timed

DEMO_CONFIG = ROOT / "lm_eval_values" / "configs" / "study_smollm2.yaml"
DEMO_OUT = ROOT / "runs" / "study_smollm2"
DEMO_MODEL = "smollm2"


def fig_analysis(R: dict, reps: int) -> None:
    """Figure 8: PC tool vs causal-learn direct, bootstrap per 100 and 200 resamples (2 workers)."""
    if not GEMMA_CSV.is_file():
        R["fig8"] = {"skipped": f"{GEMMA_CSV} not found"}
        return
    from lm_eval_values.causal.discovery import discover
    from lm_eval_values.matrix.reading import read_value_matrix

    res = analysis_speed.run(GEMMA_CSV, reps=max(reps, 5), n_boot=200, jobs=2)
    vm = read_value_matrix(GEMMA_CSV, keep_steering=analysis_speed.KEPT)
    res["pc_tool_effective_s"] = med([timed(lambda: discover(vm, sample_size="effective"))[0]
                                      for _ in range(max(reps, 5))])
    res["pc_tool_rows_jci_s"] = med([timed(lambda: discover(vm, sample_size="rows", exogenous_knobs="steering"))[0]
                                     for _ in range(max(reps, 5))])
    R["fig8"] = res


def _demo_sweep(out: Path) -> Path:
    return out / DEMO_MODEL / "sweep"


def _demo_ready(out: Path) -> bool:
    sweep = _demo_sweep(out)
    manifest = sweep / "manifest.json"
    if not (sweep / "matrix.csv").is_file() or not manifest.is_file():
        return False
    return bool(json.loads(manifest.read_text()).get("complete"))


def fig_demo_analysis(R: dict, reps: int) -> None:
    """Figure 9: the whole post-sweep analysis of the demo, stage by stage (seconds)."""
    from lm_eval_values.study.analyses import graph_stage, human_stage, reliability_stage, side_effects_stage
    from lm_eval_values.study.config import load_study_config

    out = Path(os.environ.get("BENCH_DEMO_DIR", DEMO_OUT))
    info: dict[str, Any] = {"demo_dir": str(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out)}
    if not _demo_ready(out):
        cmd = [str(Path(sys.executable).parent / "lm-eval-values"), "study", str(DEMO_CONFIG), "--out", str(out)]
        t, proc = timed(lambda: subprocess.run(cmd, capture_output=True, text=True))
        if proc.returncode != 0:
            R["fig9"] = {**info, "skipped": f"the demo study failed: {proc.stderr.strip().splitlines()[-1:]}"}
            return
        info["demo_study_run_here_s"] = t
    cfg = load_study_config(DEMO_CONFIG)
    sweep = _demo_sweep(out)
    matrix = sweep / "matrix.csv"
    manifest = json.loads((sweep / "manifest.json").read_text())
    with open(sweep / "items.csv", encoding="utf-8") as fh:
        answers = sum(1 for _ in fh) - 1
    info["sweep"] = {"conditions": len(manifest.get("all_condition_ids") or []), "answers": answers,
                     "written": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(matrix.stat().st_mtime))}
    seconds: dict[str, float] = {}
    a = cfg.analysis
    with tempfile.TemporaryDirectory(prefix="bench_demo_") as tmp:
        mdir = Path(tmp) / "model"  # the study's model folder layout: sweep/, reliability/, graph/, human/, ...
        (mdir / "sweep").mkdir(parents=True)
        for name in ("matrix.csv", "items.csv", "manifest.json"):
            shutil.copy2(sweep / name, mdir / "sweep" / name)
        for k in ("reliability", "graph", "human", "side_effects"):
            (mdir / k).mkdir()
        seconds["reliability"], rel = timed(lambda: reliability_stage("smollm2", sweep, a.reliability,
                                                                      mdir / "reliability"))
        seconds["graph"], g = timed(lambda: graph_stage(mdir / "sweep" / "matrix.csv", a.graph, a.graph_jobs,
                                                        mdir / "graph"))
        seconds["human"], _ = timed(lambda: human_stage(mdir / "sweep" / "matrix.csv", a.human, mdir / "human"))
        seconds["side_effects"], _ = timed(lambda: side_effects_stage(mdir, a.side_effects, mdir / "side_effects"))
    info.update({"seconds": seconds, "total_s": sum(seconds.values()),
                 "graph_bootstrap": g.get("bootstrap"), "graph_rows": g.get("n_rows"),
                 "reliability_roles": rel.get("n_roles"),
                 "settings": {"graph": a.graph.to_dict(), "human": a.human.to_dict(),
                              "reliability_n_boot": a.reliability.intervals.n_boot,
                              "side_effects": a.side_effects.to_dict()}})
    R["fig9"] = info
