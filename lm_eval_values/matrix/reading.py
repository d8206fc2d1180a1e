"""Reading a value matrix from whatever the user has: a ``matrix.csv``, a study-format CSV or a folder.

A folder is read through its ``matrix.csv``; without one the matrix is built from the folder's
per-condition lm-eval files (:func:`matrix_from_results_dir`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import MATRIX_FILE
from lm_eval_values.matrix.condition_files import read_conditions
from lm_eval_values.matrix.tables import build_tables
from lm_eval_values.matrix.value_matrix import ValueMatrix, frame_to_value_matrix


def read_csv_table(path: Path, field: str) -> pd.DataFrame:
    """A CSV file as a frame; an empty or unreadable file is a :class:`UserError` naming ``field``."""
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UserError(field, f"{path} is empty", "give a CSV with a header and rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(field, f"{path} is not a readable CSV ({str(exc).splitlines()[0]})",
                        "give a sweep matrix.csv or a study-format CSV") from None


def matrix_from_results_dir(path: str | Path, score_metric: str | None = None) -> ValueMatrix:
    """A :class:`ValueMatrix` built from per-condition files alone."""
    tables = build_tables(read_conditions(path), score_metric)
    df = pd.read_csv(io.StringIO(tables.matrix_csv), dtype={"condition_id": str, "role_id": str, "split": str,
                                                            "steering_id": str}, keep_default_na=False,
                     na_values={v: [""] for v in tables.values + ["coefficient", "seed"]})
    return frame_to_value_matrix(df, str(path), field="DIR")


def read_value_matrix(path: str | Path, keep_steering: Iterable[object] | None = None,
                      columns: Sequence[str] | None = None, standardize: bool = False,
                      split: str | None = None, check: bool = True,
                      field: str = "INPUT") -> ValueMatrix:
    """Read a value matrix from a sweep ``matrix.csv``, a study-format CSV or a directory.

    Args:
        path: file or directory (see the module docstring for the formats).
        keep_steering: keep only rows with these steering ids (``"none"`` = unsteered).
        columns: keep only these value columns (in this order).
        standardize: z-score each value column after filtering.
        split: split label for study CSVs (default: ``train``/``test`` guessed from the name).
        check: run :meth:`ValueMatrix.check` after filtering.
        field: name used in error messages for ``path``.

    Raises:
        UserError: missing file, unreadable or unknown format, unknown columns or steering ids,
            and (with ``check``) empty / constant / too-short matrices.
    """
    p = Path(path)
    if not p.exists():
        raise UserError(field, f"{p} does not exist", "give a matrix.csv, a study-format CSV or a sweep folder")
    if p.is_dir():
        inner = p / MATRIX_FILE
        if inner.is_file():
            vm = frame_to_value_matrix(read_csv_table(inner, field), str(inner), split, field)
        else:
            vm = matrix_from_results_dir(p)
    else:
        vm = frame_to_value_matrix(read_csv_table(p, field), str(p), split, field)
    if keep_steering is not None or columns is not None:
        vm = vm.filter(keep_steering=keep_steering, columns=columns)
    if check:
        vm.check(field)
    if standardize:
        vm = vm.standardized()
    return vm
