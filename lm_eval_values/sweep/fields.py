"""Checks of config fields: each returns the value or raises a one-line :class:`UserError` naming the key.

Types are strict: a string is never read as a number or a boolean, and a quoted word that YAML
would read as a boolean or null (``"false"``, ``"no"``, ``"null"``...) is refused where a name is
expected (``no_role: "false"`` would otherwise create a split named "false"). Seeds are whole
numbers in ``0..2**32-1`` (:func:`as_seed`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from lm_eval_values.core.errors import UserError, check_seed
from lm_eval_values.core.inputs import mark_input
from lm_eval_values.core.paths import expand_path


def check_keys(d: Mapping[str, Any], allowed: set[str], where: str) -> None:
    """Refuse keys of ``d`` outside ``allowed`` (``where`` prefixes the key in the message)."""
    for k in d:
        if k not in allowed:
            raise UserError(f"{where}{k}" if where else str(k), "unknown key",
                            f"remove it; allowed keys here: {', '.join(sorted(allowed))}")


def as_mapping(x: Any, where: str) -> dict[str, Any]:
    if x is None:
        return {}
    if not isinstance(x, dict):
        raise UserError(where, f"must be a mapping, got {type(x).__name__}", "write key: value pairs")
    return x


def as_int(x: Any, where: str, minimum: int | None = None, allow_none: bool = False) -> int | None:
    if x is None and allow_none:
        return None
    if isinstance(x, bool) or not isinstance(x, int):
        raise UserError(where, f"must be an integer, got {x!r}", "give a whole number")
    if minimum is not None and x < minimum:
        raise UserError(where, f"must be >= {minimum}, got {x}", f"give a number >= {minimum}")
    return x


def as_number(x: Any, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(float(x)):
        raise UserError(where, f"must be a finite number, got {x!r}", "give a number")
    return float(x)


def as_bool(x: Any, where: str) -> bool:
    if not isinstance(x, bool):
        raise UserError(where, f"must be true or false, got {x!r}", "write true or false")
    return x


#: words YAML 1.1 reads as booleans or null when unquoted
YAML_WORDS = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null", "~"})


def as_seed(x: Any, where: str) -> int:
    """A seed: a whole number in ``0..2**32-1``."""
    return check_seed(x, where)


def as_str(x: Any, where: str) -> str:
    if not isinstance(x, str) or not x.strip():
        raise UserError(where, f"must be a non-empty string, got {x!r}", "give a string")
    if x.strip().lower() in YAML_WORDS:
        raise UserError(where, f"{x!r} is a quoted YAML boolean/null word, not a name",
                        f"write {x.strip().lower()} without quotes if you mean that value, or choose another name")
    return x.strip()


def as_str_list(x: Any, where: str) -> list[str]:
    if isinstance(x, str):
        x = [x]
    if not isinstance(x, list) or not x:
        raise UserError(where, f"must be a non-empty list of strings, got {x!r}", "give e.g. [a, b]")
    return [as_str(v, f"{where}[{i}]") for i, v in enumerate(x)]


def as_number_list(x: Any, where: str) -> list[float]:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        x = [x]
    if not isinstance(x, list) or not x:
        raise UserError(where, f"must be a non-empty list of numbers, got {x!r}", "give e.g. [50, 100]")
    return [as_number(v, f"{where}[{i}]") for i, v in enumerate(x)]


def as_path(x: Any, where: str, base: Path, must_exist: bool = True) -> Path:
    p = expand_path(as_str(x, where))
    if not p.is_absolute():
        p = (base / p).resolve()
    if must_exist and not p.exists():
        raise UserError(where, f"{p} does not exist", "fix the path (relative paths are relative to the config file)")
    if must_exist:
        mark_input(p)  # read by the command: never overwritten by it
    return p
