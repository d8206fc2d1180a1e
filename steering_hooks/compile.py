"""Validate a spec against a model and turn it into ready-to-run interventions.

Everything that can be checked without a forward pass is checked here (unknown hook, layer
beyond the model, feature index out of range, SAE / vector width vs the model's hidden
size, missing fields per op), each failure as a one-line :class:`SpecError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from steering_hooks.errors import SpecError
from steering_hooks.hookpoints import HookPoint, hidden_size, resolve_hook
from steering_hooks.numbers import MAX_MAGNITUDE
from steering_hooks.sources import load_sae, load_vector, sae_hook_name
from steering_hooks.spec import Intervention, Positions, SteeringSpec, parse_positions, spec_from_obj

#: SAE architectures whose feature activation depends only on that feature's encoder row
_PER_FEATURE_ARCHS = ("standard", "jumprelu")
#: the largest ``coeff`` of ``scale: resid_norm`` (a multiple of the residual norm itself)
MAX_RESID_NORM_COEFF = 1e3


def _check_dose(iv: Intervention, direction: torch.Tensor | None, where: str) -> None:
    """Refuse a dose that would push a residual entry beyond :data:`~steering_hooks.numbers.MAX_MAGNITUDE`."""
    if direction is None or direction.numel() == 0:
        return
    peak = float(direction.abs().max())
    if iv.op == "add" and iv.normalize:
        peak /= max(float(direction.norm()), 1e-12)
    if iv.op == "add" and iv.scale == "resid_norm":
        size, what = abs(float(iv.coeff)), "times the residual norm"
        limit = MAX_RESID_NORM_COEFF
    elif iv.op == "add":
        size = abs(float(iv.coeff)) * peak * (abs(float(iv.typical_act or 0.0)) if iv.scale == "feature_act" else 1.0)
        what, limit = "to a residual entry", MAX_MAGNITUDE
    elif iv.op == "sae_clamp" and iv.value is not None:
        size, what, limit = abs(float(iv.value)) * peak, "to a residual entry", MAX_MAGNITUDE
    else:
        return
    if size > limit:
        name = "value" if iv.op == "sae_clamp" else "coeff"
        raise SpecError(f"{where}.{name}", f"this dose adds up to {size:.3g} {what}, beyond the limit of {limit:g} "
                        "(the model's activations would overflow to NaN)", f"use a much smaller {name}")


@dataclass
class FeatureSlice:
    """The encoder/decoder rows of a few SAE features: encodes/decodes only those features.

    Valid for per-feature activations (standard ReLU, JumpReLU) without run-time
    normalisation; ``acts`` equals ``sae.encode(x)[..., idx]`` and the decoder is linear.
    """

    idx: torch.Tensor
    W_enc: torch.Tensor  # [d_in, k]
    b_enc: torch.Tensor  # [k]
    W_dec: torch.Tensor  # [k, d_in]
    b_dec_in: torch.Tensor  # [d_in], b_dec * apply_b_dec_to_input
    threshold: torch.Tensor | None  # [k] (JumpReLU)

    @classmethod
    def from_sae(cls, sae: Any, features: list[int]) -> "FeatureSlice":
        idx = torch.tensor(features, dtype=torch.long)
        thr = getattr(sae, "threshold", None)
        return cls(idx=idx, W_enc=sae.W_enc.detach()[:, idx].float().contiguous(), b_enc=sae.b_enc.detach()[idx].float(),
                   W_dec=sae.W_dec.detach()[idx].float().contiguous(),
                   b_dec_in=(sae.b_dec.detach() * float(sae.cfg.apply_b_dec_to_input)).float(),
                   threshold=None if thr is None else thr.detach()[idx].float())

    def acts(self, x32: torch.Tensor) -> torch.Tensor:
        pre = (x32 - self.b_dec_in) @ self.W_enc + self.b_enc
        a = torch.relu(pre)
        if self.threshold is not None:
            a = a * (pre > self.threshold).to(a.dtype)
        return a


@dataclass
class CompiledIntervention:
    """One validated intervention with its hook point and tensors resolved (float32, CPU master copies)."""

    index: int
    spec: Intervention
    hook: HookPoint
    positions: Positions
    direction: torch.Tensor | None = None  # add / clamp_projection / ablate-by-direction
    bias: torch.Tensor | None = None  # clamp_projection (lm-eval steered)
    sae: Any = None
    feature: int | None = None
    fslice: FeatureSlice | None = None  # cheap SAE path (None -> full encode/decode)
    _dev: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False)

    @property
    def direction_norm(self) -> float | None:
        return None if self.direction is None else float(self.direction.norm())

    def _on(self, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        key = (name, like.device, like.dtype)
        v = self._dev.get(key)
        if v is None:
            v = t.to(device=like.device, dtype=like.dtype)
            self._dev[key] = v
        return v

    def _add_vector(self, x: torch.Tensor) -> torch.Tensor:
        """coeff x direction in x's dtype, computed as lm-eval steered does (cast, then scale)."""
        key = ("addvec", x.device, x.dtype)
        v = self._dev.get(key)
        if v is None:
            iv = self.spec
            d = self.direction
            if iv.normalize:
                d = d / d.norm().clamp_min(1e-12)
            if iv.scale == "feature_act":
                v = d.to(x.device, x.dtype) * (float(iv.coeff) * float(iv.typical_act))
            else:
                v = d.to(x.device, x.dtype) * float(iv.coeff)
            self._dev[key] = v
        return v

    def _sae_acts(self, x32: torch.Tensor) -> torch.Tensor:
        if self.fslice is not None:
            fs = self._fslice_on(x32)
            return fs.acts(x32)
        return self.sae.encode(x32)

    def _fslice_on(self, like: torch.Tensor) -> FeatureSlice:
        key = ("fslice", like.device)
        fs = self._dev.get(key)
        if fs is None:
            s = self.fslice
            fs = FeatureSlice(idx=s.idx, W_enc=s.W_enc.to(like.device), b_enc=s.b_enc.to(like.device),
                              W_dec=s.W_dec.to(like.device), b_dec_in=s.b_dec_in.to(like.device),
                              threshold=None if s.threshold is None else s.threshold.to(like.device))
            self._dev[key] = fs
        return fs

    def apply(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """The intervention on hidden states ``x [B, T, D]`` at ``mask [B, T]`` (None = all)."""
        iv = self.spec
        op = iv.op
        if op == "add" and iv.scale != "resid_norm":
            v = self._add_vector(x)
            if mask is None:
                return x + v
            return torch.where(mask.unsqueeze(-1), x + v, x)
        if op == "add":  # resid_norm: coeff x ||x|| x unit direction
            u = self._on("unit", self.direction / self.direction.norm().clamp_min(1e-12), x)
            new = x + float(iv.coeff) * x.norm(dim=-1, keepdim=True) * u
        elif op == "clamp_projection" or (op == "ablate" and self.sae is None):
            d = self._on("unit", self.direction / self.direction.norm().clamp_min(1e-12), x)
            value = 0.0 if op == "ablate" else float(iv.value)
            xb = x if self.bias is None else x - self._on("bias", self.bias, x)
            proj = (xb * d).sum(dim=-1, keepdim=True)
            new = x + d * (value - proj)
        else:  # sae_clamp / ablate of an SAE feature
            new = self._sae_edit(x)
        if mask is None:
            return new
        return torch.where(mask.unsqueeze(-1), new, x)

    def _sae_edit(self, x: torch.Tensor) -> torch.Tensor:
        iv = self.spec
        x32 = x.float()
        f = int(self.feature)  # type: ignore[arg-type]
        if iv.keep_error and self.fslice is not None:
            a = self._sae_acts(x32)[..., 0:1]
            a_new = self._target(a)
            fs = self._fslice_on(x32)
            out = x32 + (a_new - a) * fs.W_dec[0]
            return out.to(x.dtype)
        acts = self.sae.encode(x32)
        a = acts[..., f:f + 1]
        new_acts = acts.clone()
        new_acts[..., f:f + 1] = self._target(a)
        recon_new = self.sae.decode(new_acts)
        if iv.keep_error:  # x + (new recon - old recon): exactly x when nothing changes
            out = x32 + (recon_new - self.sae.decode(acts))
        else:
            out = recon_new
        return out.to(x.dtype)

    def _target(self, a: torch.Tensor) -> torch.Tensor:
        iv = self.spec
        if iv.op == "ablate":
            return torch.zeros_like(a)
        if iv.multiply is not None:
            return a * float(iv.multiply)
        return torch.full_like(a, float(iv.value))  # type: ignore[arg-type]


@dataclass
class CompiledSpec:
    """A spec validated against one model: interventions grouped by hook point, in order."""

    spec: SteeringSpec
    interventions: list[CompiledIntervention]

    def __bool__(self) -> bool:
        return bool(self.interventions)

    @property
    def span_texts(self) -> list[str]:
        """Span texts any intervention needs located (for building a BatchContext)."""
        out: list[str] = []
        for ci in self.interventions:
            if ci.positions.kind == "span" and ci.positions.text not in out:
                out.append(ci.positions.text)  # type: ignore[arg-type]
        return out

    @property
    def split_dependent(self) -> bool:
        """Whether any scope depends on where the prompt ends (everything but ``all``)."""
        return any(ci.positions.kind != "all" for ci in self.interventions)

    def by_hook(self) -> list[tuple[HookPoint, list[CompiledIntervention]]]:
        """Interventions grouped per (module, site), each group in spec order."""
        groups: dict[tuple[str, str], tuple[HookPoint, list[CompiledIntervention]]] = {}
        for ci in self.interventions:
            key = (ci.hook.module_name, ci.hook.site)
            groups.setdefault(key, (ci.hook, []))[1].append(ci)
        return list(groups.values())


def compile_spec(model: nn.Module, spec: Any, sae_impl: str = "auto") -> CompiledSpec:
    """Validate ``spec`` (a SteeringSpec, dict, list, path or None) against ``model``.

    Args:
        model: a Hugging Face causal LM.
        spec: the steering spec in any accepted form.
        sae_impl: ``auto`` (feature-slice path where exact, full SAE otherwise) or ``full``.

    Raises:
        SpecError: one line naming the bad field.
    """
    if isinstance(spec, CompiledSpec):
        return spec
    spec = spec_from_obj(spec)
    d_model = hidden_size(model)
    device = next(model.parameters()).device
    out: list[CompiledIntervention] = []
    for i, iv in enumerate(spec.interventions):
        where = f"interventions[{i}]"
        positions = parse_positions(iv.positions, f"{where}.positions")
        if iv.feature is not None and iv.sae is None:
            raise SpecError(f"{where}.feature", "a feature index needs an SAE", "add sae: <folder or release/id>")
        sae = None
        if iv.sae is not None:
            sae = load_sae(iv.sae, f"{where}.sae", device=device)
            if int(sae.cfg.d_in) != d_model:
                raise SpecError(f"{where}.sae", f"SAE d_in {sae.cfg.d_in} does not match the model's hidden size {d_model}",
                                "use an SAE trained on this model's residual stream")
            if iv.feature is None:
                raise SpecError(f"{where}.feature", "missing feature index for the SAE", "add feature: <index>")
            if not 0 <= iv.feature < int(sae.cfg.d_sae):
                raise SpecError(f"{where}.feature", f"feature {iv.feature} is out of range for an SAE of width {sae.cfg.d_sae}",
                                f"use 0..{int(sae.cfg.d_sae) - 1}")
        layer = iv.layer
        if layer is None and sae is not None:
            layer = sae_hook_name(sae)
        if layer is None:
            raise SpecError(f"{where}.layer", "missing layer", "give layer: <int> or a hook name")
        hook = resolve_hook(model, layer, f"{where}.layer")

        direction = bias = None
        if iv.vector is not None:
            if sae is not None and iv.op in ("add", "clamp_projection", "ablate"):
                raise SpecError(f"{where}.vector", "give either vector or sae+feature, not both", None)
            direction, bias = load_vector(iv.vector, iv.vector_key, f"{where}.vector")
            if direction.shape[0] != d_model:
                raise SpecError(f"{where}.vector", f"vector has {direction.shape[0]} dims, the model's hidden size is {d_model}",
                                "build the vector on this model")
            if bias is not None and bias.shape[0] != d_model:
                raise SpecError(f"{where}.vector", f"bias has {bias.shape[0]} dims, expected {d_model}", None)
        elif sae is not None:
            direction = sae.W_dec.detach()[int(iv.feature)].float().cpu()  # type: ignore[arg-type]

        op = iv.op
        if op in ("add", "clamp_projection") and direction is None:
            raise SpecError(f"{where}.vector", f"{op} needs a direction", "give vector: <file> or sae: + feature:")
        if op == "add" and iv.scale == "feature_act":
            if sae is None:
                raise SpecError(f"{where}.scale", "scale feature_act needs sae + feature", "use absolute or resid_norm")
            if iv.typical_act is None:
                raise SpecError(f"{where}.typical_act", "scale feature_act needs the feature's typical activation",
                                "give typical_act: or run steering_hooks.calibrate_typical_act")
        if op != "add" and iv.scale != "absolute":
            raise SpecError(f"{where}.scale", f"scale applies to add only, not {op}", "remove scale")
        if op == "clamp_projection" and iv.value is None:
            raise SpecError(f"{where}.value", "clamp_projection needs value", "e.g. value: 0.0")
        if op == "sae_clamp":
            if sae is None:
                raise SpecError(f"{where}.sae", "sae_clamp needs sae + feature", "add sae: and feature:")
            if (iv.value is None) == (iv.multiply is None):
                raise SpecError(f"{where}.value", "sae_clamp needs exactly one of value or multiply", "e.g. value: 0.0")
        if op == "ablate" and sae is None and direction is None:
            raise SpecError(f"{where}.sae", "ablate needs sae + feature or a vector to project out", None)
        if op in ("add", "clamp_projection") and (iv.value is not None and op == "add"):
            raise SpecError(f"{where}.value", "add takes coeff, not value", "rename value to coeff")
        bias = bias if op == "clamp_projection" else None
        _check_dose(iv, direction, where)

        fslice = None
        if sae is not None and op in ("sae_clamp", "ablate") and sae_impl == "auto":
            cfg = sae.cfg
            if (cfg.architecture() in _PER_FEATURE_ARCHS and cfg.normalize_activations == "none"
                    and getattr(cfg, "reshape_activations", "none") == "none"):
                fslice = FeatureSlice.from_sae(sae, [int(iv.feature)])  # type: ignore[arg-type]
        out.append(CompiledIntervention(index=i, spec=iv, hook=hook, positions=positions, direction=direction,
                                        bias=bias, sae=sae, feature=iv.feature, fslice=fslice))
    return CompiledSpec(spec=spec, interventions=out)
