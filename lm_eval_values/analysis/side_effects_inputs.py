"""The optional inputs of the side-effect stage, read strictly: the item table (two-way AUROC intervals)
and the graph's descendant probabilities (a second predictor); and where a study keeps them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lm_eval_values.causal.stage_files import DESCENDANT_PROBABILITIES_FILE
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import ITEMS_FILE
from lm_eval_values.matrix.strict_csv import read_csv_table
from lm_eval_values.measurement.table import read_items


def read_descendant_probabilities(path: str | Path, values: list[str], field: str = "--descendant-probabilities"
                                  ) -> pd.DataFrame:
    """``descendant_probabilities.csv`` of the graph stage: ``P[source, target]`` in [0, 1] over ``values``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(field, f"{path} does not exist",
                        "give descendant_probabilities.csv of `graph` (written with a bootstrap)")
    df = read_csv_table(path, field)
    if "source" not in df.columns:
        raise UserError(field, f"{path} has no 'source' column", "give descendant_probabilities.csv of `graph`")
    df = df.set_index(df["source"].astype(str)).drop(columns="source")
    missing = [v for v in values if v not in df.index or v not in df.columns]
    if missing:
        raise UserError(field, f"{path} lacks value(s) {missing[:5]}", "give the probabilities of a graph over the "
                                                                       "same values")
    p = df.loc[values, values].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise UserError(field, f"{path} holds entries that are not probabilities in [0, 1]",
                        "give descendant_probabilities.csv of `graph`")
    return pd.DataFrame(p, index=values, columns=values)


def read_item_table(path: str | Path, field: str = "--items") -> pd.DataFrame:
    """A checked item table (``items.csv`` or a sweep folder)."""
    return read_items(path, field=field)


def study_items(model_dir: Path) -> pd.DataFrame | None:
    """The item table of a study model's sweep (None when there is none)."""
    path = Path(model_dir) / "sweep" / ITEMS_FILE
    return read_item_table(path, ITEMS_FILE) if path.is_file() else None


def study_probabilities(model_dir: Path, values: list[str]) -> pd.DataFrame | None:
    """The descendant probabilities of a study model's graph stage (None when the graph had no bootstrap)."""
    path = Path(model_dir) / "graph" / DESCENDANT_PROBABILITIES_FILE
    return read_descendant_probabilities(path, values, DESCENDANT_PROBABILITIES_FILE) if path.is_file() else None


def study_input_files(model_dir: Path) -> dict[str, Path]:
    """The optional input files of a study model's side-effect stage that exist (hashed into the stage)."""
    files = {"items": Path(model_dir) / "sweep" / ITEMS_FILE,
             "descendant_probabilities": Path(model_dir) / "graph" / DESCENDANT_PROBABILITIES_FILE}
    return {k: p for k, p in files.items() if p.is_file()}


__all__ = ["read_descendant_probabilities", "read_item_table", "study_input_files", "study_items",
           "study_probabilities"]
