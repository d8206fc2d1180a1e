"""``attach(model, spec)``: register steering hooks for the duration of a ``with`` block.

Hooks are always removed on exit, also when the block raises. The yielded
:class:`Steering` handle takes the per-batch :class:`~steering_hooks.context.BatchContext`
(``set_context``) and accumulates a :class:`Receipt` of what was applied.

Example::

    from steering_hooks import attach
    spec = {"interventions": [{"op": "add", "layer": 6, "vector": "v.safetensors", "coeff": 4,
                               "positions": 'span:" your values"'}]}
    with attach(model, spec, tokenizer=tok) as steering:
        out = model.generate(**tok(prompts, return_tensors="pt", padding=True), max_new_tokens=20)
    print(steering.receipt.to_dict())
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

import torch
from torch import nn

from steering_hooks.compile import CompiledIntervention, CompiledSpec, compile_spec
from steering_hooks.context import BatchContext
from steering_hooks.errors import SpecError
from steering_hooks.hookpoints import decoder_layers

_MAX_LISTED_ROWS = 8


@dataclass
class InterventionReceipt:
    """What one intervention did, accumulated over forward passes."""

    index: int
    op: str
    hook: str
    positions: str
    direction_norm: float | None
    coeff: float | None = None
    value: float | None = None
    multiply: float | None = None
    sae: str | None = None
    feature: int | None = None
    forwards: int = 0
    tokens_seen: int = 0
    positions_steered: int = 0
    norm_before_sum: float = 0.0
    norm_after_sum: float = 0.0
    #: steered positions per row of the last forward that steered anything (first rows only)
    last_positions: list[list[int]] = field(default_factory=list)

    @property
    def mean_norm_before(self) -> float | None:
        return self.norm_before_sum / self.positions_steered if self.positions_steered else None

    @property
    def mean_norm_after(self) -> float | None:
        return self.norm_after_sum / self.positions_steered if self.positions_steered else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean_resid_norm_before"] = self.mean_norm_before
        d["mean_resid_norm_after"] = self.mean_norm_after
        del d["norm_before_sum"], d["norm_after_sum"]
        return d


@dataclass
class Receipt:
    """What a spec applied: one :class:`InterventionReceipt` per intervention, in spec order."""

    spec_hash: str
    interventions: list[InterventionReceipt] = field(default_factory=list)

    @classmethod
    def for_spec(cls, compiled: CompiledSpec) -> "Receipt":
        items = []
        for ci in compiled.interventions:
            iv = ci.spec
            items.append(InterventionReceipt(index=ci.index, op=iv.op, hook=ci.hook.label, positions=str(ci.positions),
                                             direction_norm=ci.direction_norm,
                                             coeff=iv.coeff if iv.op == "add" else None, value=iv.value,
                                             multiply=iv.multiply, sae=iv.sae, feature=iv.feature))
        return cls(spec_hash=compiled.spec.spec_hash(), interventions=items)

    @property
    def positions_steered(self) -> int:
        return sum(r.positions_steered for r in self.interventions)

    def to_dict(self) -> dict[str, Any]:
        return {"spec_hash": self.spec_hash, "interventions": [r.to_dict() for r in self.interventions]}


def _cache_len(kwargs: dict[str, Any]) -> int:
    """Tokens already in the key/value cache of this forward (0 for a fresh forward)."""
    cache = kwargs.get("cache", kwargs.get("past_key_values"))
    if cache is None:
        return 0
    if hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    try:  # legacy tuple caches: ((k, v), ...) with k [B, H, L, d]
        return int(cache[0][0].shape[-2])
    except Exception:  # noqa: BLE001
        return 0


class Steering:
    """The live handle yielded by :func:`attach`: context setter, receipt, compiled spec."""

    def __init__(self, compiled: CompiledSpec, receipt: Receipt, tokenizer: Any = None,
                 context: BatchContext | None = None, record: bool = True) -> None:
        self.compiled = compiled
        self.receipt = receipt
        self.tokenizer = tokenizer
        self.record = record
        self._explicit: BatchContext | None = context
        self._auto: BatchContext | None = None
        self._cache_len = 0
        self._receipts = {r.index: r for r in receipt.interventions}

    def set_context(self, context: BatchContext | None) -> None:
        """Describe the next forward pass(es); None returns to automatic prompt detection."""
        self._explicit = context
        self._auto = None

    @property
    def context(self) -> BatchContext | None:
        return self._explicit if self._explicit is not None else self._auto

    # -- hooks -------------------------------------------------------------------------
    def _pre_forward(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._cache_len = _cache_len(kwargs)
        if self._explicit is None and self._cache_len == 0:
            # a fresh prompt with no explicit context: every real token is prompt
            ids = kwargs.get("input_ids", args[0] if args else None)
            spans = self.compiled.span_texts
            if ids is None or (spans and self.tokenizer is None):
                self._auto = None
            else:
                self._auto = BatchContext.from_prompts(ids, kwargs.get("attention_mask"), self.tokenizer, spans)

    def _mask(self, ci: CompiledIntervention, B: int, T: int, device: torch.device) -> torch.Tensor | None:
        pos = ci.positions
        ctx = self.context
        if ctx is None:
            if pos.kind == "span":
                raise SpecError(f"interventions[{ci.index}].positions",
                                f"span {pos.text!r} needs the prompt tokens",
                                "pass tokenizer= to attach() or set a BatchContext")
            prefill = self._cache_len == 0
            if pos.kind == "all":
                return None
            if pos.kind == "generated":
                return None if not prefill else torch.zeros(B, T, dtype=torch.bool, device=device)
            if not prefill:
                return torch.zeros(B, T, dtype=torch.bool, device=device)
            if pos.kind == "prompt":
                return None
            m = torch.zeros(B, T, dtype=torch.bool, device=device)
            m[:, max(T - int(pos.k or 1), 0):] = True
            return m
        if ctx.shape[0] != B:
            raise RuntimeError(f"steering context has {ctx.shape[0]} rows but the forward pass has {B}: "
                               "set_context() for every batch")
        m = ctx.window(pos, self._cache_len, T).to(device)
        if pos.kind == "span" and ci.spec.required and self._cache_len <= ctx.start:
            missing = [b for b in range(B) if ctx.prompt[b].any() and not ctx.full_mask(pos)[b].any()]
            if missing:
                raise SpecError(f"interventions[{ci.index}].positions",
                                f"span {pos.text!r} not found in the prompt of batch row {missing[0]}",
                                "fix the span text, or set required: false")
        return m

    def _run(self, group: list[CompiledIntervention], hidden: torch.Tensor) -> torch.Tensor:
        B, T = hidden.shape[0], hidden.shape[1]
        for ci in group:
            mask = self._mask(ci, B, T, hidden.device)
            if mask is not None and not bool(mask.any()):
                if self.record:
                    self._receipts[ci.index].forwards += 1
                    self._receipts[ci.index].tokens_seen += B * T
                continue
            new = ci.apply(hidden, mask)
            if self.record:
                r = self._receipts[ci.index]
                r.forwards += 1
                r.tokens_seen += B * T
                with torch.no_grad():
                    sel = mask if mask is not None else torch.ones(B, T, dtype=torch.bool, device=hidden.device)
                    r.positions_steered += int(sel.sum())
                    r.norm_before_sum += float(hidden.float().norm(dim=-1)[sel].sum())
                    r.norm_after_sum += float(new.float().norm(dim=-1)[sel].sum())
                    r.last_positions = [sel[b].nonzero().flatten().tolist() for b in range(min(B, _MAX_LISTED_ROWS))]
            hidden = new
        return hidden

    def _output_hook(self, group: list[CompiledIntervention]):
        def hook(module: nn.Module, args: Any, output: Any) -> Any:
            if isinstance(output, tuple):
                return (self._run(group, output[0]), *output[1:])
            if isinstance(output, torch.Tensor):
                return self._run(group, output)
            if hasattr(output, "last_hidden_state"):
                output.last_hidden_state = self._run(group, output.last_hidden_state)
                return output
            raise TypeError(f"cannot steer output of type {type(output).__name__}")
        return hook

    def _input_hook(self, group: list[CompiledIntervention]):
        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if args:
                return (self._run(group, args[0]), *args[1:]), kwargs
            kwargs = dict(kwargs)
            kwargs["hidden_states"] = self._run(group, kwargs["hidden_states"])
            return args, kwargs
        return hook


def _owner_of_layers(model: nn.Module) -> nn.Module:
    name, _ = decoder_layers(model)
    parent = name.rsplit(".", 1)[0] if "." in name else ""
    return model.get_submodule(parent) if parent else model


@contextmanager
def attach(model: nn.Module, spec: Any, tokenizer: Any = None, context: BatchContext | None = None,
           receipt: Receipt | None = None, sae_impl: str = "auto", record: bool = True) -> Iterator[Steering]:
    """Steer ``model`` inside a ``with`` block; hooks are removed on exit, also on exceptions.

    Args:
        model: a Hugging Face causal LM (any architecture with a decoder-layer list).
        spec: a :class:`SteeringSpec`, dict, list, YAML/JSON/.pt path, a :class:`CompiledSpec`
            (from :func:`compile_spec`, to validate once and attach many times) or None.
        tokenizer: locates ``span`` scopes automatically when no context is set.
        context: the :class:`BatchContext` of the first batch (``Steering.set_context`` later).
        receipt: accumulate into an existing receipt (e.g. across calls of one evaluation).
        sae_impl: ``auto`` (feature-slice SAE path where exact) or ``full``.
        record: keep receipt statistics (norms, positions).

    Yields:
        the :class:`Steering` handle (``.receipt``, ``.set_context``).
    """
    compiled = compile_spec(model, spec, sae_impl=sae_impl)  # validates before any forward pass
    receipt = receipt if receipt is not None else Receipt.for_spec(compiled)
    steering = Steering(compiled, receipt, tokenizer=tokenizer, context=context, record=record)
    handles = []
    try:
        if compiled:
            handles.append(_owner_of_layers(model).register_forward_pre_hook(steering._pre_forward, with_kwargs=True))
            for hook, group in compiled.by_hook():
                if hook.site == "input":
                    handles.append(hook.module.register_forward_pre_hook(steering._input_hook(group), with_kwargs=True))
                else:
                    handles.append(hook.module.register_forward_hook(steering._output_hook(group)))
        yield steering
    finally:
        for h in handles:
            h.remove()
