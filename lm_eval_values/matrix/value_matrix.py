"""The tidy value matrix: one row per condition (role x steering setting), one column per value.

:class:`ValueMatrix` is what causal discovery, bootstrap and the side-effect analysis consume.
:func:`~lm_eval_values.matrix.reading.read_value_matrix` reads the three formats the project meets:

(a) a sweep ``matrix.csv``: the meta columns ``condition_id, role_id, split, steering_id,
    coefficient, seed``; every other column is a value score;
(b) a study-format CSV (Kang et al. 2025): ``steer_dim, player_name, <Value>, <Value>:scstd, ...,
    stds, scstds``; the values are the plain columns; an empty ``steer_dim`` is steering id
    ``"none"``; an empty ``player_name`` is role id ``""`` (no role);
(c) a directory: its ``matrix.csv`` if present, else it is built from lm-eval result files by
    :func:`lm_eval_values.matrix.reading.matrix_from_results_dir`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.core.conditions import META_COLUMNS, NO_ROLE, NO_STEERING, normalise_steering_id
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.strict_csv import numeric_column

_STUDY_MARKERS = ("steer_dim", "player_name")
_STUDY_EXTRA = ("stds", "scstds")


@dataclass
class ValueMatrix:
    """Value scores per condition.

    Attributes:
        scores: one column per value (display names), one row per condition.
        meta: same index; columns :data:`META_COLUMNS` (``steering_id`` is ``"none"`` for
            unsteered rows, ``role_id`` is ``""`` for the no-role condition).
        source: where the matrix came from (for messages and provenance).
    """

    scores: pd.DataFrame
    meta: pd.DataFrame
    source: str = ""
    n_dropped: int = 0  # rows dropped for an empty value cell (see complete_rows)

    def __post_init__(self) -> None:
        if not self.scores.index.equals(self.meta.index):
            raise ValueError("scores and meta must share the same index")
        missing = [c for c in META_COLUMNS if c not in self.meta.columns]
        if missing:
            raise ValueError(f"meta lacks columns {missing}")

    # ------------------------------------------------------------------ views
    @property
    def values(self) -> list[str]:
        """Value names (the score columns), in order."""
        return [str(c) for c in self.scores.columns]

    @property
    def n_rows(self) -> int:
        """Number of conditions (rows)."""
        return int(len(self.scores))

    @property
    def steering_ids(self) -> list[str]:
        """Distinct steering ids in first-seen order."""
        return list(dict.fromkeys(self.meta["steering_id"].astype(str)))

    @property
    def role_ids(self) -> list[str]:
        """Distinct role ids in first-seen order (``""`` = no role)."""
        return list(dict.fromkeys(self.meta["role_id"].astype(str)))

    def has_roles(self) -> bool:
        """True when the rows carry at least two distinct role ids (cluster bootstrap possible)."""
        return len(self.role_ids) >= 2

    # ------------------------------------------------------------------ transforms
    def filter(self, keep_steering: Iterable[object] | None = None,
               columns: Sequence[str] | None = None,
               roles: Iterable[str] | None = None,
               split: str | None = None) -> "ValueMatrix":
        """Rows with the given steering ids / roles / split, and the given value columns.

        Steering ids are compared as normalised strings (``10096``, ``10096.0`` and ``"10096"``
        are the same id; ``"none"`` or ``""`` is the unsteered condition). Unknown ids or
        columns raise :class:`UserError`.
        """
        rows = pd.Series(True, index=self.scores.index)
        if keep_steering is not None:
            want = [normalise_steering_id(s) for s in keep_steering]
            have = set(self.meta["steering_id"].astype(str))
            unknown = [s for s in want if s not in have]
            if unknown:
                raise UserError("keep_steering", f"unknown steering id(s) {unknown} in {self.source or 'matrix'}",
                                f"use some of: {', '.join(sorted(have)[:30])}")
            rows &= self.meta["steering_id"].astype(str).isin(want)
        if roles is not None:
            want_r = [str(r) for r in roles]
            have_r = set(self.meta["role_id"].astype(str))
            unknown_r = [r for r in want_r if r not in have_r]
            if unknown_r:
                raise UserError("roles", f"unknown role id(s) {unknown_r[:5]}", "use role ids present in the matrix")
            rows &= self.meta["role_id"].astype(str).isin(want_r)
        if split is not None:
            rows &= self.meta["split"].astype(str) == split
        cols = self.values
        if columns is not None:
            unknown_c = [c for c in columns if c not in cols]
            if unknown_c:
                raise UserError("columns", f"unknown value column(s) {unknown_c}", f"use some of: {', '.join(cols)}")
            cols = list(columns)
        return ValueMatrix(self.scores.loc[rows, cols].copy(), self.meta.loc[rows].copy(), self.source, self.n_dropped)

    def respondent_scores(self) -> pd.DataFrame:
        """Scores with one row per condition ``(role, steering id, coefficient)``, in first-seen order.

        Rows that repeat a condition (the no-role condition run in both splits, several seeds) are
        averaged, so that no condition counts twice when rows are treated as respondents (e.g. for
        correlations between values).
        """
        key = pd.MultiIndex.from_arrays([self.meta["role_id"].astype(str), self.meta["steering_id"].astype(str),
                                         self.meta["coefficient"].astype(str)], names=["role_id", "steering_id", "coef"])
        s = self.scores.copy()
        s.index = key
        return s.groupby(level=[0, 1, 2], sort=False).mean()

    def standardized(self) -> "ValueMatrix":
        """Each value column centred and scaled to unit (sample) standard deviation."""
        s = self.scores
        sd = s.std(ddof=1).replace(0.0, np.nan)
        return ValueMatrix((s - s.mean()) / sd, self.meta.copy(), self.source, self.n_dropped)

    def to_frame(self) -> pd.DataFrame:
        """Meta columns followed by the value columns (the sweep ``matrix.csv`` layout)."""
        return pd.concat([self.meta[list(META_COLUMNS)], self.scores], axis=1)

    def complete_rows(self) -> "ValueMatrix":
        """The rows without an empty value cell; ``n_dropped`` counts the rows left out (cumulatively)."""
        keep = self.scores.notna().all(axis=1)
        dropped = int((~keep).sum())
        return ValueMatrix(self.scores.loc[keep].copy(), self.meta.loc[keep].copy(), self.source,
                           self.n_dropped + dropped)

    # ------------------------------------------------------------------ checks
    def check(self, field: str = "matrix") -> "ValueMatrix":
        """Validate for causal discovery; returns ``self``.

        Raises :class:`UserError` for an empty matrix, an all-NaN or constant value column,
        fewer complete rows than value columns plus one (:func:`require_rows`), or value columns
        that are linear combinations of others (a singular correlation matrix).
        """
        where = self.source or "the matrix"
        if self.scores.shape[1] == 0:
            raise UserError(field, f"{where} has no value columns", "give a matrix with value score columns")
        if self.scores.shape[0] == 0:
            raise UserError(field, f"{where} has no rows (after filtering)", "check --keep-steer / filters and the input file")
        for c in self.scores.columns:
            col = pd.to_numeric(self.scores[c], errors="coerce")
            if col.isna().all():
                raise UserError(field, f"value column {c!r} in {where} is empty or not numeric",
                                "drop it with --columns or fix the input")
            if col.nunique(dropna=True) < 2:
                raise UserError(field, f"value column {c!r} in {where} is constant ({float(col.dropna().iloc[0]):g})",
                                "drop it with --columns (a constant cannot be tested for independence)")
        complete = self.scores[self.scores.notna().all(axis=1)]
        require_rows(len(complete), self.scores.shape[1], field, where,
                     self.n_rows - len(complete) + self.n_dropped)
        dependent = _dependent_column(complete.to_numpy(dtype=float), self.values)
        if dependent is not None:
            raise UserError(field, f"value column {dependent!r} in {where} is a linear combination of the columns "
                            "before it (their correlation matrix is singular)",
                            "drop it with --columns (a redundant column cannot be tested for independence)")
        return self


#: complete rows needed beyond the number of value columns, by every command that estimates correlations
MIN_EXTRA_ROWS = 1


def require_rows(n_complete: int, n_values: int, field: str, where: str, n_dropped: int = 0) -> None:
    """The one minimum-row rule: at least ``n_values + MIN_EXTRA_ROWS`` complete rows (one line otherwise)."""
    if n_complete < n_values + MIN_EXTRA_ROWS:
        dropped = f" ({n_dropped} rows with an empty value cell dropped)" if n_dropped else ""
        raise UserError(field, f"{where} has {n_complete} complete rows for {n_values} values{dropped}",
                        "correlations between values need more rows than values: add conditions or select fewer "
                        "--columns")


def _dependent_column(x: np.ndarray, names: Sequence[str]) -> str | None:
    """The first column whose addition makes the correlation matrix of the columns so far singular
    (smallest eigenvalue below 1e-10 of the largest, the test causal discovery applies), or None."""
    if x.shape[0] < 2 or x.shape[1] < 2:
        return None
    corr = np.corrcoef(x.T)
    for j in range(2, x.shape[1] + 1):
        eig = np.linalg.eigvalsh(corr[:j, :j])
        if eig.min() < 1e-10 * max(eig.max(), 1.0):
            return str(names[j - 1])
    return None


def _scores(df: pd.DataFrame, cols: Sequence[str], source: str, field: str) -> pd.DataFrame:
    """The score columns as floats, checked cell by cell (:func:`~lm_eval_values.matrix.strict_csv.numeric_column`)."""
    return pd.DataFrame({c: numeric_column(df[c], str(c), source, field) for c in cols}, index=df.index,
                        columns=list(cols)).astype(float)


def _check_unsteered(meta: pd.DataFrame, source: str, field: str) -> None:
    """Rows with the reserved steering id ``none`` must be unsteered (coefficient 0 or unknown)."""
    steered = (meta["steering_id"] == NO_STEERING) & meta["coefficient"].notna() & (meta["coefficient"] != 0)
    if steered.any():
        row = steered.idxmax()
        raise UserError(field, f"{source}: row {meta.loc[row, 'condition_id']!r} has steering id 'none' but "
                        f"coefficient {meta.loc[row, 'coefficient']:g}; 'none' is reserved for unsteered rows, which "
                        "are the baseline of every comparison", "give the steered setting its own id and rebuild the "
                        "matrix")


def _from_sweep_frame(df: pd.DataFrame, source: str, field: str) -> ValueMatrix:
    meta = df[list(META_COLUMNS)].copy()
    meta["condition_id"] = meta["condition_id"].astype(str)
    meta["role_id"] = [NO_ROLE if pd.isna(x) else str(x) for x in meta["role_id"]]
    meta["split"] = ["" if pd.isna(x) else str(x) for x in meta["split"]]
    meta["steering_id"] = [normalise_steering_id(x) for x in meta["steering_id"]]
    meta["coefficient"] = numeric_column(meta["coefficient"], "coefficient", source, field, bounded=False)
    meta["seed"] = pd.to_numeric(meta["seed"], errors="coerce").astype("Int64")
    _check_unsteered(meta, source, field)
    score_cols = [c for c in df.columns if c not in META_COLUMNS]
    return ValueMatrix(_scores(df, score_cols, source, field), meta, source)


def _from_study_frame(df: pd.DataFrame, source: str, split: str | None, field: str) -> ValueMatrix:
    score_cols = [c for c in df.columns
                  if c not in _STUDY_MARKERS and c not in _STUDY_EXTRA and ":" not in str(c)]
    steering = [normalise_steering_id(x) for x in df["steer_dim"]]
    roles = [NO_ROLE if pd.isna(x) or str(x).strip() == "" else str(x).strip() for x in df["player_name"]]
    if split is None:
        name = Path(source).name.lower()
        split = "train" if "train" in name else "test" if "test" in name else ""
    meta = pd.DataFrame({
        "condition_id": [f"{r or 'no-role'}|{s}" for r, s in zip(roles, steering)],
        "role_id": roles,
        "split": split,
        "steering_id": steering,
        # The study CSV does not record coefficients; 0 for unsteered rows, unknown otherwise.
        "coefficient": [0.0 if s == NO_STEERING else np.nan for s in steering],
        "seed": pd.array([pd.NA] * len(df), dtype="Int64"),
    }, index=df.index)
    return ValueMatrix(_scores(df, score_cols, source, field), meta, source)


def frame_to_value_matrix(df: pd.DataFrame, source: str = "", split: str | None = None,
                          field: str = "matrix") -> ValueMatrix:
    """Interpret an in-memory table in sweep or study format (see module docstring)."""
    cols = set(map(str, df.columns))
    if set(META_COLUMNS) <= cols:
        return _from_sweep_frame(df, source, field)
    if set(_STUDY_MARKERS) <= cols:
        return _from_study_frame(df, source, split, field)
    raise UserError(field, f"{source or 'table'} is neither a sweep matrix (columns {', '.join(META_COLUMNS)}) "
                    "nor a study CSV (columns steer_dim, player_name)",
                    "give a sweep matrix.csv, a study-format CSV or a sweep folder")
