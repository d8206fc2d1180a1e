"""Numbers ready for JSON: numpy scalars unwrapped, floats rounded, NaN and infinity as ``null``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_ready(obj: Any, digits: int = 6) -> Any:
    """``obj`` with numpy scalars unwrapped, floats rounded to ``digits`` and NaN/inf as None."""
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else round(obj, digits)
    if isinstance(obj, dict):
        return {k: json_ready(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v, digits) for v in obj]
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return json_ready(obj.item(), digits)
    return obj
