"""Sweep configuration: parse and validate a YAML config, expand it into conditions.

Everything is validated BEFORE anything runs or is written: unknown keys, wrong types,
missing files and impossible combinations raise :class:`~lm_eval_values.errors.UserError`
naming the key. Relative paths are resolved against the config file's folder.

Example (all keys; only ``model_args.pretrained`` and ``tasks`` are required)::

    model: values_hf                 # or hf (roles only, as system_instruction)
    model_args: {pretrained: smollm2-135m-instruct, dtype: float32}
    tasks: [values_schwartz]
    format: yesno                    # yesno | yesno_rev | likert | likert_rev | generate: picks the task
                                     # variant (values_schwartz -> values_schwartz_likert ...); null: as named;
                                     # yesno_cb / likert_cb: both option orders of every item (counterbalanced)
    task_metadata: {}                # more metadata for the TaskManager
    include_path: []                 # extra task folders
    apply_chat_template: true
    num_fewshot: null
    gen_kwargs: null
    score_metric: null               # per-sample item score metric (null: auto)
    roles:
      generate: {train: 20, test: 0, seed: 0, names: true}
      files: [{path: players100.json, split: train}]
      template: trait                # trait | bio | system | text
      no_role: true                  # or a list of splits, e.g. [train, test]
      limit: null                    # keep the first N roles of each split
    steering:
      - {type: none}
      - {type: sae, id: sae, sae: ./sae_dir, layer: 6, features: [12, 40], coefficients: [50, 100],
         positions: 'span:" your values"'}        # op (default add), options: {scale: ...}
      - {type: vector, id: vec, vector: ./v.safetensors, layer: 3, coefficients: [4, 8], positions: prompt}
      - {type: spec, id: mine, spec: ./spec.yaml, coefficients: [1, 2]}   # steering_hooks spec; coeff overridden
      - {type: prompt, values: [Power], directions: [inclined, disinclined]}

    sampling: {fraction: 0.4, seed: 0, per_split: {test: 1.0}, max_items_per_value: null, per_role: true,
               balance_keys: false}  # balance_keys: true (in proportion) | equal | false
    seeds: [0]
    batch_size: 8
    device: null
    output_dir: runs/sweep1

Steering ids: ``none``; ``<id>:<feature>`` for SAE entries (id defaults to ``sae``); the entry id
for vector/spec entries; ``prompt:<Value>`` (coefficient +1 inclined, -1 disinclined) for
value-definition prompts, which are appended to the role text. SAE/vector/spec settings are
passed to ``ValuesHFLM.set_condition(steer=...)`` as :mod:`steering_hooks` spec dicts.

Conditions are seeds x roles x steering settings, in that nesting order (the grid index).
Item sampling draws ``round(fraction x n)`` (at least 1, at most ``max_items_per_value``) of each
value's items per (seed, role, value), seeded with the sampling seed; ``per_split`` overrides the
fraction for a split (the study: 40% on train roles, all items on test roles). ``per_role: true``
(the study) draws anew for every role; ``per_role: false`` asks every role the same items (drawn per
seed and value), so that differences between roles are not differences between item draws (a role
that happened to get more reverse-keyed items of a value would otherwise differ on that value even if
it answered exactly like the others). ``balance_keys: true`` draws positively and reverse-keyed items of
a value in proportion (at least one of each when there are at least two to draw), so a response bias
such as answering "no" to everything does not turn into a value score through the keys of the draw;
``balance_keys: equal`` draws as many reverse-keyed as keyed items (as far as the bank has them),
so that such a bias cancels exactly in the value mean. Items are drawn by item id: with a
counterbalanced ``format`` (``yesno_cb``, ``likert_cb``) a drawn item is asked in both option orders.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence


from lm_eval_values.errors import UserError
from lm_eval_values.paths import expand_path
from lm_eval_values.yaml_io import read_yaml_file
from lm_eval_values.roles import NO_ROLE_ID, TEMPLATES, Role, check_unique_ids, generate_roles, load_roles, no_role
from lm_eval_values.value_names import SCHWARTZ_VALUES

CONFIG_VERSION = 1

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

DIRECTIONS: dict[str, float] = {"inclined": 1.0, "disinclined": -1.0}

_TOP_KEYS = {
    "model", "model_args", "tasks", "format", "task_metadata", "include_path", "apply_chat_template",
    "fewshot_as_multiturn", "num_fewshot", "gen_kwargs", "score_metric", "roles", "steering", "sampling",
    "seeds", "batch_size", "device", "output_dir", "bootstrap_iters",
}
_ROLES_KEYS = {"generate", "files", "template", "no_role", "limit"}
_GEN_KEYS = {"train", "test", "seed", "names"}
_FILE_KEYS = {"path", "split"}
_SAMPLING_KEYS = {"fraction", "seed", "per_split", "max_items_per_value", "per_role", "balance_keys"}
_STEER_KEYS: dict[str, set[str]] = {
    "none": {"type", "id"},
    "sae": {"type", "id", "sae", "layer", "hookpoint", "features", "coefficients", "op", "positions", "options"},
    "vector": {"type", "id", "vector", "layer", "hookpoint", "coefficients", "op", "positions", "options"},
    "spec": {"type", "id", "spec", "coefficients"},
    "prompt": {"type", "id", "values", "directions", "definitions", "template"},
}
MODELS = ("values_hf", "hf")

PROMPT_TEMPLATE = "You are {direction} to the value of {value}, which means {definition}."


# ----------------------------------------------------------------------------- small checks
def _unknown(d: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for k in d:
        if k not in allowed:
            raise UserError(f"{where}{k}" if where else str(k), "unknown key",
                            f"remove it; allowed keys here: {', '.join(sorted(allowed))}")


def _mapping(x: Any, where: str) -> dict[str, Any]:
    if x is None:
        return {}
    if not isinstance(x, dict):
        raise UserError(where, f"must be a mapping, got {type(x).__name__}", "write key: value pairs")
    return x


def _int(x: Any, where: str, minimum: int | None = None, allow_none: bool = False) -> int | None:
    if x is None and allow_none:
        return None
    if isinstance(x, bool) or not isinstance(x, int):
        raise UserError(where, f"must be an integer, got {x!r}", "give a whole number")
    if minimum is not None and x < minimum:
        raise UserError(where, f"must be >= {minimum}, got {x}", f"give a number >= {minimum}")
    return x


def _number(x: Any, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(float(x)):
        raise UserError(where, f"must be a finite number, got {x!r}", "give a number")
    return float(x)


def _bool(x: Any, where: str) -> bool:
    if not isinstance(x, bool):
        raise UserError(where, f"must be true or false, got {x!r}", "write true or false")
    return x


def _str(x: Any, where: str) -> str:
    if not isinstance(x, str) or not x.strip():
        raise UserError(where, f"must be a non-empty string, got {x!r}", "give a string")
    return x.strip()


def _str_list(x: Any, where: str) -> list[str]:
    if isinstance(x, str):
        x = [x]
    if not isinstance(x, list) or not x:
        raise UserError(where, f"must be a non-empty list of strings, got {x!r}", "give e.g. [a, b]")
    return [_str(v, f"{where}[{i}]") for i, v in enumerate(x)]


def _number_list(x: Any, where: str) -> list[float]:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        x = [x]
    if not isinstance(x, list) or not x:
        raise UserError(where, f"must be a non-empty list of numbers, got {x!r}", "give e.g. [50, 100]")
    return [_number(v, f"{where}[{i}]") for i, v in enumerate(x)]


def _path(x: Any, where: str, base: Path, must_exist: bool = True) -> Path:
    p = expand_path(_str(x, where))
    if not p.is_absolute():
        p = (base / p).resolve()
    if must_exist and not p.exists():
        raise UserError(where, f"{p} does not exist", "fix the path (relative paths are relative to the config file)")
    return p


def format_number(x: float) -> str:
    """Canonical text of a coefficient: ``100.0 -> "100"``, ``0.5 -> "0.5"``, ``-1.0 -> "-1"``."""
    x = float(x)
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def canonical_json(obj: Any) -> str:
    """Key-sorted, compact JSON used for hashing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(text: str) -> str:
    """SHA-256 of UTF-8 text, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- steering
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
               "steer": _jsonable(self.steer), "prompt": self.prompt}
        if self.sources:
            out["sources"] = dict(self.sources)
        return out


_DIGESTS: dict[str, str] = {}


def file_digest(path: str | Path) -> str:
    """sha256 of a file, or of a folder's files (names and contents, sorted); cached per process."""
    p = Path(path)
    key = str(p.resolve())
    if key not in _DIGESTS:
        h = hashlib.sha256()
        files = [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file())
        for f in files:
            h.update(f.relative_to(p).as_posix().encode() if f != p else b"")
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def _jsonable(x: Any) -> Any:
    if hasattr(x, "to_dict") and callable(x.to_dict):  # a steering_hooks SteeringSpec (tensors summarised)
        return _jsonable(x.to_dict())
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def _steer_target(entry: dict[str, Any], where: str) -> dict[str, Any]:
    """The intervention keys shared by an entry's settings (layer/hook, op, positions, options)."""
    out: dict[str, Any] = {}
    if "layer" in entry and "hookpoint" in entry:
        raise UserError(f"{where}.hookpoint", "give either layer or hookpoint, not both", "remove one of them")
    if "layer" in entry:
        out["layer"] = _int(entry["layer"], f"{where}.layer", minimum=0)
    elif "hookpoint" in entry:
        out["layer"] = _str(entry["hookpoint"], f"{where}.hookpoint")
    out["op"] = _str(entry.get("op", "add"), f"{where}.op")
    if "positions" in entry:
        out["positions"] = _str(entry["positions"], f"{where}.positions")
    for k, v in _mapping(entry.get("options"), f"{where}.options").items():
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
        entry = _mapping(entry, where)
        kind = entry.get("type")
        if kind not in _STEER_KEYS:
            raise UserError(f"{where}.type", f"unknown steering type {kind!r}",
                            f"use one of: {', '.join(_STEER_KEYS)}")
        _unknown(entry, _STEER_KEYS[kind], f"{where}.")
        sid = _str(entry["id"], f"{where}.id") if "id" in entry else None
        if kind == "none":
            settings.append(SteeringSetting(id=sid or "none", kind="none", coefficient=0.0))
        elif kind == "sae":
            if "sae" not in entry or "features" not in entry or "coefficients" not in entry:
                raise UserError(where, "an sae entry needs sae, features and coefficients",
                                "add sae: <folder>, features: [..], coefficients: [..]")
            sae = entry["sae"]
            sae_ref: str = str(_path(sae, f"{where}.sae", base)) if not _looks_like_release(sae) else _str(sae, f"{where}.sae")
            src = ((sae_ref, file_digest(sae_ref)),) if Path(sae_ref).exists() else ()
            feats = entry["features"] if isinstance(entry["features"], list) else [entry["features"]]
            if not feats:
                raise UserError(f"{where}.features", "is empty", "list at least one feature index")
            feats = [_int(f, f"{where}.features[{j}]", minimum=0) for j, f in enumerate(feats)]
            target = _steer_target(entry, where)
            for f in feats:
                for c in _number_list(entry["coefficients"], f"{where}.coefficients"):
                    steer = _spec(f"{sid or 'sae'}:{f}", {**target, "sae": sae_ref, "feature": f, "coeff": c}, where)
                    settings.append(SteeringSetting(id=f"{sid or 'sae'}:{f}", kind="sae", coefficient=c, steer=steer,
                                                    sources=src))
        elif kind == "vector":
            if "vector" not in entry or "coefficients" not in entry:
                raise UserError(where, "a vector entry needs vector and coefficients",
                                "add vector: <file>, coefficients: [..]")
            vec = str(_path(entry["vector"], f"{where}.vector", base))
            target = _steer_target(entry, where)
            for c in _number_list(entry["coefficients"], f"{where}.coefficients"):
                steer = _spec(sid or "vector", {**target, "vector": vec, "coeff": c}, where)
                settings.append(SteeringSetting(id=sid or "vector", kind="vector", coefficient=c, steer=steer,
                                                sources=((vec, file_digest(vec)),)))
        elif kind == "spec":
            if "spec" not in entry:
                raise UserError(f"{where}.spec", "missing", "give a steering spec file or mapping")
            spec = entry["spec"]
            spec_obj = _validate_spec(str(_path(spec, f"{where}.spec", base)) if isinstance(spec, str)
                                      else _mapping(spec, f"{where}.spec"), f"{where}.spec")
            if spec_obj.name is None:
                spec_obj.name = sid or "spec"
            if "coefficients" in entry:
                for c in _number_list(entry["coefficients"], f"{where}.coefficients"):
                    scaled = type(spec_obj)([dataclasses.replace(iv, coeff=c) for iv in spec_obj.interventions],
                                            name=spec_obj.name)
                    settings.append(SteeringSetting(id=sid or "spec", kind="spec", coefficient=c, steer=scaled))
            else:
                settings.append(SteeringSetting(id=sid or "spec", kind="spec", coefficient=1.0, steer=spec_obj))
        else:  # prompt
            values = _str_list(entry.get("values"), f"{where}.values")
            dirs = _str_list(entry.get("directions", ["inclined", "disinclined"]), f"{where}.directions")
            defs = dict(VALUE_DEFINITIONS)
            defs.update({str(k): _str(v, f"{where}.definitions.{k}")
                         for k, v in _mapping(entry.get("definitions"), f"{where}.definitions").items()})
            template = _str(entry.get("template", PROMPT_TEMPLATE), f"{where}.template")
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


def _looks_like_release(x: Any) -> bool:
    """``release/sae_id`` strings that are not local paths (sae-lens ``from_pretrained``)."""
    return (isinstance(x, str) and "/" in x and not x.startswith((".", "/", "~", "$"))
            and not Path(x).exists())


def value_definition_prompt(value: str, direction: str = "inclined", definition: str | None = None) -> str:
    """The study's value-definition prompt, e.g. "You are inclined to the value of Power, which means ..."."""
    if direction not in DIRECTIONS:
        raise UserError("direction", f"unknown direction {direction!r}", "use inclined or disinclined")
    d = definition if definition is not None else VALUE_DEFINITIONS.get(value)
    if d is None:
        raise UserError("value", f"no definition for {value!r}", f"use one of: {', '.join(SCHWARTZ_VALUES)}")
    return PROMPT_TEMPLATE.format(direction=direction, value=value, definition=d)


# ----------------------------------------------------------------------------- roles and sampling
@dataclass(frozen=True)
class SamplingConfig:
    """Item sampling per condition: a seeded fraction of each value's items, or all items."""

    fraction: float = 1.0
    seed: int = 0
    per_split: Mapping[str, float] = field(default_factory=dict)
    max_items_per_value: int | None = None
    per_role: bool = True
    balance_keys: bool | str = False

    def fraction_for(self, split: str) -> float:
        """The fraction of items asked in ``split``."""
        return float(self.per_split.get(split, self.fraction))

    def record(self) -> dict[str, Any]:
        out = {"fraction": self.fraction, "seed": self.seed, "per_split": dict(sorted(self.per_split.items())),
               "max_items_per_value": self.max_items_per_value}
        if not self.per_role:  # only when set: sweeps written before these options keep their identity
            out["per_role"] = False
        if self.balance_keys:
            out["balance_keys"] = self.balance_keys  # true, or "equal"
        return out


def _fraction(x: Any, where: str) -> float:
    if x is None:
        return 1.0
    f = _number(x, where)
    if not 0 < f <= 1:
        raise UserError(where, f"must be in (0, 1], got {x!r}", "e.g. 0.4 for the study's 40%, 1 for all items")
    return f


def parse_sampling(x: Any) -> SamplingConfig:
    """Validate the ``sampling`` mapping."""
    d = _mapping(x, "sampling")
    _unknown(d, _SAMPLING_KEYS, "sampling.")
    per = {str(k): _fraction(v, f"sampling.per_split.{k}") for k, v in _mapping(d.get("per_split"), "sampling.per_split").items()}
    return SamplingConfig(fraction=_fraction(d.get("fraction"), "sampling.fraction"),
                          seed=_int(d.get("seed", 0), "sampling.seed"),  # type: ignore[arg-type]
                          per_split=per,
                          max_items_per_value=_int(d.get("max_items_per_value"), "sampling.max_items_per_value",
                                                   minimum=1, allow_none=True),
                          per_role=_bool(d.get("per_role", True), "sampling.per_role"),
                          balance_keys=_balance_keys(d.get("balance_keys", False)))


def _balance_keys(x: Any) -> bool | str:
    if x == "equal" or isinstance(x, bool):
        return x
    raise UserError("sampling.balance_keys", f"must be true, false or equal, got {x!r}",
                    "true: keys in proportion to the item bank; equal: as many reverse-keyed as keyed items")


def parse_roles(x: Any, base: Path) -> list[Role]:
    """Validate the ``roles`` mapping and build the role list (no-role conditions first in each split)."""
    d = _mapping(x, "roles")
    _unknown(d, _ROLES_KEYS, "roles.")
    template = d.get("template", "trait")
    if template not in TEMPLATES:
        raise UserError("roles.template", f"unknown role template {template!r}", f"use one of: {', '.join(TEMPLATES)}")
    roles: list[Role] = []
    if d.get("generate") is not None:
        g = _mapping(d["generate"], "roles.generate")
        _unknown(g, _GEN_KEYS, "roles.generate.")
        roles += generate_roles(n_train=_int(g.get("train", 100), "roles.generate.train", 0),  # type: ignore[arg-type]
                                n_test=_int(g.get("test", 25), "roles.generate.test", 0),  # type: ignore[arg-type]
                                seed=_int(g.get("seed", 0), "roles.generate.seed"),  # type: ignore[arg-type]
                                names=_bool(g.get("names", True), "roles.generate.names"),
                                template="trait" if template == "text" else template)
    files = d.get("files") or []
    if not isinstance(files, list):
        raise UserError("roles.files", "must be a list of {path, split}", "e.g. [{path: players100.json, split: train}]")
    for i, f in enumerate(files):
        if isinstance(f, str):
            f = {"path": f}
        f = _mapping(f, f"roles.files[{i}]")
        _unknown(f, _FILE_KEYS, f"roles.files[{i}].")
        path = _path(f.get("path"), f"roles.files[{i}].path", base)
        split = _str(f["split"], f"roles.files[{i}].split") if "split" in f else None
        roles += load_roles(path, template=template, split=split)
    check_unique_ids(roles, "roles")
    limit = _int(d.get("limit"), "roles.limit", minimum=0, allow_none=True)
    splits = list(dict.fromkeys(r.split for r in roles))
    if limit is not None:
        roles = [r for s in splits for r in [x for x in roles if x.split == s][:limit]]
    nr = d.get("no_role", True)
    if nr is True:
        nr_splits = [splits[0] if splits else "train"]
    elif nr is False or nr is None:
        nr_splits = []
    else:
        nr_splits = _str_list(nr, "roles.no_role")
    out: list[Role] = []
    for s in list(dict.fromkeys(nr_splits + splits)):
        if s in nr_splits:
            out.append(no_role(s))
        out += [r for r in roles if r.split == s]
    if any(r.id == NO_ROLE_ID for r in roles):
        raise UserError("roles", "a role has an empty id", "give every role a non-empty id")
    check_unique_ids(out, "roles")
    if not out:
        raise UserError("roles", "no roles and no no-role condition", "set roles.generate, roles.files or no_role: true")
    return out


# ----------------------------------------------------------------------------- the config
@dataclass(frozen=True)
class Condition:
    """One (seed, role, steering setting) cell of the sweep; ``index`` is its grid position."""

    index: int
    seed: int
    role: Role
    steering: SteeringSetting
    condition_id: str

    @property
    def role_prompt(self) -> str:
        """Role text plus the value-definition prompt (if any), as given to the model."""
        parts = [p for p in (self.role.text, self.steering.prompt) if p]
        return " ".join(parts)

    def meta(self) -> dict[str, Any]:
        """The matrix meta columns of this condition."""
        return {"condition_id": self.condition_id, "role_id": self.role.id, "split": self.role.split,
                "steering_id": self.steering.id, "coefficient": self.steering.coefficient, "seed": self.seed}


@dataclass
class SweepConfig:
    """A validated sweep config (see the module docstring for the YAML)."""

    model: str
    model_args: dict[str, Any]
    tasks: list[str]
    roles: list[Role]
    steering: list[SteeringSetting]
    sampling: SamplingConfig
    seeds: list[int]
    output_dir: Path | None
    format: str | None = None
    task_metadata: dict[str, Any] = field(default_factory=dict)
    include_path: list[Path] = field(default_factory=list)
    apply_chat_template: bool = False
    fewshot_as_multiturn: bool = True
    num_fewshot: int | None = None
    gen_kwargs: dict[str, Any] | None = None
    score_metric: str | None = None
    batch_size: int | str = 1
    device: str | None = None
    bootstrap_iters: int = 0
    raw: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def result_identity(self) -> dict[str, Any]:
        """Everything that changes results except the condition itself (hashed into condition ids)."""
        return {
            "v": CONFIG_VERSION, "model": self.model, "model_args": _jsonable(self.model_args),
            "tasks": list(self.tasks), "format": self.format, "task_metadata": _jsonable(self.task_metadata),
            "include_path": [str(p) for p in self.include_path],
            "apply_chat_template": self.apply_chat_template, "fewshot_as_multiturn": self.fewshot_as_multiturn,
            "num_fewshot": self.num_fewshot, "gen_kwargs": _jsonable(self.gen_kwargs),
            "sampling": self.sampling.record(),
        }

    def config_hash(self) -> str:
        """Hash of the whole sweep (identity, roles, steering grid, seeds)."""
        full = {"identity": self.result_identity(), "roles": [[r.id, r.split, r.text] for r in self.roles],
                "steering": [s.record() for s in self.steering], "seeds": self.seeds,
                "score_metric": self.score_metric}
        return sha256_hex(canonical_json(full))

    def conditions(self) -> list[Condition]:
        """All conditions in grid order: seeds x roles x steering settings."""
        ident = self.result_identity()
        out: list[Condition] = []
        for seed in self.seeds:
            for role in self.roles:
                for s in self.steering:
                    key = {"identity": ident, "seed": seed, "role": [role.id, role.split, role.text],
                           "steering": s.record()}
                    cid = sha256_hex(canonical_json(key))[:16]
                    out.append(Condition(index=len(out), seed=seed, role=role, steering=s, condition_id=cid))
        return out


#: task-name suffix of each answer format of the values_* task families
FORMAT_SUFFIXES: dict[str, str] = {"yesno": "", "yesno_rev": "_yesno_rev", "likert": "_likert",
                                   "likert_rev": "_likert_rev", "generate": "_gen"}
#: counterbalanced formats: every item is asked in both option orders (the same item id in two tasks);
#: the item table then holds two answers per item and condition, and every item-level consumer
#: (value scores in matrix.csv, the reliability analysis) averages them per item
COUNTERBALANCED_FORMATS: dict[str, tuple[str, str]] = {"yesno_cb": ("yesno", "yesno_rev"),
                                                       "likert_cb": ("likert", "likert_rev")}


def resolve_task_names(tasks: Sequence[str], fmt: str | None) -> list[str]:
    """Apply an answer ``format`` to task/group names: ``values_schwartz`` + ``likert`` -> ``values_schwartz_likert``;
    a counterbalanced format gives both orders: ``values_schwartz`` + ``yesno_cb`` -> ``values_schwartz``,
    ``values_schwartz_yesno_rev``.

    Names that already end with a format suffix are kept as they are.
    """
    if fmt is None:
        return list(tasks)
    if fmt not in FORMAT_SUFFIXES and fmt not in COUNTERBALANCED_FORMATS:
        raise UserError("format", f"unknown answer format {fmt!r}",
                        f"use one of: {', '.join([*FORMAT_SUFFIXES, *COUNTERBALANCED_FORMATS])}")
    suffixes = [x for x in FORMAT_SUFFIXES.values() if x]
    wanted = [FORMAT_SUFFIXES[f] for f in COUNTERBALANCED_FORMATS.get(fmt, (fmt,))]
    out = [t if any(t.endswith(x) for x in suffixes) else t + w for t in tasks for w in wanted]
    return list(dict.fromkeys(out))


def parse_config(data: Any, base: Path | None = None, source: str = "") -> SweepConfig:
    """Validate a config mapping (already parsed YAML) and return a :class:`SweepConfig`."""
    base = Path(base or ".").resolve()
    d = _mapping(data, "config")
    if not d:
        raise UserError("config", "is empty", "give at least model_args.pretrained and tasks")
    _unknown(d, _TOP_KEYS, "")
    model = d.get("model", "values_hf")
    if model not in MODELS:
        raise UserError("model", f"unsupported model {model!r}", f"use one of: {', '.join(MODELS)}")
    model_args = dict(_mapping(d.get("model_args"), "model_args"))
    if "pretrained" not in model_args:
        raise UserError("model_args.pretrained", "missing", "give a local model folder or an embedded alias "
                        "such as smollm2-135m-instruct")
    pre = _str(model_args["pretrained"], "model_args.pretrained")
    from lm_eval_values.embedded_models import is_alias

    if not is_alias(pre):
        pre_path = Path(pre).expanduser()
        if not pre_path.is_absolute():
            pre_path = (base / pre_path).resolve()
        if not pre_path.exists():
            raise UserError("model_args.pretrained", f"{pre_path} does not exist and is not an embedded alias",
                            "give a local model folder or smollm2-135m-instruct / gemma-3-270m")
        pre = str(pre_path)
    model_args["pretrained"] = pre
    for k, v in model_args.items():
        if isinstance(v, (dict, list)):
            raise UserError(f"model_args.{k}", "must be a scalar", "give a string, number or boolean")
    fmt = d.get("format")
    if fmt is not None:
        fmt = _str(fmt, "format")
    tasks = resolve_task_names(_str_list(d.get("tasks"), "tasks"), fmt)
    include = d.get("include_path") or []
    include = [include] if isinstance(include, str) else include
    if not isinstance(include, list):
        raise UserError("include_path", "must be a list of folders", "e.g. [./my_tasks]")
    include_paths = [_path(p, f"include_path[{i}]", base) for i, p in enumerate(include)]
    steering = parse_steering(d.get("steering"), base)
    if model == "hf" and any(s.kind in ("sae", "vector", "spec") for s in steering):
        raise UserError("model", "the stock hf model cannot apply SAE/vector steering",
                        "use model: values_hf, or keep only none/prompt steering entries")
    seeds_raw = d.get("seeds", [0])
    seeds_raw = [seeds_raw] if isinstance(seeds_raw, int) and not isinstance(seeds_raw, bool) else seeds_raw
    if not isinstance(seeds_raw, list) or not seeds_raw:
        raise UserError("seeds", f"must be a non-empty list of integers, got {seeds_raw!r}", "e.g. [0]")
    seeds = [_int(s, f"seeds[{i}]") for i, s in enumerate(seeds_raw)]
    if len(set(seeds)) != len(seeds):
        raise UserError("seeds", "has duplicates", "list each seed once")
    bs = d.get("batch_size", 1)
    if not (bs == "auto" or (isinstance(bs, int) and not isinstance(bs, bool) and bs >= 1)):
        raise UserError("batch_size", f"must be a positive integer or 'auto', got {bs!r}", "e.g. 8")
    device = d.get("device")
    if device is not None:
        device = _str(device, "device")
    out = d.get("output_dir")
    out_path = _path(out, "output_dir", base, must_exist=False) if out is not None else None
    gen = d.get("gen_kwargs")
    gen = _mapping(gen, "gen_kwargs") if gen is not None else None
    score_metric = d.get("score_metric")
    if score_metric is not None:
        score_metric = _str(score_metric, "score_metric")
    return SweepConfig(
        model=model, model_args=model_args, tasks=tasks, roles=parse_roles(d.get("roles"), base),
        steering=steering, sampling=parse_sampling(d.get("sampling")), seeds=seeds,  # type: ignore[arg-type]
        output_dir=out_path, format=fmt,
        task_metadata=dict(_mapping(d.get("task_metadata"), "task_metadata")),
        include_path=include_paths,
        apply_chat_template=_bool(d.get("apply_chat_template", False), "apply_chat_template"),
        fewshot_as_multiturn=_bool(d.get("fewshot_as_multiturn", True), "fewshot_as_multiturn"),
        num_fewshot=_int(d.get("num_fewshot"), "num_fewshot", minimum=0, allow_none=True),
        gen_kwargs=gen, score_metric=score_metric, batch_size=bs, device=device,
        bootstrap_iters=_int(d.get("bootstrap_iters", 0), "bootstrap_iters", minimum=0),  # type: ignore[arg-type]
        raw=d, source=source,
    )


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a sweep YAML file (``yaml.safe_load``)."""
    p = Path(path)
    data = read_yaml_file(p, "CONFIG", "a sweep YAML file")
    return parse_config(data, base=p.resolve().parent, source=str(p))


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)`` with ``0 <= i < N``; ``None`` -> ``(0, 1)``."""
    if text is None:
        return 0, 1
    try:
        i_s, n_s = str(text).split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise UserError("--shard", f"{text!r} is not of the form i/N", "e.g. --shard 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise UserError("--shard", f"{text!r}: need 0 <= i < N", "e.g. --shard 0/4 ... --shard 3/4")
    return i, n


def shard_conditions(conditions: Sequence[Condition], shard: tuple[int, int]) -> list[Condition]:
    """The deterministic subset of ``conditions`` that shard ``i/N`` runs (round robin by index)."""
    i, n = shard
    return [c for c in conditions if c.index % n == i]
