"""The table a ``compare-human`` run analyses, and how its rows and item weights are chosen.

INPUT is a sweep ``matrix.csv`` (or its folder), a study-format CSV, or any CSV whose columns
include the 10 Schwartz values (one row per role or condition; other columns are ignored).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lm_eval_values.analysis.circumplex.reference import HumanReference
from lm_eval_values.analysis.circumplex.scores import find_schwartz_columns
from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.reading import read_csv_table, read_value_matrix
from lm_eval_values.matrix.value_matrix import ValueMatrix
from lm_eval_values.values.names import SCHWARTZ_VALUES, slugify


def _is_plain_table(path: Path) -> bool:
    """True for a CSV that is neither a sweep matrix nor a study CSV (just value columns)."""
    if path.is_dir() or not path.is_file():
        return False
    try:
        header = set(map(str, pd.read_csv(path, nrows=0).columns))
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        return False  # let read_value_matrix report it
    return not (set(META_COLUMNS) <= header or {"steer_dim", "player_name"} <= header)


def read_human_input(path: str | Path) -> ValueMatrix | pd.DataFrame:
    """A value matrix (sweep ``matrix.csv``, its folder, a study CSV), or a plain table of value columns."""
    p = Path(path)
    if _is_plain_table(p):
        return read_csv_table(p, "INPUT")  # strict: duplicate columns, infinite or huge cells are refused
    return read_value_matrix(p, check=False, field="INPUT")


def select_rows(table: pd.DataFrame, drop_incomplete: bool) -> tuple[pd.DataFrame, int]:
    """Drop rows with a missing Schwartz score when asked; returns (table, rows dropped)."""
    if not drop_incomplete:
        return table, 0
    found = find_schwartz_columns(list(table.columns))
    cols = [found[v] for v in SCHWARTZ_VALUES if v in found]
    numeric = table[cols].apply(pd.to_numeric, errors="coerce")
    keep = np.isfinite(numeric.to_numpy(dtype=float)).all(axis=1)
    return table.loc[keep], int((~keep).sum())


def parse_items_per_value(text: str, ref: HumanReference) -> dict[str, float] | None:
    """``equal`` -> None, ``pvq40`` -> the PVQ-40 counts, ``Power=3,Achievement=4,...`` -> that mapping."""
    if text == "equal":
        return None
    if text == "pvq40":
        return dict(ref.items_per_value)
    by_slug = {slugify(v): v for v in SCHWARTZ_VALUES}
    counts: dict[str, float] = {}
    for part in filter(None, (x.strip() for x in text.split(","))):
        name, sep, num = part.partition("=")
        value = by_slug.get(slugify(name))
        try:
            count = float(num)
        except ValueError:
            count = float("nan")
        if not sep or value is None or not count > 0:
            raise UserError("--items-per-value", f"cannot read {part!r}",
                            "use equal, pvq40 or NAME=COUNT for all 10 values, e.g. Power=3,Achievement=4,...")
        counts[value] = count
    missing = [v for v in SCHWARTZ_VALUES if v not in counts]
    if missing:
        raise UserError("--items-per-value", f"no count for {', '.join(missing)}", "give a count for each of the 10 values")
    return counts


def item_mean_column(table: pd.DataFrame, column: str | None) -> pd.Series | None:
    if column is None:
        return None
    if column not in table.columns:
        raise UserError("--item-mean-column", f"no column {column!r} in the input", "name a column of the input")
    values = pd.to_numeric(table[column], errors="coerce")
    if values.isna().any():
        raise UserError("--item-mean-column", f"column {column!r} has missing or non-numeric cells", "fill them")
    return values
