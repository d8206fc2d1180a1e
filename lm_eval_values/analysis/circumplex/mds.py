"""2-D MDS of value correlations (classical start, metric SMACOF refinement), Procrustes fits to the
theoretical circle and to the human configuration, and the two higher-order contrasts.

References:
    Borg, I., Bardi, A. & Schwartz, S. H. (2017). Does the value circle exist within persons or
    only across persons? Journal of Personality 85(2):151-162.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from lm_eval_values.analysis.circumplex.reference import HIGHER_ORDER
from lm_eval_values.analysis.circumplex.structure import aligned_correlations
from lm_eval_values.values.names import SCHWARTZ_VALUES


def correlation_dissimilarity(corr: np.ndarray) -> np.ndarray:
    """Dissimilarity ``sqrt(2 (1 - r))``: the distance between standardized variables (up to scale)."""
    return np.sqrt(np.clip(2.0 * (1.0 - np.asarray(corr, dtype=float)), 0.0, None))


def classical_mds(dissimilarity: np.ndarray, dims: int = 2) -> np.ndarray:
    """Classical (Torgerson) MDS: top eigenvectors of the double-centered squared dissimilarities."""
    d2 = np.asarray(dissimilarity, dtype=float) ** 2
    n = d2.shape[0]
    j = np.eye(n) - np.ones((n, n)) / n
    b = -0.5 * j @ d2 @ j
    w, v = np.linalg.eigh(b)
    top = np.argsort(w)[::-1][:dims]
    x = v[:, top] * np.sqrt(np.clip(w[top], 0.0, None))
    return _fix_signs(x)


def _fix_signs(x: np.ndarray) -> np.ndarray:
    """Make each column's largest-magnitude entry positive (a deterministic orientation)."""
    idx = np.argmax(np.abs(x), axis=0)
    signs = np.sign(x[idx, np.arange(x.shape[1])])
    signs[signs == 0] = 1.0
    return x * signs


def _pairwise(x: np.ndarray) -> np.ndarray:
    diff = x[:, None, :] - x[None, :, :]
    return np.sqrt((diff ** 2).sum(axis=-1))


def stress1(dissimilarity: np.ndarray, x: np.ndarray) -> float:
    """Normalized stress ``sqrt(sum (delta - d)^2 / sum delta^2)`` over the off-diagonal pairs."""
    delta = np.asarray(dissimilarity, dtype=float)
    iu = np.triu_indices(delta.shape[0], k=1)
    d = _pairwise(x)[iu]
    return float(np.sqrt(((delta[iu] - d) ** 2).sum() / (delta[iu] ** 2).sum()))


def metric_mds(dissimilarity: np.ndarray, dims: int = 2, max_iter: int = 500, tol: float = 1e-9) -> np.ndarray:
    """Metric (ratio) MDS by SMACOF (Guttman transform), started from classical MDS.

    See Borg & Groenen, *Modern Multidimensional Scaling* (2005), ch. 8.
    """
    delta = np.asarray(dissimilarity, dtype=float)
    n = delta.shape[0]
    x = classical_mds(delta, dims)
    prev = stress1(delta, x)
    for _ in range(max_iter):
        d = _pairwise(x)
        ratio = np.divide(delta, d, out=np.zeros_like(d), where=d > 1e-12)
        b = -ratio
        np.fill_diagonal(b, 0.0)
        np.fill_diagonal(b, -b.sum(axis=1))
        x = b @ x / n
        cur = stress1(delta, x)
        if prev - cur < tol:
            break
        prev = cur
    return x - x.mean(axis=0)


def theoretical_circle(order: Sequence[str] = SCHWARTZ_VALUES) -> np.ndarray:
    """Unit-circle coordinates of ``order`` at equal angles (the idealized circumplex)."""
    angles = 2.0 * np.pi * np.arange(len(order)) / len(order)
    return np.column_stack([np.cos(angles), np.sin(angles)])


@dataclass(frozen=True)
class ProcrustesFit:
    """Orthogonal Procrustes fit (rotation/reflection, scale, translation) of a configuration.

    Both configurations are centered and scaled to unit Frobenius norm first (as
    :func:`scipy.spatial.procrustes`). ``disparity`` is the sum of squared residuals after
    the best rotation and scale (0 = identical shape, 1 = unrelated); ``fitted`` is the
    rotated and scaled configuration, ``rotated`` the rotated one at unit norm (for
    drawing: the least-squares scale shrinks unrelated configurations towards the centre).
    """

    disparity: float
    target: np.ndarray
    fitted: np.ndarray
    rotated: np.ndarray


def _standardize(x: np.ndarray) -> np.ndarray:
    c = np.asarray(x, dtype=float) - np.mean(x, axis=0)
    norm = np.linalg.norm(c)
    if norm == 0:
        raise ValueError("configuration has a single point")
    return c / norm


def procrustes_fit(config: np.ndarray, target: np.ndarray) -> ProcrustesFit:
    """Fit ``config`` onto ``target`` by orthogonal Procrustes (Schoenemann 1966; same
    disparity as :func:`scipy.spatial.procrustes`)."""
    from scipy.linalg import orthogonal_procrustes

    tgt, cfg = _standardize(target), _standardize(config)
    rot, scale = orthogonal_procrustes(cfg, tgt)
    rotated = cfg @ rot
    fitted = rotated * scale
    return ProcrustesFit(float(np.sum((tgt - fitted) ** 2)), tgt, fitted, rotated)


def _angles_deg(x: np.ndarray) -> np.ndarray:
    c = x - x.mean(axis=0)
    return np.degrees(np.arctan2(c[:, 1], c[:, 0]))


def circle_fit_summary(config: np.ndarray, order: Sequence[str] = SCHWARTZ_VALUES) -> dict[str, Any]:
    """Procrustes fit of ``config`` to the theoretical circle, with angular deviations.

    ``cyclic_order_matches`` is True when walking around the fitted configuration meets
    the values in the theoretical circular order (either direction).
    """
    fit = procrustes_fit(config, theoretical_circle(order))
    dev = (_angles_deg(fit.fitted) - _angles_deg(fit.target) + 180.0) % 360.0 - 180.0
    seq = [order[i] for i in np.argsort(_angles_deg(fit.fitted))]
    return {"disparity": fit.disparity, "mean_abs_angle_deviation_deg": float(np.mean(np.abs(dev))),
            "angle_deviation_deg": dict(zip(order, map(float, dev))),
            "angular_order": seq, "cyclic_order_matches": _same_cycle(seq, list(order)),
            "fitted": fit.fitted, "rotated": fit.rotated}


def _same_cycle(seq: list[str], order: list[str]) -> bool:
    k = len(order)
    start = seq.index(order[0])
    forward = [seq[(start + i) % k] for i in range(k)]
    backward = [seq[(start - i) % k] for i in range(k)]
    return forward == order or backward == order


@dataclass(frozen=True)
class MDSConfiguration:
    """A 2-D metric MDS configuration of a correlation matrix and its fit to the circle."""

    values: tuple[str, ...]
    coords: np.ndarray
    stress1: float
    circle: dict[str, Any]


def mds_configuration(corr: pd.DataFrame, order: Sequence[str] = SCHWARTZ_VALUES) -> MDSConfiguration:
    """2-D metric MDS of ``corr`` (dissimilarity ``sqrt(2(1-r))``) and its circle fit."""
    delta = correlation_dissimilarity(aligned_correlations(corr, order))
    x = metric_mds(delta)
    return MDSConfiguration(tuple(order), x, stress1(delta, x), circle_fit_summary(x, order))


# --------------------------------------------------------------------------- higher-order contrasts


def higher_order_contrasts(corr: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Signs of the two bipolar higher-order contrasts (Schwartz 1992).

    For each contrast: ``between`` is the mean correlation between values of opposite
    poles (theory: negative, the poles conflict), ``within`` the mean correlation inside
    the poles, ``sign`` the sign of ``between`` and ``as_theory`` whether it is negative.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, (pole_a, pole_b) in HIGHER_ORDER.items():
        between = float(np.mean([corr.loc[a, b] for a in pole_a for b in pole_b]))
        within = float(np.mean([corr.loc[a, b] for pole in (pole_a, pole_b)
                                for a, b in itertools.combinations(pole, 2)]))
        out[name] = {"poles": [list(pole_a), list(pole_b)], "between": between, "within": within,
                     "sign": "negative" if between < 0 else ("positive" if between > 0 else "zero"),
                     "as_theory": bool(between < 0)}
    return out
