"""Reading user YAML files safely (``yaml.safe_load``) with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lm_eval_values.core.errors import UserError


def read_yaml_file(path: str | Path, field: str = "CONFIG", what: str = "a YAML file") -> Any:
    """Parse ``path`` with ``yaml.safe_load``; a missing, non-UTF-8 or invalid file is a UserError."""
    p = Path(path)
    if not p.is_file():
        raise UserError(field, f"{p} does not exist", f"give {what}")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(field, f"{p} is not valid YAML{where}", "fix the YAML syntax") from None
    except UnicodeDecodeError:
        raise UserError(field, f"{p} is not UTF-8 text", "give a YAML text file") from None
