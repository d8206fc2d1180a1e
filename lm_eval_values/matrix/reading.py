"""Reading a value matrix from whatever the user has: a ``matrix.csv``, a study-format CSV or a folder.

A folder is read through its ``matrix.csv`` (verified against the SHA-256 its sweep's
``manifest.json`` recorded, :func:`verify_sweep_tables`); without one the matrix is built from the
folder's per-condition lm-eval files (:func:`matrix_from_results_dir`). CSV files are read strictly
(:mod:`lm_eval_values.matrix.strict_csv`). For an analysis (``check=True``) rows with an empty value
cell are dropped, counted in ``ValueMatrix.n_dropped`` and reported on stderr, and the one minimum-row
rule (:func:`~lm_eval_values.matrix.value_matrix.require_rows`) applies.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import MANIFEST_FILE, MATRIX_FILE
from lm_eval_values.core.hashing import file_sha256
from lm_eval_values.core.inputs import mark_input
from lm_eval_values.matrix.condition_files import read_conditions
from lm_eval_values.matrix.strict_csv import read_csv_table
from lm_eval_values.matrix.tables import build_tables
from lm_eval_values.matrix.value_matrix import ValueMatrix, frame_to_value_matrix

__all__ = ["matrix_from_results_dir", "read_csv_table", "read_value_matrix", "verify_sweep_tables"]


def verify_sweep_tables(folder: str | Path) -> str | None:
    """``None`` if every table a sweep's ``manifest.json`` lists in ``files`` still has the recorded SHA-256
    (or there is no such record), else the problem."""
    folder = Path(folder)
    manifest = folder / MANIFEST_FILE
    if not manifest.is_file():
        return None
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files") or {}
    except (OSError, ValueError, AttributeError):
        return f"{manifest} is not a readable sweep manifest"
    if not isinstance(files, dict):
        return f"{manifest} has a malformed files entry"
    for name, digest in sorted(files.items()):
        f = folder / str(name)
        if not f.is_file():
            return f"{f} is missing"
        if file_sha256(f) != digest:
            return f"{f} is not the file the sweep wrote (its SHA-256 differs from {MANIFEST_FILE})"
    return None


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
        check: drop rows with an empty value cell (counted in ``n_dropped``, noted on stderr) and run
            :meth:`ValueMatrix.check` after filtering.
        field: name used in error messages for ``path``.

    Raises:
        UserError: missing file, unreadable or unknown format, unknown columns or steering ids,
            and (with ``check``) empty / constant / too-short matrices.
    """
    p = Path(path)
    if not p.exists():
        raise UserError(field, f"{p} does not exist", "give a matrix.csv, a study-format CSV or a sweep folder")
    mark_input(p)
    if p.is_dir():
        inner = p / MATRIX_FILE
        if inner.is_file():
            problem = verify_sweep_tables(p)
            if problem is not None:
                raise UserError(field, problem, f"rebuild it with `lm-eval-values matrix {p}`, or give the CSV "
                                "file itself if you edited it on purpose")
            vm = frame_to_value_matrix(read_csv_table(inner, field), str(inner), split, field)
        else:
            vm = matrix_from_results_dir(p)
    else:
        vm = frame_to_value_matrix(read_csv_table(p, field), str(p), split, field)
    if keep_steering is not None or columns is not None:
        vm = vm.filter(keep_steering=keep_steering, columns=columns)
    if check:
        vm = vm.check(field).complete_rows()
        if vm.n_dropped:  # after the check: a refused matrix prints its one error line only
            print(f"note: {field}: dropped {vm.n_dropped} of {vm.n_rows + vm.n_dropped} rows of {vm.source or p} "
                  "with an empty value cell", file=sys.stderr)
    if standardize:
        vm = vm.standardized()
    return vm
