"""The human reference: PVQ-40 value correlations of 151 US adults (Borg, Bardi & Schwartz 2017).

Shipped as ``lm_eval_values/data/schwartz_pvq40_human.json`` (as distributed in the R package
smacof) and loaded by :func:`load_human_reference`.

References:
    Borg, I., Bardi, A. & Schwartz, S. H. (2017). Does the value circle exist within persons or
    only across persons? Journal of Personality 85(2):151-162.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.core.errors import UserError
from lm_eval_values.values.names import SCHWARTZ_VALUES

REFERENCE_FILE = "schwartz_pvq40_human.json"
CENTERINGS = ("mrat", "none")
CONVENTIONS = ("separate", "shared")

#: Poles of the two higher-order contrasts (Schwartz 1992). Hedonism shares elements of
#: Openness to change and Self-enhancement and is left out of both contrasts.
HIGHER_ORDER: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "openness_vs_conservation": (("Self-Direction", "Stimulation"), ("Security", "Conformity", "Tradition")),
    "self_enhancement_vs_self_transcendence": (("Power", "Achievement"), ("Universalism", "Benevolence")),
}


# --------------------------------------------------------------------------- reference


@dataclass(frozen=True)
class HumanReference:
    """The PVQ-40 human reference (Borg, Bardi & Schwartz 2017; n = 151 US adults).

    ``values`` is the circle order; both correlation matrices are indexed by it.
    ``published`` holds the figures stored with the data (distance curves and RTHOR
    correspondence indices) so tests can check that this module reproduces them.
    """

    values: tuple[str, ...]
    abbrev: dict[str, str]
    n: int
    instrument: str
    sample: str
    source: str
    items_per_value: dict[str, int]
    correlation_raw: pd.DataFrame
    correlation_centered: pd.DataFrame
    published: dict[str, Any] = field(repr=False)

    def correlation(self, centering: str = "mrat") -> pd.DataFrame:
        """Human correlation matrix for ``centering`` (``"mrat"`` or ``"none"``)."""
        check_centering(centering)
        return (self.correlation_centered if centering == "mrat" else self.correlation_raw).copy()

    def published_distance_curve(self, centering: str = "mrat") -> dict[int, float]:
        """Mean correlation by circular distance as published with the data."""
        check_centering(centering)
        key = "mean_r_by_circular_distance_" + ("centered" if centering == "mrat" else "raw")
        return {int(k): float(v) for k, v in self.published[key].items()}

    def published_correspondence_index(self, centering: str = "mrat") -> float:
        """RTHOR correspondence index as published with the data."""
        check_centering(centering)
        cis = self.published["rthor_correspondence_index"]
        return float(cis["centered_mrat" if centering == "mrat" else "raw"])


def check_centering(centering: str) -> None:
    """:class:`UserError` unless ``centering`` is one of :data:`CENTERINGS`."""
    if centering not in CENTERINGS:
        raise UserError("centering", f"unknown centering {centering!r}", "use 'mrat' or 'none'")


def _square_frame(rows: Sequence[Sequence[float]], names: Sequence[str]) -> pd.DataFrame:
    arr = np.asarray(rows, dtype=float)
    if arr.shape != (len(names), len(names)) or not np.allclose(arr, arr.T) or not np.allclose(np.diag(arr), 1.0):
        raise ValueError("human reference: correlation matrix is not a symmetric 10x10 matrix with unit diagonal")
    return pd.DataFrame(arr, index=list(names), columns=list(names))


@functools.lru_cache(maxsize=1)
def _reference_json() -> str:
    return (importlib.resources.files("lm_eval_values") / "data" / REFERENCE_FILE).read_text(encoding="utf-8")


def load_human_reference() -> HumanReference:
    """Load the packaged PVQ-40 reference (``lm_eval_values/data/schwartz_pvq40_human.json``)."""
    raw = json.loads(_reference_json())
    order = tuple(raw["circle_order"])
    if sorted(order) != sorted(SCHWARTZ_VALUES):
        raise ValueError("human reference: circle_order does not list the 10 Schwartz values")
    return HumanReference(
        values=order,
        abbrev=dict(zip(order, raw["abbrev"])),
        n=int(raw["n"]),
        instrument=raw["instrument"],
        sample=raw["sample"],
        source=raw["source"],
        items_per_value={k: int(v) for k, v in raw["items_per_value"].items()},
        correlation_raw=_square_frame(raw["correlation_raw"], order),
        correlation_centered=_square_frame(raw["correlation_centered_mrat"], order),
        published={k: raw[k] for k in ("mean_r_by_circular_distance_raw", "mean_r_by_circular_distance_centered",
                                       "rthor_correspondence_index")},
    )
