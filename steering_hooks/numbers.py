"""Finite, sane numbers: every number and tensor that enters a steering spec passes through here.

A coefficient, clamp value, multiplier or typical activation must be finite and at most
:data:`MAX_MAGNITUDE` in absolute value; a vector, bias or SAE weight tensor must be finite with
every entry within the same bound. Anything else would reach the model as ``inf``/``nan`` (or
overflow to it in half precision) and come out as NaN scores, so it is refused as a one-line
:class:`~steering_hooks.errors.SpecError` where it enters: when a spec is parsed, and when a vector
file, an lm-eval ``steered`` file or an SAE is loaded.
"""

from __future__ import annotations

import math
from typing import Any

from steering_hooks.errors import SpecError

#: the largest absolute value of any steering number or tensor entry (residual streams are O(1..1e3))
MAX_MAGNITUDE = 1e6


def check_number(value: Any, field: str) -> float:
    """``value`` as a float; refuses text that is not a number, ``nan``, ``inf`` and magnitudes over the bound."""
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        raise SpecError(field, f"expected a number, got {value!r}", None) from None
    if not math.isfinite(x):
        raise SpecError(field, f"{value!r} is not a finite number", "give a finite number")
    if abs(x) > MAX_MAGNITUDE:
        raise SpecError(field, f"{x:g} is beyond the limit of {MAX_MAGNITUDE:g} for steering numbers "
                        "(the residual stream would overflow to NaN)", "use a much smaller magnitude")
    return x


def check_tensor(t: Any, field: str, what: str) -> Any:
    """Refuse a tensor (torch or NumPy) with non-finite entries or entries beyond :data:`MAX_MAGNITUDE`; returns it."""
    import torch

    x = t if isinstance(t, torch.Tensor) else torch.as_tensor(t)
    if x.numel() == 0:
        return t
    x = x.detach().to("cpu", torch.float64)
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        n = int(bad.sum())
        raise SpecError(field, f"{what} has {n} non-finite entr{'y' if n == 1 else 'ies'} (nan or inf) of "
                        f"{x.numel()}", "rebuild it: every entry must be a finite number")
    peak = float(x.abs().max())
    if peak > MAX_MAGNITUDE:
        raise SpecError(field, f"{what} has an entry of magnitude {peak:.3g}, beyond the limit of "
                        f"{MAX_MAGNITUDE:g}", "rebuild it (or rescale it and raise the coefficient instead)")
    return t
