"""Which value a steering setting targets, and which held-out rows may count as held out.

**Targets.** The side-effect prediction asks which OTHER values a setting moves, so it needs the
value the setting was designed to move:

* given: ``--target ID=VALUE`` (the study config: ``side_effects.targets: {ID: VALUE}``); ``ID`` is a
  steering id (every dose) or one dose ``id@coef``; a given target always wins;
* named in the id: ``prompt:Power``, ``vec:Power`` (any ``<kind>:<Value>`` whose tail is a measured
  value; :func:`lm_eval_values.measurement.manipulation.designed_target`); an SAE feature
  (``sae:1085``, ``1025``) names no value, so its target is known only when given;
* otherwise the target is UNKNOWN: the setting is reported and left out, never guessed.

The study instead took the value a setting moved most on the training rows; that rule runs only
when asked for (``target_rule: moved-most``) and is labelled so in every output.

**Held out means held out.** A role condition that also appears among the training rows (the
no-role condition, which studies run in both splits with identical scores) was used to fit the
graph; its held-out rows are excluded (:func:`exclude_training_roles`) and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pandas as pd

from lm_eval_values.core.conditions import NO_ROLE, NO_STEERING
from lm_eval_values.core.errors import UserError
from lm_eval_values.matrix.selection import DOSE_SEPARATOR
from lm_eval_values.matrix.value_matrix import ValueMatrix
from lm_eval_values.measurement.manipulation import designed_target

TARGET_RULES = ("designed", "moved-most")
GIVEN = "given"
NAMED = "named in the id"
MOVED_MOST = "moved most on the training rows (target_rule moved-most, not a designed target)"


def base_steering_id(steering_id: str) -> str:
    """``prompt:Power@1`` -> ``prompt:Power`` (the id without its dose); other ids unchanged."""
    sid, sep, coef = str(steering_id).rpartition(DOSE_SEPARATOR)
    if not sep or not sid:
        return str(steering_id)
    try:
        float(coef)
    except ValueError:
        return str(steering_id)
    return sid


def parse_target_items(items: Sequence[str] | Mapping[str, str] | None, field_name: str = "--target"
                       ) -> tuple[tuple[str, str], ...]:
    """``["1025=Religious", ...]`` or ``{"1025": "Religious"}`` -> sorted ``((id, value), ...)``."""
    if items is None:
        return ()
    if isinstance(items, Mapping):
        pairs = [(str(k).strip(), str(v).strip()) for k, v in items.items()]
    elif isinstance(items, (str, bytes)):
        raise UserError(field_name, f"must be a list of ID=VALUE, got {items!r}", "e.g. --target 1025=Religious")
    else:
        pairs = []
        for it in items:
            sid, sep, value = str(it).partition("=")
            if not sep or not sid.strip() or not value.strip():
                raise UserError(field_name, f"{it!r} is not ID=VALUE", "e.g. --target 1025=Religious")
            pairs.append((sid.strip(), value.strip()))
    ids = [k for k, _ in pairs]
    dup = sorted({k for k in ids if ids.count(k) > 1})
    if dup:
        raise UserError(field_name, f"steering id {dup[0]!r} is given more than once", "give each id one target")
    for k, v in pairs:
        if not k or not v:
            raise UserError(field_name, f"empty id or value in {k!r}={v!r}", "e.g. 1025=Religious")
    return tuple(sorted(pairs))


@dataclass(frozen=True)
class TargetChoice:
    """The targets of the settings evaluated.

    Attributes:
        targets: ``{setting: value}`` of the settings whose target is known (evaluated).
        sources: ``{setting: how the target is known}`` (given / named in the id / moved most).
        unknown: ``{setting: why no target}`` (left out, reported).
        named: ``{setting: value named in the id or None}`` (for comparison with the moved-most rule).
        rule: the target rule used.
    """

    targets: dict[str, str]
    sources: dict[str, str]
    unknown: dict[str, str]
    named: dict[str, str | None] = field(default_factory=dict)
    rule: str = "designed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"rule": self.rule, "targets": dict(self.targets), "sources": dict(self.sources),
                "unknown": dict(self.unknown), "named": dict(self.named)}


def check_target_rule(rule: str, field_name: str = "target_rule") -> None:
    """:class:`UserError` unless ``rule`` is one of :data:`TARGET_RULES`."""
    if rule not in TARGET_RULES:
        raise UserError(field_name, f"unknown target rule {rule!r}", f"use one of: {', '.join(TARGET_RULES)}")


def resolve_targets(settings: Sequence[str], values: Sequence[str], given: Sequence[tuple[str, str]] = (),
                    rule: str = "designed", train_changes: Mapping[str, pd.DataFrame] | None = None) -> TargetChoice:
    """The target of every setting (see the module docstring).

    Args:
        settings: steering (dose) ids evaluated.
        values: the measured values.
        given: ``(id, value)`` pairs; ``id`` a dose id or a plain steering id (all its doses).
        rule: ``designed`` (given or named, else unknown) or ``moved-most`` (given, else the value with the
            largest |mean paired change| over the training roles).
        train_changes: ``{setting: roles x values}`` paired changes on the training rows (moved-most only).
    """
    check_target_rule(rule)
    values = list(values)
    given_map = dict(given)
    known_ids = set(settings) | {base_steering_id(s) for s in settings}
    stray = sorted(k for k in given_map if k not in known_ids)
    if stray:
        raise UserError("targets", f"target given for unknown steering id {stray[0]!r}",
                        f"use some of: {', '.join(sorted(known_ids))}")
    bad = sorted((k, v) for k, v in given_map.items() if v not in values)
    if bad:
        raise UserError("targets", f"target {bad[0][1]!r} of {bad[0][0]!r} is not a measured value",
                        f"use one of: {', '.join(values)}")
    targets, sources, unknown, named = {}, {}, {}, {}
    for s in settings:
        base = base_steering_id(s)
        name, _ = designed_target(base, values, {})
        named[s] = name
        if s in given_map or base in given_map:
            targets[s], sources[s] = given_map.get(s, given_map.get(base, "")), GIVEN
        elif rule == "moved-most":
            d = (train_changes or {}).get(s)
            if d is None or d.empty or not d.notna().to_numpy().any():
                unknown[s] = "moved-most rule: the setting has no paired training rows"
                continue
            targets[s], sources[s] = str(d[values].mean().abs().idxmax()), MOVED_MOST
        elif name is not None:
            targets[s], sources[s] = name, NAMED
        else:
            tail = base.split(":", 1)[1] if ":" in base else ""
            what = (f"names {tail!r}, which is not a measured value" if tail and not tail.isdigit()
                    else "names no value (e.g. an SAE feature)")
            unknown[s] = f"target unknown: it {what}; give --target {base}=VALUE"
    return TargetChoice(targets, sources, unknown, named, rule)


def training_roles(train: ValueMatrix) -> set[str]:
    """Role ids of the training rows."""
    return set(train.meta["role_id"].astype(str))


def exclude_training_roles(train: ValueMatrix, heldout: ValueMatrix) -> tuple[ValueMatrix, dict[str, Any]]:
    """``heldout`` without the rows of roles that also appear in ``train``, and what was excluded."""
    shared = sorted(training_roles(train) & set(heldout.meta["role_id"].astype(str)))
    keep = ~heldout.meta["role_id"].astype(str).isin(shared).to_numpy()
    kept = ValueMatrix(heldout.scores.loc[keep].copy(), heldout.meta.loc[keep].copy(), heldout.source)
    labels = ["(no role)" if r == NO_ROLE else r for r in shared]
    info = {"roles": labels, "n_roles": len(shared), "n_rows": int((~keep).sum()),
            "reason": "role conditions also among the training rows (used to fit the graph) are not held out"}
    return kept, info


def steered_ids(vm: ValueMatrix) -> list[str]:
    """Steered ids of ``vm`` in first-seen order."""
    return [s for s in vm.steering_ids if s != NO_STEERING]


__all__ = ["GIVEN", "MOVED_MOST", "NAMED", "TARGET_RULES", "TargetChoice", "base_steering_id", "check_target_rule",
           "exclude_training_roles", "parse_target_items", "resolve_targets", "steered_ids", "training_roles"]
