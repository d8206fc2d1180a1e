"""The declarative steering spec: dataclasses, parsing from YAML/JSON/dicts, hashing.

A spec is a list of :class:`Intervention` objects applied in a defined order: at one hook
point the interventions run in the order they are listed (each sees the output of the
previous one); across hook points the model's own forward order applies.

Example (YAML)::

    name: achievement-up
    interventions:
      - op: add                      # add | sae_clamp | ablate | clamp_projection
        layer: 15                    # int, or any hook name: model.layers.15, layers.15,
                                     # blocks.15.hook_resid_post, blocks.15.hook_resid_pre
        vector: vectors/achievement.safetensors   # or sae: + feature:
        coeff: 4.0
        scale: resid_norm            # absolute (default) | resid_norm | feature_act
        positions: prompt            # all | prompt | generated | span:" your values" | last:3
      - op: sae_clamp
        sae: saes/layer6             # local sae-lens folder, or release::sae_id (sae-lens registry; see sae_refs)
        feature: 123
        value: 0.0                   # or multiply: 2.0
        positions: span:" your values"

Parsing is pure (no files are read); :func:`steering_hooks.compile.compile_spec` resolves
sources and checks them against a model BEFORE any forward pass.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Mapping

from steering_hooks.errors import SpecError
from steering_hooks.numbers import check_number, check_tensor
from steering_hooks.sae_refs import parse_sae_ref

OPS = ("add", "sae_clamp", "ablate", "clamp_projection")
SCALES = ("absolute", "resid_norm", "feature_act")
Op = Literal["add", "sae_clamp", "ablate", "clamp_projection"]
Scale = Literal["absolute", "resid_norm", "feature_act"]


@dataclass(frozen=True)
class Positions:
    """A position scope.

    * ``all``: every real (non-padding) token of every forward pass;
    * ``prompt``: context tokens only. For log-likelihood requests the scored continuation
      tokens are NOT steered; in generation only the prompt prefill is steered;
    * ``generated``: the complement of ``prompt`` (continuation tokens of a log-likelihood
      request, newly generated tokens in generation);
    * ``span``: the prompt tokens overlapping each occurrence of ``text`` in the prompt;
    * ``last``: the last ``k`` prompt tokens of each row.
    """

    kind: Literal["all", "prompt", "generated", "span", "last"]
    text: str | None = None
    k: int | None = None

    def __str__(self) -> str:
        if self.kind == "span":
            return "span:" + json.dumps(self.text)
        if self.kind == "last":
            return f"last:{self.k}"
        return self.kind


def parse_positions(value: Any, field_name: str = "positions") -> Positions:
    """Parse ``all|prompt|generated|span:"<text>"|last:<k>`` (or a Positions) into a :class:`Positions`."""
    if isinstance(value, Positions):
        return value
    if isinstance(value, Mapping):
        if "span" in value:
            return parse_positions("span:" + json.dumps(str(value["span"])), field_name)
        if "last" in value:
            return parse_positions(f"last:{value['last']}", field_name)
    if not isinstance(value, str):
        raise SpecError(field_name, f"expected a string, got {type(value).__name__}",
                        'use all, prompt, generated, span:"<text>" or last:<k>')
    text = value.strip() if not value.startswith("span:") else value
    if text in ("all", "prompt", "generated"):
        return Positions(text)  # type: ignore[arg-type]
    if text.startswith("span:"):
        body = text[len("span:"):]
        decoded = None
        if len(body) >= 2 and body[0] == body[-1] == '"':
            try:  # the form str(Positions) writes (JSON), so that parse(str(p)) == p for any text
                decoded = json.loads(body)
            except ValueError:
                decoded = None
        if isinstance(decoded, str):
            body = decoded
        elif len(body) >= 2 and body[0] == body[-1] and body[0] in "\"'":
            body = body[1:-1]
            if body[:1] != "\\" and '\\"' in body:
                body = body.replace('\\"', '"')
        if not body:
            raise SpecError(field_name, "span scope with no text",
                            'give the prompt substring to steer, e.g. span:" your values"')
        return Positions("span", text=body)
    if text.startswith("last:"):
        try:
            k = int(text[len("last:"):])
        except ValueError:
            k = 0
        if k < 1:
            raise SpecError(field_name, f"bad last scope {text!r}", "use last:<k> with k >= 1, e.g. last:1")
        return Positions("last", k=k)
    if text == "span":
        raise SpecError(field_name, "span scope with no text", 'give the text, e.g. span:" your values"')
    raise SpecError(field_name, f"unknown position scope {value!r}",
                    'use all, prompt, generated, span:"<text>" or last:<k>')


@dataclass
class Intervention:
    """One steering operation at one hook point.

    Attributes:
        op: ``add`` (coeff x direction), ``sae_clamp`` (set or multiply an SAE feature, error
            term kept), ``ablate`` (zero an SAE feature with the error kept, or project a
            direction out), ``clamp_projection`` (lm-eval ``steered``'s clamp: set the projection
            on the unit direction to ``value``, optionally around ``bias``).
        layer: decoder-layer index or hook name in any scheme; defaults to the SAE's own hook.
        positions: position scope string (see :class:`Positions`).
        sae: local sae-lens folder or ``release::sae_id`` (sae-lens registry, online users only;
            every form of :mod:`steering_hooks.sae_refs`, a mapping is stored as its string form).
        feature: SAE feature index (direction = ``W_dec[feature]`` for add/clamp_projection).
        vector: a vector file (``.safetensors``, ``.npy``, ``.npz``, ``.pt`` plain tensor or an
            lm-eval ``steered`` dict) or, in code, a tensor / list of floats.
        vector_key: tensor name inside the file (safetensors/npz key, ``steered`` hookpoint).
        coeff: coefficient for ``add``.
        scale: ``absolute`` (coeff x direction), ``resid_norm`` (coeff x residual norm at the
            position x unit direction), ``feature_act`` (coeff x the feature's typical activation
            x W_dec[feature]).
        typical_act: the feature's typical activation (needed by ``scale: feature_act``; see
            :func:`steering_hooks.calibrate_typical_act`).
        normalize: use the unit direction for ``add`` with ``scale: absolute``.
        value: target for ``sae_clamp`` / ``clamp_projection``.
        multiply: factor for ``sae_clamp`` (instead of ``value``).
        keep_error: ``sae_clamp``/``ablate`` keep the SAE reconstruction error (default True);
            False splices the SAE reconstruction in.
        required: for ``span`` scopes: a prompt without the text is an error (default True).
    """

    op: Op
    layer: int | str | None = None
    positions: str = "all"
    sae: str | None = None
    feature: int | None = None
    vector: Any = None
    vector_key: str | None = None
    coeff: float = 1.0
    scale: Scale = "absolute"
    typical_act: float | None = None
    normalize: bool = False
    value: float | None = None
    multiply: float | None = None
    keep_error: bool = True
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form; in-memory tensors are summarised by sha256 and norm."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "vector" and v is not None and not isinstance(v, str):
                v = _tensor_summary(v)
            out[f.name] = v
        return out


_KEYS = {f.name for f in fields(Intervention)}
_ALIASES = {"hook": "layer", "hookpoint": "layer", "coefficient": "coeff", "action": "op", "position": "positions"}


@dataclass
class SteeringSpec:
    """An ordered list of interventions (empty = no steering)."""

    interventions: list[Intervention] = field(default_factory=list)
    name: str | None = None

    def __bool__(self) -> bool:  # an empty spec steers nothing
        return bool(self.interventions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (what :meth:`spec_hash` hashes)."""
        return {"name": self.name, "interventions": [iv.to_dict() for iv in self.interventions]}

    def spec_hash(self) -> str:
        """sha256 of the canonical JSON form (stable across runs)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | list[Any] | None) -> "SteeringSpec":
        """Build from a dict ``{name?, interventions: [...]}`` or a bare list of interventions."""
        return spec_from_obj(data)

    @classmethod
    def from_file(cls, path: str | Path) -> "SteeringSpec":
        """Read a YAML or JSON spec file, or convert an lm-eval ``steered`` ``.pt`` file."""
        return load_spec(path)


def _tensor_summary(v: Any) -> dict[str, Any]:
    import numpy as np
    import torch

    t = v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v, dtype=np.float32))
    t = t.detach().to("cpu", torch.float32).contiguous()
    return {"tensor_sha256": hashlib.sha256(t.numpy().tobytes()).hexdigest(), "norm": float(t.norm()),
            "shape": list(t.shape)}


def _coerce(name: str, value: Any, where: str) -> Any:
    """Type-check and convert one intervention field."""
    fname = f"{where}.{name}"
    if value is None:
        return None
    if name == "op":
        if value not in OPS:
            raise SpecError(fname, f"unknown op {value!r}", f"use one of {', '.join(OPS)}")
        return value
    if name == "scale":
        if value not in SCALES:
            raise SpecError(fname, f"unknown scale {value!r}", f"use one of {', '.join(SCALES)}")
        return value
    if name == "layer":
        if isinstance(value, bool):
            raise SpecError(fname, "expected an int or a hook name", "e.g. layer: 6 or layer: model.layers.6")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            return int(value) if value.strip().lstrip("-").isdecimal() else value.strip()
        raise SpecError(fname, f"expected an int or a hook name, got {type(value).__name__}", "e.g. layer: 6")
    if name == "feature":
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdecimal():
            raise SpecError(fname, f"expected a non-negative integer, got {value!r}", "e.g. feature: 123")
        return int(value)
    if name in ("coeff", "typical_act", "value", "multiply"):
        if isinstance(value, bool):
            raise SpecError(fname, f"expected a number, got {value!r}", None)
        return check_number(value, fname)
    if name in ("normalize", "keep_error", "required"):
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise SpecError(fname, f"expected true or false, got {value!r}", None)
        return value
    if name == "positions":
        return str(parse_positions(value, fname))
    if name == "sae" and isinstance(value, Mapping):
        return str(parse_sae_ref(value, fname))
    if name in ("sae", "vector_key"):
        if not isinstance(value, str) or not value.strip():
            raise SpecError(fname, f"expected a non-empty string, got {value!r}", None)
        return value.strip() if name == "sae" else value
    if name == "vector":
        return _coerce_vector(value, fname)
    return value


def _coerce_vector(value: Any, fname: str) -> Any:
    """A vector is a file path, or numbers (a list, a NumPy array or a tensor) forming a finite 1-D vector."""
    import numpy as np
    import torch

    if isinstance(value, str):
        if not value.strip():
            raise SpecError(fname, "expected a file path or a list of numbers, got an empty string", None)
        return value
    if isinstance(value, torch.Tensor):
        arr_ok = value.dim() == 1 and value.numel() > 0
    else:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise SpecError(fname, f"expected a file path or a list of numbers, got {type(value).__name__}",
                            "e.g. vector: dir.safetensors or vector: [0.1, -0.2, ...]") from None
        arr_ok = arr.ndim == 1 and arr.size > 0
    if not arr_ok:
        raise SpecError(fname, "expected a non-empty, finite 1-D vector", "give one number per hidden dimension")
    check_tensor(value if isinstance(value, torch.Tensor) else arr, fname, "the vector")
    return value


def intervention_from_dict(data: Mapping[str, Any], where: str = "interventions[0]") -> Intervention:
    """Build one :class:`Intervention`, rejecting unknown keys with a one-line error."""
    if isinstance(data, Intervention):
        return data
    if not isinstance(data, Mapping):
        raise SpecError(where, f"expected a mapping, got {type(data).__name__}", "write op:, layer:, ... keys")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = _ALIASES.get(str(key), str(key))
        if name not in _KEYS:
            raise SpecError(f"{where}.{key}", "unknown key", f"use one of {', '.join(sorted(_KEYS))}")
        if name in kwargs:
            raise SpecError(f"{where}.{key}", f"given twice (as {name})", None)
        kwargs[name] = _coerce(name, value, where)
    if kwargs.get("op") is None:
        raise SpecError(f"{where}.op", "missing", f"use one of {', '.join(OPS)}")
    kwargs = {k: v for k, v in kwargs.items() if v is not None or k in ("vector",)}
    return Intervention(**kwargs)


def spec_from_obj(data: Any) -> SteeringSpec:
    """A :class:`SteeringSpec` from a spec, dict, list of interventions, or None (empty)."""
    if data is None:
        return SteeringSpec()
    if isinstance(data, SteeringSpec):
        return data
    if isinstance(data, Intervention):
        return SteeringSpec([data])
    if isinstance(data, (str, Path)):
        return load_spec(data)
    if isinstance(data, list):
        data = {"interventions": data}
    if not isinstance(data, Mapping):
        raise SpecError("spec", f"expected a mapping with interventions, got {type(data).__name__}",
                        "see steering_hooks.spec for the format")
    unknown = set(data) - {"name", "interventions"}
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise SpecError(f"spec.{key}", "unknown key", "top-level keys are name and interventions")
    items = data.get("interventions") or []
    if not isinstance(items, list):
        raise SpecError("interventions", "expected a list", "write interventions: [- op: add ...]")
    ivs = [intervention_from_dict(item, f"interventions[{i}]") for i, item in enumerate(items)]
    name = data.get("name")
    return SteeringSpec(ivs, name=None if name is None else str(name))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json`` object hook: a key written twice is an error (plain ``json`` keeps the last)."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def load_spec(path: str | Path) -> SteeringSpec:
    """Load a spec from ``.yaml``/``.yml``/``.json`` (safe loaders) or an lm-eval ``steered`` ``.pt``."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise SpecError("steer", f"spec file not found: {p}", "give a .yaml, .json or lm-eval steered .pt file")
    suffix = p.suffix.lower()
    if suffix in (".pt", ".pth"):
        from steering_hooks.sources import spec_from_steered_pt

        return spec_from_steered_pt(p)
    try:
        text = p.read_text(encoding="utf-8")
        if suffix == ".json":
            data = json.loads(text, object_pairs_hook=_unique_keys)
        else:
            from steering_hooks.strict_yaml import strict_load

            data = strict_load(text)  # safe_load that refuses duplicate keys and alias bombs
    except Exception as exc:  # noqa: BLE001 - read and parse errors become one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SpecError("steer", f"cannot parse {p.name}: {first}", "fix the YAML/JSON syntax") from None
    spec = spec_from_obj(data)
    # relative file paths inside a spec are relative to the spec file
    for iv in spec.interventions:
        for attr in ("vector", "sae"):
            v = getattr(iv, attr)
            if isinstance(v, str) and not Path(v).expanduser().is_absolute():
                cand = (p.parent / v)
                if cand.exists():
                    setattr(iv, attr, str(cand))
    return spec
