"""Conditions and their ids: the one home of the no-role / no-steering ids and of id text.

A condition is one (seed, role, steering setting) cell of a sweep. Its id is the first 16 hex
digits of the SHA-256 of everything that determines its result (:func:`condition_id`). In a
value matrix it is described by :data:`META_COLUMNS`; the no-role condition has role id
:data:`NO_ROLE` and unsteered rows have steering id :data:`NO_STEERING`. Steering ids read from
files are normalised by :func:`normalise_steering_id`; coefficients are written by
:func:`format_number` / :func:`coefficient_text`; one dose of a steering setting is
:func:`dose_id` (``<steering id>@<coefficient>``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lm_eval_values.core.hashing import canonical_json, sha256_hex

#: Role id of the no-role condition (the model is asked without any role text).
NO_ROLE = ""
#: Steering id of unsteered rows.
NO_STEERING = "none"
#: Meta columns of a value matrix (``matrix.csv``), in order; every other column is a value score.
META_COLUMNS: tuple[str, ...] = ("condition_id", "role_id", "split", "steering_id", "coefficient", "seed")


def condition_id(key: Any) -> str:
    """The id of the condition described by ``key`` (any JSON-able mapping): 16 hex digits."""
    return sha256_hex(canonical_json(key))[:16]


def format_number(x: float) -> str:
    """Canonical text of a coefficient: ``100.0 -> "100"``, ``0.5 -> "0.5"``, ``-1.0 -> "-1"``."""
    x = float(x)
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def coefficient_text(x: Any) -> str:
    """Coefficient text as in ``matrix.csv``: ``100.0 -> "100"``, ``0.5 -> "0.5"``, NaN or not a number -> ``""``."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(f) else format_number(f)


def dose_id(steering_id: str, coefficient: Any) -> str:
    """``<steering id>@<coefficient>`` for a steered row (each dose its own intervention); unsteered stays ``none``."""
    return steering_id if steering_id == NO_STEERING else f"{steering_id}@{coefficient_text(coefficient)}"


def normalise_steering_id(x: object) -> str:
    """``10096.0`` / ``"10096"`` / ``10096`` -> ``"10096"``; empty / NaN / None -> ``"none"``."""
    if x is None:
        return NO_STEERING
    if isinstance(x, float):
        if np.isnan(x):
            return NO_STEERING
        if x.is_integer():
            return str(int(x))
        return repr(x)
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    s = str(x).strip()
    if s == "" or s.lower() in ("nan", "none"):
        return NO_STEERING
    try:
        f = float(s)
        if f.is_integer() and "e" not in s.lower():
            return str(int(f))
    except ValueError:
        pass
    return s
