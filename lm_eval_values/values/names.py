"""Canonical value names shared by tasks, matrices, graphs and the human reference.

Matrix columns and graph nodes use the display names below; task names use the slugs.
"""

from __future__ import annotations

import re

#: Schwartz's 10 basic values, in the circular order of the PVQ-40 human reference
#: (Borg, Bardi & Schwartz 2017; see lm_eval_values/data/schwartz_pvq40_human.json).
SCHWARTZ_VALUES: tuple[str, ...] = (
    "Power", "Achievement", "Hedonism", "Stimulation", "Self-Direction",
    "Universalism", "Benevolence", "Tradition", "Conformity", "Security",
)

#: The 17 ValueBench dimensions with at least 20 items used by Kang et al. (2025) ("VCG17"),
#: in the column order of the study's CSVs.
VCG17_VALUES: tuple[str, ...] = (
    "Achievement", "Aesthetic", "Anxiety Disorder", "Breadth of Interest", "Economic", "Empathy",
    "Organization", "Political", "Positive coping", "Religious", "Resilience", "Social",
    "Social Complexity", "Social Cynicism", "Theoretical", "Uncertainty Avoidance", "Understanding",
)


def slugify(name: str) -> str:
    """Task-name slug of a value name: ``"Self-Direction" -> "self_direction"``."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()
    return slug or "value"


SCHWARTZ_SLUGS: dict[str, str] = {slugify(v): v for v in SCHWARTZ_VALUES}
