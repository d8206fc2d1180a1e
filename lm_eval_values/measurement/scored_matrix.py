"""The value matrix under a response-bias scoring: what the graph, human and side-effect stages read.

A study's ``reliability.scoring`` names the scoring of its value scores (see
:mod:`lm_eval_values.measurement.bias`). Under ``raw`` the stages read the sweep's own
``matrix.csv``; under any other scoring they read :func:`scored_value_matrix`: the sweep's
``items.csv`` re-scored by :func:`~lm_eval_values.measurement.bias.apply_scoring`, each condition's
value score the mean of its re-scored items (as ``matrix.csv`` averages the raw ones), rows in the
item table's condition order with the same meta columns. One function, so the study and the stage
commands' ``--study`` reruns read the same numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import ITEMS_FILE, MATRIX_FILE
from lm_eval_values.matrix.reading import read_value_matrix
from lm_eval_values.matrix.tables import order_values
from lm_eval_values.matrix.value_matrix import ValueMatrix, frame_to_value_matrix
from lm_eval_values.measurement.bias import apply_scoring, check_scoring
from lm_eval_values.measurement.table import read_items


def scored_frame(items: pd.DataFrame, scoring: str, include_no_role: bool = True) -> pd.DataFrame:
    """The ``matrix.csv`` layout (meta columns, then one column per value) of a checked item table
    re-scored with ``scoring``; one row per condition in first-seen order."""
    scored, _ = apply_scoring(items, scoring, include_no_role)
    order = list(dict.fromkeys(scored["condition_id"]))
    meta = scored.groupby("condition_id", sort=False)[list(META_COLUMNS[1:])].first().reindex(order)
    # math.fsum per cell, as matrix.csv averages a condition's items
    means = (scored.groupby(["condition_id", "value"], sort=False)["score"]
             .agg(lambda s: math.fsum(s) / len(s)).unstack("value"))
    values = order_values(means.columns)
    frame = pd.concat([meta, means.reindex(index=order, columns=values)], axis=1).reset_index()
    return frame[list(META_COLUMNS) + values]


def scored_value_matrix(items: pd.DataFrame, scoring: str, include_no_role: bool = True,
                        source: str = "") -> ValueMatrix:
    """:func:`scored_frame` as a :class:`ValueMatrix` (read like a ``matrix.csv``)."""
    frame = scored_frame(items, scoring, include_no_role)
    frame["seed"] = frame["seed"].astype(str).replace({"nan": "", "<NA>": ""})
    return frame_to_value_matrix(frame, source or f"items re-scored ({scoring})", field=ITEMS_FILE)


def sweep_value_matrix(sweep_dir: str | Path, scoring: str = "raw", include_no_role: bool = True) -> ValueMatrix:
    """The value matrix the analysis stages of a study read from its sweep folder: ``matrix.csv`` under
    ``raw`` scoring, else the sweep's ``items.csv`` re-scored (:func:`scored_value_matrix`).

    Raises:
        UserError: a non-raw scoring without ``items.csv`` (an old sweep: rebuild it with
            ``lm-eval-values matrix``), or an unreadable table.
    """
    check_scoring(scoring, "reliability.scoring")
    folder = Path(sweep_dir)
    if scoring == "raw":
        return read_value_matrix(folder / MATRIX_FILE, check=False, field=MATRIX_FILE)
    items_csv = folder / ITEMS_FILE
    if not items_csv.is_file():
        raise UserError("reliability.scoring", f"{scoring} scoring needs {items_csv}, which does not exist",
                        "rebuild the tables with `lm-eval-values matrix SWEEP_DIR`, or use scoring raw")
    return scored_value_matrix(read_items(items_csv, field=ITEMS_FILE), scoring, include_no_role,
                               source=f"{items_csv} ({scoring})")


__all__ = ["scored_frame", "scored_value_matrix", "sweep_value_matrix"]
