"""Sweep configuration: parse and validate a YAML config, expand it into conditions.

Everything is validated BEFORE anything runs or is written: unknown keys, wrong types,
missing files and impossible combinations raise :class:`~lm_eval_values.core.errors.UserError`
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
                                     # sae: a folder, or release::sae_id from sae-lens's registry
                                     # (steering_hooks.sae_refs; old release/sae_id where unambiguous)
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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from lm_eval_values.core.conditions import NO_ROLE, condition_id
from lm_eval_values.core.errors import UserError
from lm_eval_values.core.files import COUNTERBALANCED_FORMATS, FORMAT_SUFFIXES
from lm_eval_values.core.hashing import canonical_json, sha256_hex
from lm_eval_values.core.yaml_io import read_yaml_file
from lm_eval_values.integration.embedded_models import is_alias
from lm_eval_values.model.refs import is_hub_model_id
from lm_eval_values.model.roles import TEMPLATES, Role, check_unique_ids, generate_roles, load_roles, no_role
from lm_eval_values.sweep.conditions import Condition
from lm_eval_values.sweep.fields import (as_bool, as_int, as_mapping, as_number, as_path, as_seed, as_str,
                                         as_str_list, check_keys)
from lm_eval_values.sweep.steering import SteeringSetting, jsonable, parse_steering

CONFIG_VERSION = 1

_TOP_KEYS = {
    "model", "model_args", "tasks", "format", "task_metadata", "include_path", "apply_chat_template",
    "fewshot_as_multiturn", "num_fewshot", "gen_kwargs", "score_metric", "roles", "steering", "sampling",
    "seeds", "batch_size", "device", "output_dir", "bootstrap_iters",
}
_ROLES_KEYS = {"generate", "files", "template", "no_role", "limit"}
_GEN_KEYS = {"train", "test", "seed", "names"}
_FILE_KEYS = {"path", "split"}
_SAMPLING_KEYS = {"fraction", "seed", "per_split", "max_items_per_value", "per_role", "balance_keys"}
MODELS = ("values_hf", "hf")


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
    f = as_number(x, where)
    if not 0 < f <= 1:
        raise UserError(where, f"must be in (0, 1], got {x!r}", "e.g. 0.4 for the study's 40%, 1 for all items")
    return f


def parse_sampling(x: Any) -> SamplingConfig:
    """Validate the ``sampling`` mapping."""
    d = as_mapping(x, "sampling")
    check_keys(d, _SAMPLING_KEYS, "sampling.")
    per = {str(k): _fraction(v, f"sampling.per_split.{k}") for k, v in as_mapping(d.get("per_split"), "sampling.per_split").items()}
    return SamplingConfig(fraction=_fraction(d.get("fraction"), "sampling.fraction"),
                          seed=as_seed(d.get("seed", 0), "sampling.seed"),
                          per_split=per,
                          max_items_per_value=as_int(d.get("max_items_per_value"), "sampling.max_items_per_value",
                                                   minimum=1, allow_none=True),
                          per_role=as_bool(d.get("per_role", True), "sampling.per_role"),
                          balance_keys=_balance_keys(d.get("balance_keys", False)))


def _balance_keys(x: Any) -> bool | str:
    if x == "equal" or isinstance(x, bool):
        return x
    raise UserError("sampling.balance_keys", f"must be true, false or equal, got {x!r}",
                    "true: keys in proportion to the item bank; equal: as many reverse-keyed as keyed items")


def parse_roles(x: Any, base: Path) -> list[Role]:
    """Validate the ``roles`` mapping and build the role list (no-role conditions first in each split)."""
    d = as_mapping(x, "roles")
    check_keys(d, _ROLES_KEYS, "roles.")
    template = d.get("template", "trait")
    if template not in TEMPLATES:
        raise UserError("roles.template", f"unknown role template {template!r}", f"use one of: {', '.join(TEMPLATES)}")
    roles: list[Role] = []
    if d.get("generate") is not None:
        g = as_mapping(d["generate"], "roles.generate")
        check_keys(g, _GEN_KEYS, "roles.generate.")
        roles += generate_roles(n_train=as_int(g.get("train", 100), "roles.generate.train", 0),  # type: ignore[arg-type]
                                n_test=as_int(g.get("test", 25), "roles.generate.test", 0),  # type: ignore[arg-type]
                                seed=as_seed(g.get("seed", 0), "roles.generate.seed"),
                                names=as_bool(g.get("names", True), "roles.generate.names"),
                                template="trait" if template == "text" else template)
    files = d.get("files") or []
    if not isinstance(files, list):
        raise UserError("roles.files", "must be a list of {path, split}", "e.g. [{path: players100.json, split: train}]")
    for i, f in enumerate(files):
        if isinstance(f, str):
            f = {"path": f}
        f = as_mapping(f, f"roles.files[{i}]")
        check_keys(f, _FILE_KEYS, f"roles.files[{i}].")
        path = as_path(f.get("path"), f"roles.files[{i}].path", base)
        split = as_str(f["split"], f"roles.files[{i}].split") if "split" in f else None
        roles += load_roles(path, template=template, split=split)
    check_unique_ids(roles, "roles")
    limit = as_int(d.get("limit"), "roles.limit", minimum=0, allow_none=True)
    splits = list(dict.fromkeys(r.split for r in roles))
    if limit is not None:
        roles = [r for s in splits for r in [x for x in roles if x.split == s][:limit]]
    nr = d.get("no_role", True)
    if nr is True:
        nr_splits = [splits[0] if splits else "train"]
    elif nr is False or nr is None:
        nr_splits = []
    else:
        nr_splits = as_str_list(nr, "roles.no_role")
    out: list[Role] = []
    for s in list(dict.fromkeys(nr_splits + splits)):
        if s in nr_splits:
            out.append(no_role(s))
        out += [r for r in roles if r.split == s]
    if any(r.id == NO_ROLE for r in roles):
        raise UserError("roles", "a role has an empty id", "give every role a non-empty id")
    check_unique_ids(out, "roles")
    if not out:
        raise UserError("roles", "no roles and no no-role condition", "set roles.generate, roles.files or no_role: true")
    return out


# ----------------------------------------------------------------------------- the config
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
            "v": CONFIG_VERSION, "model": self.model, "model_args": jsonable(self.model_args),
            "tasks": list(self.tasks), "format": self.format, "task_metadata": jsonable(self.task_metadata),
            "include_path": [str(p) for p in self.include_path],
            "apply_chat_template": self.apply_chat_template, "fewshot_as_multiturn": self.fewshot_as_multiturn,
            "num_fewshot": self.num_fewshot, "gen_kwargs": jsonable(self.gen_kwargs),
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
                    cid = condition_id(key)
                    out.append(Condition(index=len(out), seed=seed, role=role, steering=s, condition_id=cid))
        return out


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
    d = as_mapping(data, "config")
    if not d:
        raise UserError("config", "is empty", "give at least model_args.pretrained and tasks")
    check_keys(d, _TOP_KEYS, "")
    model = d.get("model", "values_hf")
    if model not in MODELS:
        raise UserError("model", f"unsupported model {model!r}", f"use one of: {', '.join(MODELS)}")
    model_args = dict(as_mapping(d.get("model_args"), "model_args"))
    if "pretrained" not in model_args:
        raise UserError("model_args.pretrained", "missing", "give a local model folder or an embedded alias "
                        "such as smollm2-135m-instruct")
    pre = as_str(model_args["pretrained"], "model_args.pretrained")
    if not is_alias(pre):
        pre_path = Path(pre).expanduser()
        if not pre_path.is_absolute():
            pre_path = (base / pre_path).resolve()
        if pre_path.exists():
            pre = str(pre_path)
        elif not is_hub_model_id(pre):  # a hub id (org/name) stays as written: loaded from the hub, online
            raise UserError("model_args.pretrained", f"{pre_path} does not exist and is not an embedded alias",
                            "give a local model folder, smollm2-135m-instruct / gemma-3-270m, or a hub id org/name")
    model_args["pretrained"] = pre
    for k, v in model_args.items():
        if isinstance(v, (dict, list)):
            raise UserError(f"model_args.{k}", "must be a scalar", "give a string, number or boolean")
    fmt = d.get("format")
    if fmt is not None:
        fmt = as_str(fmt, "format")
    tasks = resolve_task_names(as_str_list(d.get("tasks"), "tasks"), fmt)
    include = d.get("include_path") or []
    include = [include] if isinstance(include, str) else include
    if not isinstance(include, list):
        raise UserError("include_path", "must be a list of folders", "e.g. [./my_tasks]")
    include_paths = [as_path(p, f"include_path[{i}]", base) for i, p in enumerate(include)]
    steering = parse_steering(d.get("steering"), base)
    if model == "hf" and any(s.kind in ("sae", "vector", "spec") for s in steering):
        raise UserError("model", "the stock hf model cannot apply SAE/vector steering",
                        "use model: values_hf, or keep only none/prompt steering entries")
    seeds_raw = d.get("seeds", [0])
    seeds_raw = [seeds_raw] if isinstance(seeds_raw, int) and not isinstance(seeds_raw, bool) else seeds_raw
    if not isinstance(seeds_raw, list) or not seeds_raw:
        raise UserError("seeds", f"must be a non-empty list of integers, got {seeds_raw!r}", "e.g. [0]")
    seeds = [as_seed(s, f"seeds[{i}]") for i, s in enumerate(seeds_raw)]
    if len(set(seeds)) != len(seeds):
        raise UserError("seeds", "has duplicates", "list each seed once")
    bs = d.get("batch_size", 1)
    if not (bs == "auto" or (isinstance(bs, int) and not isinstance(bs, bool) and bs >= 1)):
        raise UserError("batch_size", f"must be a positive integer or 'auto', got {bs!r}", "e.g. 8")
    device = d.get("device")
    if device is not None:
        device = as_str(device, "device")
    out = d.get("output_dir")
    out_path = as_path(out, "output_dir", base, must_exist=False) if out is not None else None
    gen = d.get("gen_kwargs")
    gen = as_mapping(gen, "gen_kwargs") if gen is not None else None
    score_metric = d.get("score_metric")
    if score_metric is not None:
        score_metric = as_str(score_metric, "score_metric")
    return SweepConfig(
        model=model, model_args=model_args, tasks=tasks, roles=parse_roles(d.get("roles"), base),
        steering=steering, sampling=parse_sampling(d.get("sampling")), seeds=seeds,  # type: ignore[arg-type]
        output_dir=out_path, format=fmt,
        task_metadata=dict(as_mapping(d.get("task_metadata"), "task_metadata")),
        include_path=include_paths,
        apply_chat_template=as_bool(d.get("apply_chat_template", False), "apply_chat_template"),
        fewshot_as_multiturn=as_bool(d.get("fewshot_as_multiturn", True), "fewshot_as_multiturn"),
        num_fewshot=as_int(d.get("num_fewshot"), "num_fewshot", minimum=0, allow_none=True),
        gen_kwargs=gen, score_metric=score_metric, batch_size=bs, device=device,
        bootstrap_iters=as_int(d.get("bootstrap_iters", 0), "bootstrap_iters", minimum=0),  # type: ignore[arg-type]
        raw=d, source=source,
    )


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a sweep YAML file (``yaml.safe_load``)."""
    p = Path(path)
    data = read_yaml_file(p, "CONFIG", "a sweep YAML file")
    return parse_config(data, base=p.resolve().parent, source=str(p))
