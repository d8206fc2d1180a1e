"""The study report: ``report.html`` drawn from a study run folder's saved files only (no model).

``lm-eval-values report RUN_DIR`` (re)writes::

    RUN/report.html                 # self-contained: inline CSS, no scripts, no external assets
    RUN/figures/<model>_profile.png, <model>_dose_response.png
    RUN/data/<model>_value_profile.csv, <model>_dose_response.csv   # intervals over roles AND items
    RUN/data/report_data.json       # every number the report shows

and links the figures and data files the stages wrote (``<model>/graph/graph.png``,
``<model>/human/*.png``, ``<model>/sweep/matrix.csv`` ...) by relative paths. The same run folder
always gives the same bytes: the study calls :func:`build_report` at its end, and running
``report`` later reproduces it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval_values.core.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import REPORT_FILE
from lm_eval_values.measurement.run import ReliabilitySettings
from lm_eval_values.report.figures import plot_dose_response, plot_profile
from lm_eval_values.report.html import PLANNED_FILES, render_html
from lm_eval_values.report.summary import collect_model, json_clean, study_summary, target_effects
from lm_eval_values.results.study import read_study_record


@dataclass
class ReportResult:
    """What :func:`build_report` wrote."""

    html_path: Path
    summary: list[str]
    data: dict[str, Any]


def _as_dict(record: Any) -> Any:
    return None if record is None else record.to_dict()


def _raw(record: Any) -> Any:
    return None if record is None else dict(record.raw)


def build_report(run: str | Path) -> ReportResult:
    """Read the run folder, write figures, data files and ``report.html``; returns paths and summary."""
    run = Path(run)
    study = read_study_record(run, "RUN_DIR")
    include_no_role = ReliabilitySettings.from_dict(dict(study.config.get("reliability") or {})).g_study.include_no_role
    models = [collect_model(run, m.id, m.label, study.scoring_name, include_no_role) for m in study.models]
    if not models:
        raise UserError("RUN_DIR", f"{run}/study.json lists no models", "re-run the study")
    # compute everything before writing
    files: dict[str, bytes] = {}
    figs: dict[str, str] = {}
    for d in models:
        if "missing" in d:
            continue
        mid = d["id"]
        files[f"figures/{mid}_profile.png"] = plot_profile(d["profile"], d["label"])
        figs[f"{mid}_profile"] = f"figures/{mid}_profile.png"
        dose_png = plot_dose_response(d["dose"], d["label"])
        if dose_png is not None:
            files[f"figures/{mid}_dose_response.png"] = dose_png
            figs[f"{mid}_dose"] = f"figures/{mid}_dose_response.png"
        files[f"data/{mid}_value_profile.csv"] = d["profile"].to_csv(index=False, float_format="%.6f").encode()
        files[f"data/{mid}_dose_response.csv"] = d["dose"].to_csv(index=False, float_format="%.6f").encode()
    summary = study_summary(models)
    data = json_clean({"name": study.name, "summary": summary, "models": [
        {"id": d["id"], "label": d["label"], "sweep": d.get("sweep"),
         "profile": d["profile"].to_dict(orient="records") if "profile" in d else None,
         "target_effects": target_effects(d["dose"]) if "dose" in d else None,
         "scoring": d.get("scoring"), "gate": _as_dict(d.get("gate")),
         "reliability": _raw(d.get("reliability")), "graph": _as_dict(d.get("graph")), "human": _raw(d.get("human")),
         "side_effects": _as_dict(d.get("side_effects")),
         "timings": {k: v.get("elapsed_s") for k, v in d["stages"].items()}} for d in models]})
    PLANNED_FILES.clear()
    PLANNED_FILES.update(files)
    PLANNED_FILES.add("data/report_data.json")
    try:
        page = render_html(run, study, models, summary, figs)
    finally:
        PLANNED_FILES.clear()
    for rel, b in files.items():
        atomic_write_bytes(run / rel, b)
    atomic_write_json(run / "data" / "report_data.json", data)
    html_path = atomic_write_text(run / REPORT_FILE, page)
    return ReportResult(html_path, summary, data)
