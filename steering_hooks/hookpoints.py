"""Hook-point names in every scheme users have, resolved to a module of a Hugging Face model.

Accepted (for a model whose decoder layers are ``model.layers``):

* an int or digit string ``12`` -> the output of decoder layer 12;
* HF / sae-lens module paths relative to the CausalLM: ``model.layers.12``;
* lm-eval ``steered`` names relative to ``model.base_model``: ``layers.12`` (GPT-2: ``h.12``);
* TransformerLens / sae-lens names: ``blocks.12.hook_resid_post`` (layer output) and
  ``blocks.12.hook_resid_pre`` (layer INPUT: a forward pre-hook on layer 12);
* HF hook points as Gemma Scope configs write them: ``model.layers.12.output`` / ``.input``;
* any other module path (root- or base_model-relative): that module's output.

:func:`layer_of_hook_name` reads the decoder layer of any of these names without a model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from steering_hooks.errors import SpecError

_TL = re.compile(r"^blocks\.(\d+)\.hook_resid_(pre|post)$")
_LAYERISH = re.compile(r"^(?:.*\.)?(?:layers|h|blocks|layer|decoder\.layers)\.(\d+)$")
_HF_POINT = re.compile(r"^(?P<module>(?:.*\.)?(?:layers|h|blocks|layer)\.\d+)\.(?P<site>output|input)$")
_TL_OTHER = re.compile(r"^blocks\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class HookLayer:
    """Where a hook name reads, without a model: decoder ``layer`` and ``site``.

    ``site`` is ``output`` (the residual stream after the layer), ``input`` (before it) or the
    name of another component (``hook_mlp_out``, ``attn.hook_z``, ``pre_feedforward_layernorm.output``).
    """

    layer: int
    site: str

    @property
    def is_residual(self) -> bool:
        """Whether the hook reads the residual stream (what layer steering edits)."""
        return self.site in ("output", "input")


def layer_of_hook_name(name: Any) -> HookLayer | None:
    """The decoder layer and site of a hook name in any scheme (module doc), or None if it names no layer.

    >>> layer_of_hook_name("blocks.12.hook_resid_post"), layer_of_hook_name("model.layers.3.input")
    (HookLayer(layer=12, site='output'), HookLayer(layer=3, site='input'))
    """
    if isinstance(name, bool) or name is None:
        return None
    if isinstance(name, int):
        return HookLayer(name, "output")
    text = str(name).strip()
    if text.isdigit():
        return HookLayer(int(text), "output")
    m = _TL.match(text)
    if m:
        return HookLayer(int(m.group(1)), "input" if m.group(2) == "pre" else "output")
    m = _HF_POINT.match(text)
    if m:
        return HookLayer(int(m.group("module").rsplit(".", 1)[1]), m.group("site"))
    m = _LAYERISH.match(text)
    if m:
        return HookLayer(int(m.group(1)), "output")
    m = _TL_OTHER.match(text) or re.match(r"^(?:.*\.)?(?:layers|h|layer)\.(\d+)\.(.+)$", text)
    if m:
        return HookLayer(int(m.group(1)), m.group(2))
    return None


@dataclass(frozen=True)
class HookPoint:
    """A resolved hook point: ``module_name`` (root-relative), ``site`` and decoder layer index."""

    module_name: str
    site: Literal["output", "input"]
    layer: int | None
    module: nn.Module = field(compare=False, repr=False)

    @property
    def label(self) -> str:
        """Readable name, e.g. ``model.layers.6:output``."""
        return f"{self.module_name}:{self.site}"


def decoder_layers(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The decoder-layer ``ModuleList`` of a causal LM and its root-relative name."""
    cfg = getattr(model, "config", None)
    n = None
    if cfg is not None:
        text_cfg = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
        n = getattr(text_cfg, "num_hidden_layers", None) or getattr(text_cfg, "n_layer", None)
    best: tuple[str, nn.ModuleList] | None = None
    for name, mod in model.named_modules():
        if isinstance(mod, nn.ModuleList) and len(mod) > 0 and (n is None or len(mod) == n):
            if name.split(".")[-1] in ("layers", "h", "blocks", "layer"):
                return name, mod
            best = best or (name, mod)
    if best is None:
        raise SpecError("layer", "cannot find the decoder layers of this model", "give a full module path")
    return best


def hidden_size(model: nn.Module) -> int:
    """The residual-stream width of a causal LM."""
    cfg = getattr(model, "config", None)
    if cfg is not None:
        text_cfg = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
        for attr in ("hidden_size", "n_embd", "d_model"):
            v = getattr(text_cfg, attr, None)
            if isinstance(v, int):
                return v
    return int(model.get_input_embeddings().weight.shape[1])


def _base_prefix(model: nn.Module) -> str:
    base = getattr(model, "base_model", None)
    if base is None or base is model:
        return ""
    for name, mod in model.named_modules():
        if mod is base:
            return name
    return ""


def resolve_hook(model: nn.Module, ref: Any, field_name: str = "layer") -> HookPoint:
    """Resolve a hook reference in any scheme (see module doc) to a :class:`HookPoint`."""
    list_name, layers = decoder_layers(model)
    n = len(layers)

    def layer_point(i: int, site: Literal["output", "input"] = "output") -> HookPoint:
        if not 0 <= i < n:
            raise SpecError(field_name, f"layer {i} is beyond the model ({n} decoder layers: 0..{n - 1})",
                            f"use a layer between 0 and {n - 1}")
        return HookPoint(f"{list_name}.{i}", site, i, layers[i])

    if isinstance(ref, bool) or ref is None:
        raise SpecError(field_name, "missing layer", "give layer: <int> or a hook name (or an SAE with a hook name)")
    if isinstance(ref, int):
        return layer_point(ref)
    name = str(ref).strip()
    if name.lstrip("-").isdigit():
        return layer_point(int(name))
    m = _TL.match(name)
    if m:
        return layer_point(int(m.group(1)), "input" if m.group(2) == "pre" else "output")
    modules = dict(model.named_modules())
    prefix = _base_prefix(model)
    for cand in (name, f"{prefix}.{name}" if prefix else None):
        if cand and cand in modules and cand != "":
            mod = modules[cand]
            layer = next((i for i, lm in enumerate(layers) if lm is mod), None)
            return HookPoint(cand, "output", layer, mod)
    m = _HF_POINT.match(name)
    if m:  # model.layers.12.output / .input (Gemma Scope's HF hook points)
        return layer_point(int(m.group("module").rsplit(".", 1)[1]), m.group("site"))  # type: ignore[arg-type]
    m = _LAYERISH.match(name)
    if m:  # a layer-shaped name in another scheme, e.g. model.layers.7 on GPT-2, or out of range
        return layer_point(int(m.group(1)))
    raise SpecError(field_name, f"unknown hook name {name!r}",
                    f"use a layer index, {list_name}.<i>, blocks.<i>.hook_resid_post or a module path")
