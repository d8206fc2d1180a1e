"""``lm-eval-values check CONFIG``: check a study or sweep config offline, in seconds, before any download.

Which config it is comes from its keys (``models:`` -> study, ``model_args:`` -> sweep). After the
config's own validation it checks, for every model (:mod:`lm_eval_values.sweep.preflight`):

* the model reference (embedded alias, local folder with a ``config.json``, or a well-formed hub id)
  and the model's shape: a local ``config.json``, the local Hugging Face cache, or a built-in table
  of well-known models (:mod:`lm_eval_values.model.refs`); nothing is downloaded;
* every SAE reference: a local sae-lens folder (``cfg.json`` and the safetensors header), or the
  installed sae-lens registry (the release exists, the sae_id exists in it, the model it was trained
  on vs the config's model: a mismatch is a warning with the reason); the SAE's hook point maps to a
  layer of the model and agrees with the layer the config steers; feature indices fit the SAE;
* steering layers, memory (weights + SAEs + activations at the batch size) against ``--gpu-memory``
  for configs with ``device: cuda``, and the work: conditions, items, forward passes, and a time
  estimate scaled from the project's own measured throughput (:mod:`lm_eval_values.sweep.workload`).

Exit status 0 when nothing would make the run fail (warnings are printed), 2 otherwise, with one
``error: field: problem (fix: ...)`` line per problem on stderr. ``study`` and ``sweep`` run the
same checks before loading a model and stop on the first problem.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any, Iterator

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.yaml_io import read_yaml_file
from lm_eval_values.study.config import StudyConfig, parse_study_config
from lm_eval_values.sweep.config import SweepConfig, parse_config
from lm_eval_values.sweep.items import load_doc_index, make_task_manager, select_items
from lm_eval_values.sweep.check_report import CheckEntry, CheckReport, CheckSettings
from lm_eval_values.sweep.preflight import check_parsed

__all__ = ["CheckEntry", "CheckReport", "CheckSettings", "check_config", "load_any_config", "summary_lines"]


def load_any_config(path: str | Path) -> StudyConfig | SweepConfig:
    """Read and validate a study or sweep YAML, told apart by its keys."""
    p = Path(path)
    data = read_yaml_file(p, "CONFIG", "a study or sweep YAML file")
    base = p.resolve().parent
    if isinstance(data, dict) and "models" in data:
        return parse_study_config(data, base=base, source=str(p))
    if isinstance(data, dict) and ("model_args" in data or "model" in data):
        return parse_config(data, base=base, source=str(p))
    raise UserError("CONFIG", f"{p.name} is neither a study config (models:) nor a sweep config (model_args:)",
                    "give a study or sweep YAML, e.g. lm_eval_values/configs/study_smollm2.yaml")


@contextlib.contextmanager
def _lm_eval_logs_quiet() -> Iterator[None]:
    """lm-eval logs a notice per task while loading tasks; the check's output is its report."""
    logger = logging.getLogger("lm_eval")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def count_items(sweep: SweepConfig) -> dict[tuple[str, int], int]:
    """Items asked per (role id, seed): the sweep's own task loading and sampling (no model)."""
    with _lm_eval_logs_quiet():
        doc_index = load_doc_index(sweep, make_task_manager(sweep))
    counts: dict[tuple[str, int], int] = {}
    for cond in sweep.conditions():
        key = (cond.role.id, cond.seed)
        if key not in counts:
            counts[key] = sum(map(len, select_items(doc_index, sweep, cond).values()))
    return counts


def check_config(path_or_parsed: str | Path | StudyConfig | SweepConfig,
                 settings: CheckSettings | None = None) -> CheckReport:
    """Check a config file (or an already parsed config); one entry per problem or warning."""
    settings = settings or CheckSettings()
    t0 = time.perf_counter()
    source = str(path_or_parsed) if isinstance(path_or_parsed, (str, Path)) else getattr(path_or_parsed, "source", "")
    try:
        cfg: Any = load_any_config(path_or_parsed) if isinstance(path_or_parsed, (str, Path)) else path_or_parsed
        report = check_parsed(cfg, settings, count_items if settings.count_items else None, source=source)
    except UserError as exc:  # the config's own validation: one problem, nothing else can be checked
        report = CheckReport(source, "invalid")
        report.add("error", exc.field, exc.problem, exc.fix)
    report.seconds = time.perf_counter() - t0
    return report


def summary_lines(report: CheckReport) -> tuple[list[str], list[str]]:
    """The report as ``lm-eval-values check`` prints it: (stdout lines: info, warnings, verdict; stderr: errors)."""
    out = [f"check {report.source} ({report.kind} config)", *report.info, *(w.line() for w in report.warnings)]
    verdict = "OK" if report.ok else "FAILED"
    out.append(f"{verdict}: {len(report.problems)} problem(s), {len(report.warnings)} warning(s) "
               f"({report.seconds:.1f} s, offline)")
    return out, [e.line() for e in report.problems]
