"""Versions of the packages that determine results, recorded next to every result file."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Sequence

#: recorded in a sweep manifest
SWEEP_PACKAGES: tuple[str, ...] = ("lm-eval-values", "lm_eval", "torch", "transformers", "datasets")
#: recorded in ``study.json``
STUDY_PACKAGES: tuple[str, ...] = ("lm-eval-values", "lm_eval", "torch", "transformers", "causal-learn", "networkx",
                                   "numpy", "pandas", "matplotlib", "scipy")
#: recorded by ``graph``
GRAPH_PACKAGES: tuple[str, ...] = ("causal-learn", "networkx")
#: recorded next to a trained SAE
SAE_PACKAGES: tuple[str, ...] = ("sae_lens", "torch", "transformers")


def package_versions(distributions: Sequence[str], python: bool = True) -> dict[str, str]:
    """``{"python": ..., distribution: version}`` (``"not installed"`` for a missing distribution)."""
    out = {"python": platform.python_version()} if python else {}
    for dist in distributions:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
