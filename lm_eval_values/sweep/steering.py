"""Steering settings of a sweep: the ``steering:`` list of a config, expanded into one setting per dose.

Steering ids: ``none``; ``<id>:<feature>`` for SAE entries (id defaults to ``sae``); the entry id
for vector/spec entries; ``prompt:<Value>`` (coefficient +1 inclined, -1 disinclined) for
value-definition prompts, which are appended to the role text. SAE/vector/spec settings are
passed to ``ValuesHFLM.set_condition(steer=...)`` as :mod:`steering_hooks` spec dicts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval_values.core.conditions import format_number
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.hashing import file_digest
from lm_eval_values.core.reserved import check_steering_id
from lm_eval_values.sweep.fields import as_int, as_mapping, as_number_list, as_path, as_str, as_str_list, check_keys
from lm_eval_values.values.definitions import DIRECTIONS, PROMPT_TEMPLATE, VALUE_DEFINITIONS
from steering_hooks.errors import SpecError
from steering_hooks.sae_refs import parse_sae_ref

_STEER_KEYS: dict[str, set[str]] = {
    "none": {"type", "id"},
    "sae": {"type", "id", "sae", "layer", "hookpoint", "features", "coefficients", "op", "positions", "options"},
    "vector": {"type", "id", "vector", "layer", "hookpoint", "coefficients", "op", "positions", "options"},
    "spec": {"type", "id", "spec", "coefficients"},
    "prompt": {"type", "id", "values", "directions", "definitions", "template"},
}


@dataclass(frozen=True)
class SteeringSetting:
    """One steering setting of the grid.

    Attributes:
        id: steering id in the matrix (``"none"``, ``"sae:12"``, ``"vec"``, ``"prompt:Power"``).
        kind: ``none``, ``sae``, ``vector``, ``spec`` or ``prompt``.
        coefficient: the coefficient (0 for none; +1/-1 for inclined/disinclined prompts).
        steer: what is passed to ``ValuesHFLM.set_condition(steer=...)`` (None: no steering).
        prompt: text appended to the role text (value-definition prompts), else ``""``.
    """

    id: str
    kind: str
    coefficient: float
    steer: Any = None
    prompt: str = ""
    sources: tuple[tuple[str, str], ...] = ()

    def record(self) -> dict[str, Any]:
        """JSON-able description (hashed into the condition id; includes source file digests)."""
        out = {"id": self.id, "kind": self.kind, "coefficient": self.coefficient,
               "steer": jsonable(self.steer), "prompt": self.prompt}
        if self.sources:
            out["sources"] = dict(self.sources)
        return out


def jsonable(x: Any) -> Any:
    """``x`` as plain JSON data (steering specs as dicts, paths as text)."""
    if hasattr(x, "to_dict") and callable(x.to_dict):  # a steering_hooks SteeringSpec (tensors summarised)
        return jsonable(x.to_dict())
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x


def _steer_target(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """The intervention keys shared by an entry's settings (layer/hook, op, positions, options)."""
    out: dict[str, Any] = {}
    if "layer" in entry and "hookpoint" in entry:
        raise UserError(f"{where}.hookpoint", "give either layer or hookpoint, not both", "remove one of them")
    if "layer" in entry:
        out["layer"] = as_int(entry["layer"], f"{where}.layer", minimum=0)
    elif "hookpoint" in entry:
        out["layer"] = as_str(entry["hookpoint"], f"{where}.hookpoint")
    out["op"] = as_str(entry.get("op", "add"), f"{where}.op")
    if "positions" in entry:
        out["positions"] = as_str(entry["positions"], f"{where}.positions")
    for k, v in as_mapping(entry.get("options"), f"{where}.options").items():
        if k in ("sae", "vector", "feature", "coeff", "layer", "op", "positions"):
            raise UserError(f"{where}.options.{k}", "is set by the entry itself", f"use the entry's own key for {k}")
        out[str(k)] = v
    return out


def _spec(name: str, intervention: dict[str, Any], where: str) -> dict[str, Any]:
    """A one-intervention :mod:`steering_hooks` spec dict, parsed once to validate it (no files read)."""
    spec = {"name": name, "interventions": [intervention]}
    _validate_spec(spec, where)
    return spec


def _validate_spec(spec: Any, where: str) -> Any:
    from steering_hooks.errors import SpecError
    from steering_hooks.spec import spec_from_obj

    try:
        return spec_from_obj(spec)
    except SpecError as exc:
        raise UserError(f"{where}.{exc.field}", exc.problem, exc.fix) from None


def parse_steering(entries: Any, base: Path) -> list[SteeringSetting]:
    """Expand the ``steering`` list of a config into settings (ids unique, in config order)."""
    if entries is None:
        entries = [{"type": "none"}]
    if not isinstance(entries, list) or not entries:
        raise UserError("steering", "must be a non-empty list of steering entries", "e.g. [{type: none}]")
    settings: list[SteeringSetting] = []
    for i, entry in enumerate(entries):
        where = f"steering[{i}]"
        if isinstance(entry, str) and entry == "none":
            entry = {"type": "none"}
        entry = as_mapping(entry, where)
        kind = entry.get("type")
        if kind not in _STEER_KEYS:
            raise UserError(f"{where}.type", f"unknown steering type {kind!r}",
                            f"use one of: {', '.join(_STEER_KEYS)}")
        check_keys(entry, _STEER_KEYS[kind], f"{where}.")
        sid = None
        if "id" in entry:  # the reserved id "none" only for entries that do not steer
            sid = check_steering_id(as_str(entry["id"], f"{where}.id"), kind != "none", f"{where}.id")
        if kind == "none":
            settings.append(SteeringSetting(id=sid or "none", kind="none", coefficient=0.0))
        elif kind == "sae":
            if "sae" not in entry or "features" not in entry or "coefficients" not in entry:
                raise UserError(where, "an sae entry needs sae, features and coefficients",
                                "add sae: <folder>, features: [..], coefficients: [..]")
            sae_ref = _sae_ref(entry["sae"], f"{where}.sae", base)
            src = ((sae_ref, file_digest(sae_ref)),) if Path(sae_ref).exists() else ()
            feats = entry["features"] if isinstance(entry["features"], list) else [entry["features"]]
            if not feats:
                raise UserError(f"{where}.features", "is empty", "list at least one feature index")
            feats = [as_int(f, f"{where}.features[{j}]", minimum=0) for j, f in enumerate(feats)]
            target = _steer_target(entry, where)
            for f in feats:
                for c in as_number_list(entry["coefficients"], f"{where}.coefficients"):
                    steer = _spec(f"{sid or 'sae'}:{f}", {**target, "sae": sae_ref, "feature": f, "coeff": c}, where)
                    settings.append(SteeringSetting(id=f"{sid or 'sae'}:{f}", kind="sae", coefficient=c, steer=steer,
                                                    sources=src))
        elif kind == "vector":
            if "vector" not in entry or "coefficients" not in entry:
                raise UserError(where, "a vector entry needs vector and coefficients",
                                "add vector: <file>, coefficients: [..]")
            vec = str(as_path(entry["vector"], f"{where}.vector", base))
            target = _steer_target(entry, where)
            for c in as_number_list(entry["coefficients"], f"{where}.coefficients"):
                steer = _spec(sid or "vector", {**target, "vector": vec, "coeff": c}, where)
                settings.append(SteeringSetting(id=sid or "vector", kind="vector", coefficient=c, steer=steer,
                                                sources=((vec, file_digest(vec)),)))
        elif kind == "spec":
            if "spec" not in entry:
                raise UserError(f"{where}.spec", "missing", "give a steering spec file or mapping")
            spec = entry["spec"]
            spec_obj = _validate_spec(str(as_path(spec, f"{where}.spec", base)) if isinstance(spec, str)
                                      else as_mapping(spec, f"{where}.spec"), f"{where}.spec")
            if spec_obj.name is None:
                spec_obj.name = sid or "spec"
            if "coefficients" in entry:
                for c in as_number_list(entry["coefficients"], f"{where}.coefficients"):
                    scaled = type(spec_obj)([dataclasses.replace(iv, coeff=c) for iv in spec_obj.interventions],
                                            name=spec_obj.name)
                    settings.append(SteeringSetting(id=sid or "spec", kind="spec", coefficient=c, steer=scaled))
            else:
                settings.append(SteeringSetting(id=sid or "spec", kind="spec", coefficient=1.0, steer=spec_obj))
        else:  # prompt
            values = as_str_list(entry.get("values"), f"{where}.values")
            dirs = as_str_list(entry.get("directions", ["inclined", "disinclined"]), f"{where}.directions")
            defs = dict(VALUE_DEFINITIONS)
            defs.update({str(k): as_str(v, f"{where}.definitions.{k}")
                         for k, v in as_mapping(entry.get("definitions"), f"{where}.definitions").items()})
            template = as_str(entry.get("template", PROMPT_TEMPLATE), f"{where}.template")
            for v in values:
                if v not in defs:
                    raise UserError(f"{where}.values", f"no definition for value {v!r}",
                                    f"add it under definitions, or use one of: {', '.join(VALUE_DEFINITIONS)}")
                for d in dirs:
                    if d not in DIRECTIONS:
                        raise UserError(f"{where}.directions", f"unknown direction {d!r}", "use inclined or disinclined")
                    try:
                        text = template.format(direction=d, value=v, definition=defs[v])
                    except (KeyError, IndexError, ValueError) as exc:
                        raise UserError(f"{where}.template", f"cannot be filled ({exc})",
                                        "use only {direction}, {value} and {definition}") from None
                    settings.append(SteeringSetting(id=f"{sid or 'prompt'}:{v}", kind="prompt",
                                                    coefficient=DIRECTIONS[d], prompt=text))
    seen: set[tuple[str, float]] = set()
    for s in settings:
        key = (s.id, s.coefficient)
        if key in seen:
            raise UserError("steering", f"steering setting {s.id!r} with coefficient {format_number(s.coefficient)} "
                            "appears twice", "give each entry a distinct id")
        seen.add(key)
    return settings


def _sae_ref(x: Any, where: str, base: Path) -> str:
    """An SAE reference (syntax of :mod:`steering_hooks.sae_refs`): a local folder resolved against the
    config's folder (must exist), or a sae-lens registry reference kept as written (resolved when checked)."""
    if isinstance(x, str) and x.strip() and (base / x.strip()).exists():
        return str(as_path(x, where, base))
    try:
        ref = parse_sae_ref(x, where)
    except SpecError as exc:
        raise UserError(exc.field, exc.problem, exc.fix) from None
    return str(as_path(ref.path, where, base)) if ref.is_local else str(ref)
