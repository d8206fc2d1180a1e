"""Simulated respondents with a known truth, written as the tool's own item table (``items.csv``).

For value ``v``, role ``r``, item ``i`` of ``v`` (key ``k_i`` = +1 keyed, -1 reverse-keyed) the
unsteered KEYED score is::

    y[r, i] = mu_v + role[r, v] + item[i] + roleitem[r, i] + acq[r] * k_i

``role[r, v] ~ N(0, role_sd_v^2)`` (the value signal), ``item[i] ~ N(0, item_sd^2)`` (difficulty),
``roleitem[r, i] ~ N(0, interaction_sd^2)`` (role x item interaction and error) and
``acq[r] ~ N(acquiescence_mean, acquiescence_sd^2)``, a yes-bias that adds to the UNKEYED answer
``y * k`` and so enters the keyed score with the item's sign. A steering setting at dose ``d``
adds ``target_shift * g(d)`` to the keyed score of its target value's items, ``spill * g(d)`` to
every other value's items, ``bias_shift * h(d)`` to the acquiescence, and fresh noise
``N(0, noise_sd^2)`` to every answer (``g``/``h`` are ``d`` or ``|d|``: a V-shaped dose response).

Designs: ``crossed`` (every role the same items; ``missing_rate`` empties cells at random) or
``nested`` (each role its own items). The no-role condition (``role_id ""``) is written in both
splits with identical answers, as a sweep does.

Expected components of the keyed score per value (roles and items random; ``p`` the share of
keyed items, ``m = 2p - 1`` the mean key, ``f = 1 - m^2`` the key variance)::

    role     = role_sd_v^2 + acquiescence_sd^2 * m^2
    item     = item_sd^2 + acquiescence_mean^2 * f
    residual = interaction_sd^2 + acquiescence_sd^2 * f

(acquiescence is role x item variance under balanced keys: ``m = 0``). These are in
``truth["components"]``: ``role`` is the true between-role variance of the value score.

A yes-bias that varies between roles is not an independent role x item effect: its deviations
``(acq[r] - mean) (k_i - m)`` sum to zero over each role's items. The crossed ANOVA therefore
expects ``role - acquiescence_sd^2 f / (n_items - 1)`` and ``residual + acquiescence_sd^2 f /
(n_items - 1)`` (:func:`anova_expected_components`): between-role variance is UNDER-estimated and
``MS_role / MS_role_x_item`` falls below 1, as on real yes/no data with a varying "no"-bias.
``acquiescence_residualized`` scoring removes the pattern (see :mod:`lm_eval_values.measurement.bias`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from lm_eval_values.core.errors import UserError
from lm_eval_values.core.conditions import coefficient_text
from lm_eval_values.matrix.tables import ITEM_COLUMNS, fmt_float
from lm_eval_values.values.names import SCHWARTZ_VALUES, slugify

DOSE_SHAPES = ("linear", "abs")


@dataclass(frozen=True)
class SimulatedSteering:
    """One simulated steering setting (id as the sweep names it, e.g. ``vec:Power``)."""

    id: str
    target: str | None
    doses: tuple[float, ...] = (-1.0, 1.0)
    target_shift: float = 0.0
    bias_shift: float = 0.0
    spill: float = 0.0
    noise_sd: float = 0.05
    target_shape: str = "linear"
    bias_shape: str = "linear"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {**asdict(self), "doses": list(self.doses)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SimulatedSteering":
        """Inverse of :meth:`to_dict`."""
        return cls(**{**d, "doses": tuple(float(x) for x in d.get("doses", (-1.0, 1.0)))})


@dataclass(frozen=True)
class SimulationSettings:
    """Parameters of :func:`simulate_items` (see the module docstring).

    ``role_sd`` and ``keyed_fraction`` are one number for every value or a mapping value -> number.
    """

    values: tuple[str, ...] = SCHWARTZ_VALUES
    n_roles: int = 30
    n_items: int = 6
    design: str = "crossed"
    missing_rate: float = 0.0
    keyed_fraction: float | dict[str, float] = 0.5
    value_mean: float = 0.0
    role_sd: float | dict[str, float] = 0.2
    item_sd: float = 0.3
    interaction_sd: float = 0.25
    acquiescence_mean: float = 0.0
    acquiescence_sd: float = 0.0
    no_role: bool = True
    steering: tuple[SimulatedSteering, ...] = ()
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["values"] = list(self.values)
        d["steering"] = [s.to_dict() for s in self.steering]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SimulationSettings":
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        if "values" in d:
            d["values"] = tuple(d["values"])
        d["steering"] = tuple(SimulatedSteering.from_dict(s) for s in d.get("steering", ()))
        return cls(**d)

    def per_value(self, name: str, value: str) -> float:
        """``role_sd`` / ``keyed_fraction`` of one value."""
        x = getattr(self, name)
        return float(x[value]) if isinstance(x, dict) else float(x)


@dataclass
class SimulatedData:
    """Simulated item table (columns of ``items.csv``) and the truth that generated it."""

    items: pd.DataFrame
    truth: dict[str, Any] = field(default_factory=dict)

    def to_csv_text(self) -> str:
        """The table as ``items.csv`` text (same formatting as :func:`lm_eval_values.matrix.build_tables`)."""
        out = self.items.copy()
        out["score"] = [fmt_float(x) for x in out["score"]]
        out["coefficient"] = [coefficient_text(x) for x in out["coefficient"]]
        return out[list(ITEM_COLUMNS)].to_csv(index=False, lineterminator="\n")


def _shape(d: float, shape: str) -> float:
    return abs(d) if shape == "abs" else d


def _check(s: SimulationSettings) -> None:
    if s.design not in ("crossed", "nested"):
        raise UserError("simulation.design", f"unknown design {s.design!r}", "use crossed or nested")
    if s.n_roles < 2 or s.n_items < 2:
        raise UserError("simulation", "needs at least 2 roles and 2 items per value", "raise n_roles / n_items")
    if not 0.0 <= s.missing_rate < 1.0:
        raise UserError("simulation.missing_rate", f"{s.missing_rate} is not in [0, 1)", "use e.g. 0.2")
    for st in s.steering:
        if st.target is not None and st.target not in s.values:
            raise UserError("simulation.steering", f"target {st.target!r} is not a simulated value",
                            f"use one of: {', '.join(s.values)}")
        if st.target_shape not in DOSE_SHAPES or st.bias_shape not in DOSE_SHAPES:
            raise UserError("simulation.steering", "shapes must be linear or abs", "use linear or abs")


def _items_of(s: SimulationSettings, rng: np.random.Generator) -> pd.DataFrame:
    """Item bank: value, item id, key, difficulty; nested designs get n_items per role."""
    rows = []
    owners: list[str | None] = [None]
    if s.design == "nested":
        owners = [f"r{j:03d}" for j in range(s.n_roles)] + ([""] if s.no_role else [])
    for v in s.values:
        doc_id = 0
        n_keyed = int(round(s.per_value("keyed_fraction", v) * s.n_items))
        for owner in owners:
            keys = rng.permutation([1] * n_keyed + [-1] * (s.n_items - n_keyed))
            for j, k in enumerate(keys):
                tag = "" if owner is None else f"{owner or 'norole'}:"
                rows.append({"value": v, "item_id": f"sim:{slugify(v)}:{tag}{j}", "doc_id": doc_id, "agreement": int(k),
                             "difficulty": float(rng.normal(0.0, s.item_sd)), "owner": owner})
                doc_id += 1
    return pd.DataFrame(rows)


def expected_components(s: SimulationSettings, value: str) -> dict[str, float]:
    """Population variance components of the keyed score of ``value`` (module docstring)."""
    m = 2.0 * round(s.per_value("keyed_fraction", value) * s.n_items) / s.n_items - 1.0
    f = 1.0 - m * m
    return {"role": s.per_value("role_sd", value) ** 2 + s.acquiescence_sd ** 2 * m * m,
            "item": s.item_sd ** 2 + s.acquiescence_mean ** 2 * f,
            "residual": s.interaction_sd ** 2 + s.acquiescence_sd ** 2 * f}


def anova_expected_components(s: SimulationSettings, value: str) -> dict[str, float]:
    """What the crossed ANOVA estimates in expectation for ``value`` (module docstring; crossed, complete)."""
    m = 2.0 * round(s.per_value("keyed_fraction", value) * s.n_items) / s.n_items - 1.0
    shift = s.acquiescence_sd ** 2 * (1.0 - m * m) / (s.n_items - 1)
    true = expected_components(s, value)
    return {"role": true["role"] - shift, "item": true["item"], "residual": true["residual"] + shift}


def simulate_items(settings: SimulationSettings) -> SimulatedData:
    """Simulate the item table of ``settings`` (deterministic for a seed)."""
    s = settings
    _check(s)
    rng = np.random.default_rng(s.seed)
    roles = [f"r{j:03d}" for j in range(s.n_roles)] + ([""] if s.no_role else [])
    items = _items_of(s, rng)
    role_eff = pd.DataFrame({v: rng.normal(0.0, s.per_value("role_sd", v), len(roles)) for v in s.values},
                            index=roles)
    acq = pd.Series(rng.normal(s.acquiescence_mean, s.acquiescence_sd, len(roles)), index=roles)
    if s.design == "crossed":
        base = pd.DataFrame({"role_id": roles}).merge(items, how="cross")
        base = base[rng.random(len(base)) >= s.missing_rate]
    else:
        base = items.assign(role_id=items["owner"])
    base = base.reset_index(drop=True)
    base["content"] = (s.value_mean + role_eff.stack().reindex(list(zip(base["role_id"], base["value"]))).to_numpy()
                       + base["difficulty"].to_numpy() + rng.normal(0.0, s.interaction_sd, len(base)))
    base = base[["role_id", "value", "item_id", "doc_id", "agreement", "content"]]
    frames = [_condition_rows(base, acq, "none", 0.0, 0.0, 0.0, 0.0, None, rng, 0.0)]
    for st in s.steering:
        for d in st.doses:
            frames.append(_condition_rows(base, acq, st.id, d, st.target_shift * _shape(d, st.target_shape),
                                          st.spill * _shape(d, st.target_shape),
                                          st.bias_shift * _shape(d, st.bias_shape), st.target, rng, st.noise_sd))
    table = pd.concat(frames, ignore_index=True)
    truth = {"settings": s.to_dict(), "role_effects": role_eff, "acquiescence": acq,
             "item_difficulty": items.set_index("item_id")["difficulty"],
             "components": {v: expected_components(s, v) for v in s.values},
             "anova_expected": {v: anova_expected_components(s, v) for v in s.values},
             "value_mean": {v: s.value_mean + s.acquiescence_mean * (2.0 * round(
                 s.per_value("keyed_fraction", v) * s.n_items) / s.n_items - 1.0) for v in s.values},
             "steering": {st.id: {"target": st.target, "doses": {d: {
                 "target_shift": st.target_shift * _shape(d, st.target_shape),
                 "bias_shift": st.bias_shift * _shape(d, st.bias_shape),
                 "spill": st.spill * _shape(d, st.target_shape)} for d in st.doses}} for st in s.steering}}
    return SimulatedData(items=table, truth=truth)


def _condition_rows(base: pd.DataFrame, acq: pd.Series, steering_id: str, dose: float, target_shift: float,
                    spill: float, bias_shift: float, target: str | None, rng: np.random.Generator,
                    noise_sd: float) -> pd.DataFrame:
    """Rows of one steering setting for every role (the no-role condition in both splits)."""
    keys = base["agreement"].to_numpy()
    shift = np.where(base["value"].to_numpy() == target, target_shift, spill) if target else np.full(len(base), spill)
    noise = rng.normal(0.0, noise_sd, len(base)) if noise_sd > 0 else np.zeros(len(base))
    score = base["content"].to_numpy() + shift + (acq.loc[base["role_id"]].to_numpy() + bias_shift) * keys + noise
    tag = "none" if steering_id == "none" else f"{steering_id}@{coefficient_text(dose)}"
    out = []
    for split in ("train", "test"):
        sel = (base["role_id"] == "") if split == "test" else (base["role_id"] == base["role_id"])
        part = base[sel.to_numpy()]
        out.append(pd.DataFrame({
            "condition_id": [f"{r or 'norole'}|{split}|{tag}" for r in part["role_id"]],
            "role_id": part["role_id"].to_numpy(), "split": split, "steering_id": steering_id,
            "coefficient": float(dose), "seed": 0, "task": [f"sim_{slugify(v)}" for v in part["value"]],
            "doc_id": part["doc_id"].to_numpy(), "item_id": part["item_id"].to_numpy(), "value": part["value"].to_numpy(),
            "agreement": part["agreement"].to_numpy(), "format": "yesno", "inventory": "simulated",
            "metric": "score", "score": score[sel.to_numpy()]}))
    return pd.concat(out, ignore_index=True)
