"""Strict CSV reading: every table a command reads from the user enters through :func:`read_csv_table`.

Rules (each broken rule is a one-line :class:`UserError` naming the file, the row and the column):

* the header names every column once: a duplicate name (which pandas would silently rename to
  ``Power.1`` and treat as one more value) or an empty name is refused;
* a cell may be empty (a missing score) but not infinite (``inf``, ``-inf``, ``1e400``);
* a number in a score column may be at most :data:`MAX_ABS_SCORE` in absolute value (value scores
  are within a few units; ``1e300`` would overflow every variance computed from it);
* in a score column every non-empty cell is a number (:func:`numeric_column`); ``nan`` / ``NA`` /
  ``null`` count as missing, like an empty cell.

Identifier columns (:data:`TEXT_COLUMNS`) are kept as text exactly as written: a role named ``NA``
stays ``NA`` and never becomes the no-role condition.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd

from lm_eval_values.core.conditions import META_COLUMNS
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.inputs import reading

#: the largest absolute value a score cell may hold
MAX_ABS_SCORE = 1e9
#: words read as a missing cell (compared in lower case)
MISSING_WORDS = frozenset({"", "nan", "na", "n/a", "null", "none"})
#: columns always kept as text (identifiers of the sweep and study formats)
TEXT_COLUMNS = frozenset(set(META_COLUMNS) | {"steer_dim", "player_name", "task", "item_id", "value", "format",
                                               "inventory", "metric", "questionnaire", "question"})
#: identifier-like numeric columns exempt from the score bound (seeds reach 2**32)
UNBOUNDED_COLUMNS = frozenset({"seed", "coefficient", "doc_id"})


def check_header(path: Path, field: str) -> list[str]:
    """The header of a CSV file; refuses duplicate and empty column names."""
    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise UserError(field, f"{path} is empty", "give a CSV with a header and rows")
    seen: dict[str, int] = {}
    for i, name in enumerate(header, 1):
        name = name.strip()
        if not name:
            raise UserError(field, f"{path}: column {i} of the header has no name", "name every column")
        if name in seen:
            raise UserError(field, f"{path}: the column {name!r} appears twice (columns {seen[name]} and {i})",
                            "give every column a unique name (pandas would rename the second one and use it as "
                            "another value)")
        seen[name] = i
    return header


def numeric_column(cells: pd.Series, column: str, source: str, field: str, bounded: bool = True) -> pd.Series:
    """``cells`` as floats (missing -> NaN); refuses text, infinite numbers and (``bounded``) huge ones.

    Rows are named as CSV lines (the header is line 1) when the index is the default range.
    """
    if pd.api.types.is_bool_dtype(cells.dtype):
        values = cells.astype(float)
        text = None
    elif pd.api.types.is_numeric_dtype(cells.dtype):
        values = cells.astype(float)
        text = None
    else:
        text = cells.astype(object).where(cells.notna(), "").map(lambda x: str(x).strip())
        missing = text.str.lower().isin(MISSING_WORDS)
        values = pd.to_numeric(text.where(~missing, None), errors="coerce").astype(float)
        bad = ~missing & values.isna()
        if bad.any():
            row = bad.idxmax()
            raise UserError(field, f"{source}{_line(cells, row)}, column {column!r}: {text[row]!r} is not a number",
                            "leave a missing score empty; scores are numbers")
    arr = values.to_numpy(dtype=float)
    infinite = np.isinf(arr)
    if infinite.any():
        row = values.index[int(np.argmax(infinite))]
        raise UserError(field, f"{source}{_line(cells, row)}, column {column!r}: {values[row]} is not a finite number",
                        "give finite scores (leave a missing one empty)")
    if bounded:
        huge = np.abs(np.nan_to_num(arr)) > MAX_ABS_SCORE
        if huge.any():
            row = values.index[int(np.argmax(huge))]
            raise UserError(field, f"{source}{_line(cells, row)}, column {column!r}: {values[row]:.3g} is beyond the "
                            f"limit of {MAX_ABS_SCORE:g} for a score", "check the file: value scores are within a "
                            "few units")
    if text is not None:
        values[text.str.lower().isin(MISSING_WORDS)] = math.nan
    return values


def _line(cells: pd.Series, row: object) -> str:
    if isinstance(cells.index, pd.RangeIndex) and isinstance(row, (int, np.integer)):
        return f" line {int(row) + 2}"
    return f" row {row!r}"


def read_csv_table(path: Path, field: str) -> pd.DataFrame:
    """A user CSV as a frame, read by the rules of the module docstring.

    Text columns stay text (``""`` for an empty cell); a column whose every non-empty cell is a
    number becomes float (NaN for a missing cell), with infinite cells refused everywhere and huge
    ones refused outside :data:`UNBOUNDED_COLUMNS`.
    """
    with reading(path, field, "a UTF-8 CSV file with a header row"):
        check_header(path, field)
        try:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=False)
        except pd.errors.EmptyDataError:
            raise UserError(field, f"{path} is empty", "give a CSV with a header and rows") from None
        except pd.errors.ParserError as exc:
            raise UserError(field, f"{path} is not a readable CSV ({str(exc).splitlines()[0]})",
                            "give a sweep matrix.csv or a study-format CSV") from None
    out = {}
    for col in raw.columns:
        cells = raw[col]
        name = str(col).strip()
        if name in TEXT_COLUMNS:
            out[col] = cells
            continue
        stripped = cells.str.strip()
        missing = stripped.str.lower().isin(MISSING_WORDS)
        parsed = pd.to_numeric(stripped.where(~missing, None), errors="coerce")
        if (parsed.notna() | missing).all() and not missing.all():
            out[col] = numeric_column(cells, name, str(path), field, bounded=name not in UNBOUNDED_COLUMNS)
        else:
            for row in stripped.index[stripped.str.lower().isin({"inf", "-inf", "+inf", "infinity", "-infinity"})]:
                raise UserError(field, f"{path} line {int(row) + 2}, column {name!r}: {cells[row]!r} is not a finite "
                                "number", "give finite numbers (leave a missing one empty)")
            out[col] = cells
    return pd.DataFrame(out, index=raw.index)
