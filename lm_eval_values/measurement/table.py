"""The tidy item table (``items.csv``) as a frame, and the respondent cells the analyses use.

An item table has one row per (condition, item) with the columns of
:data:`lm_eval_values.matrix.ITEM_COLUMNS`; ``score`` is the KEYED item score (``agreement x``
the unkeyed answer), so the unkeyed answer is ``score x agreement`` (``agreement`` is +1 or -1).

Unit of analysis: a *respondent* is a role (``role_id``; ``""`` is the model without a role)
answering unsteered (``steering_id == "none"``). Steered rows are interventions on respondents,
not respondents. A condition that repeats a role (the no-role condition run in both splits,
several seeds) counts once: its answers to the same item are averaged into one cell. An item asked in
several formats (both option orders of a counterbalanced sweep, ``format: yesno_cb`` / ``likert_cb``)
is averaged the same way: the cell is the item's counterbalanced score.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import ITEMS_FILE
from lm_eval_values.matrix.condition_files import read_conditions
from lm_eval_values.matrix.tables import ITEM_COLUMNS, build_tables

#: Steering id of unsteered rows.
NO_STEERING = "none"
#: How the role without a persona (``role_id == ""``) is named in outputs.
NO_ROLE_LABEL = "(no role)"
_TEXT_COLUMNS = ("condition_id", "role_id", "split", "steering_id", "task", "item_id", "value", "format",
                 "inventory", "metric")


def items_from_csv_text(text: str, source: str, field: str = "SOURCE") -> pd.DataFrame:
    """Parse and check item-table text (see :func:`check_items`)."""
    try:
        df = pd.read_csv(io.StringIO(text), dtype={c: str for c in _TEXT_COLUMNS}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(field, f"{source} is not a readable item table ({str(exc).splitlines()[0]})",
                        "give an items.csv written by lm-eval-values, a sweep folder or lm-eval --log_samples folders")
    return check_items(df, source, field)


def check_items(df: pd.DataFrame, source: str = "items", field: str = "SOURCE") -> pd.DataFrame:
    """A checked copy: all item columns present, ``agreement`` +1/-1, numeric ``score``/``coefficient``.

    Rows with a missing score are dropped (an item that could not be scored is not an answer).
    """
    missing = [c for c in ITEM_COLUMNS if c not in df.columns]
    if missing:
        raise UserError(field, f"{source} lacks item-table column(s) {', '.join(missing)}",
                        "give an items.csv written by lm-eval-values (columns: " + ", ".join(ITEM_COLUMNS) + ")")
    out = df[list(ITEM_COLUMNS)].copy()
    for c in _TEXT_COLUMNS:
        out[c] = out[c].astype(str)
    out["steering_id"] = out["steering_id"].replace({"": NO_STEERING, "nan": NO_STEERING})
    out["score"] = pd.to_numeric(out["score"], errors="coerce")
    out["coefficient"] = pd.to_numeric(out["coefficient"], errors="coerce")
    out["agreement"] = pd.to_numeric(out["agreement"], errors="coerce")
    bad = out[~out["agreement"].isin([1, -1])]
    if len(bad):
        raise UserError(field, f"{source}: item {bad['item_id'].iloc[0]!r} has agreement "
                        f"{df.loc[bad.index[0], 'agreement']!r}, not +1 or -1",
                        "the analysis needs each item's key (+1 keyed, -1 reverse-keyed)")
    out["agreement"] = out["agreement"].astype(int)
    out = out[out["score"].notna()].reset_index(drop=True)
    if out.empty:
        raise UserError(field, f"{source} has no scored items", "give an item table with item scores")
    per_item = out.groupby("item_id")[["value", "agreement"]].nunique()
    clash = per_item[(per_item["value"] > 1) | (per_item["agreement"] > 1)]
    if len(clash):
        raise UserError(field, f"{source}: item {clash.index[0]!r} appears with different values or keys",
                        "give each item one item_id (one value, one key)")
    return out


def read_items(source: str | Path, score_metric: str | None = None, field: str = "SOURCE") -> pd.DataFrame:
    """The item table of ``source``: an ``items.csv`` file, a sweep folder, or plain
    ``lm_eval --log_samples`` output folders (built with :func:`lm_eval_values.matrix.build_tables`).

    A folder without per-condition files but with an ``items.csv`` is read from that file.
    """
    path = Path(source)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(field, f"cannot read {path} ({exc})", "give a readable items.csv") from None
        return items_from_csv_text(text, str(path), field)
    if not path.is_dir():
        raise UserError(field, f"{path} does not exist",
                        "give a sweep folder, an items.csv or folders written by lm_eval --log_samples")
    try:
        conds = read_conditions(path)
    except UserError as exc:
        if (path / ITEMS_FILE).is_file() and "no finished conditions" in exc.problem:
            return read_items(path / ITEMS_FILE, score_metric, field)
        raise UserError(field, exc.problem, exc.fix) from None
    return items_from_csv_text(build_tables(conds, score_metric).items_csv, str(path), field)


def unkeyed(items: pd.DataFrame) -> pd.Series:
    """The unkeyed answer of every row (+ = agrees / says yes): ``score x agreement``."""
    return items["score"] * items["agreement"]


def role_label(role_id: str) -> str:
    """Display name of a role id (``""`` -> :data:`NO_ROLE_LABEL`)."""
    return role_id if role_id else NO_ROLE_LABEL


def respondent_cells(items: pd.DataFrame, steering_id: str = NO_STEERING, coefficient: float | None = None,
                     include_no_role: bool = True) -> pd.DataFrame:
    """One row per (role, item) under one steering setting: ``role_id, item_id, value, agreement,
    score, n_repeats``; repeated conditions of a role (splits, seeds) are averaged (each role once).

    Args:
        items: a checked item table.
        steering_id: ``"none"`` for the respondents themselves; a steering id for its rows.
        coefficient: the dose of a steered setting (None: every coefficient of that id, which is
            only meaningful for ``"none"``).
        include_no_role: keep the role without a persona (``role_id == ""``) as a respondent.
    """
    sel = items["steering_id"] == steering_id
    if coefficient is not None:
        coefs = items["coefficient"].astype(float)
        sel &= coefs.isna() if np.isnan(coefficient) else np.isclose(coefs, float(coefficient))
    if not include_no_role:
        sel &= items["role_id"] != ""
    rows = items[sel]
    if rows.empty:
        return pd.DataFrame(columns=["role_id", "item_id", "value", "agreement", "score", "n_repeats"])
    cells = (rows.groupby(["role_id", "item_id"], sort=True)
             .agg(value=("value", "first"), agreement=("agreement", "first"), score=("score", "mean"),
                  n_repeats=("score", "size"))
             .reset_index())
    return cells


def cell_matrix(cells: pd.DataFrame, column: str = "score") -> pd.DataFrame:
    """Roles x items (NaN where a role did not answer an item), rows and columns sorted."""
    return cells.pivot(index="role_id", columns="item_id", values=column).sort_index().sort_index(axis=1)


def item_info(cells: pd.DataFrame) -> pd.DataFrame:
    """Per item id (sorted): its ``value`` and ``agreement``."""
    return cells.groupby("item_id", sort=True)[["value", "agreement"]].first()


def steered_settings(items: pd.DataFrame) -> list[tuple[str, float]]:
    """Distinct (steering id, coefficient) pairs of steered rows, in first-seen order."""
    steered = items.loc[items["steering_id"] != NO_STEERING, ["steering_id", "coefficient"]].drop_duplicates()
    return [(str(s), float(c)) for s, c in zip(steered["steering_id"], steered["coefficient"].astype(float))]
