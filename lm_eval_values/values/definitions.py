"""Value definitions and the value-definition prompt (the study's prompting baseline).

"You are inclined to the value of Power, which means seeking social status and prestige, ...":
the same text steers a sweep (``{type: prompt}`` steering entries), builds the study's
diff-of-means vectors and the SAE corpus, and contrasts value-high with value-low prompts
in feature discovery.
"""

from __future__ import annotations

from lm_eval_values.core.errors import UserError
from lm_eval_values.values.names import SCHWARTZ_VALUES

#: Value definitions for the value-definition prompt baseline (written for this project).
VALUE_DEFINITIONS: dict[str, str] = {
    "Power": "seeking social status and prestige, and control or dominance over people and resources",
    "Achievement": "seeking personal success by showing competence according to the standards of others",
    "Hedonism": "seeking pleasure, enjoyment and sensuous gratification for oneself",
    "Stimulation": "seeking excitement, novelty and challenge in life",
    "Self-Direction": "thinking and acting independently: choosing, creating and exploring on one's own terms",
    "Universalism": "understanding, appreciating, tolerating and protecting the welfare of all people and of nature",
    "Benevolence": "preserving and enhancing the welfare of the people one is in frequent personal contact with",
    "Tradition": "respecting, committing to and accepting the customs and ideas of one's culture or religion",
    "Conformity": "restraining actions and impulses that might upset or harm others or break social expectations",
    "Security": "seeking safety, harmony and stability of society, of relationships and of oneself",
}

#: prompt directions and their steering coefficient
DIRECTIONS: dict[str, float] = {"inclined": 1.0, "disinclined": -1.0}

PROMPT_TEMPLATE = "You are {direction} to the value of {value}, which means {definition}."


def definition_prompt(value: str, direction: str, definition: str) -> str:
    """The study's value-definition prompt: "You are inclined to the value of X, which means ..."."""
    return PROMPT_TEMPLATE.format(direction=direction, value=value, definition=definition)


def value_definition_prompt(value: str, direction: str = "inclined", definition: str | None = None) -> str:
    """:func:`definition_prompt` with the project's definition of ``value`` (checked: a known value and direction)."""
    if direction not in DIRECTIONS:
        raise UserError("direction", f"unknown direction {direction!r}", "use inclined or disinclined")
    d = definition if definition is not None else VALUE_DEFINITIONS.get(value)
    if d is None:
        raise UserError("value", f"no definition for {value!r}", f"use one of: {', '.join(SCHWARTZ_VALUES)}")
    return definition_prompt(value, direction, d)
