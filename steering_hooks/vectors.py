"""Building steering vectors: difference of means of residual activations; SAE calibration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Sequence

import torch
from torch import nn

from steering_hooks.hookpoints import resolve_hook


@torch.no_grad()
def mean_activation(model: nn.Module, tokenizer: Any, texts: Sequence[str], layer: Any,
                    reduce: Literal["mean", "last"] = "mean", batch_size: int = 8) -> torch.Tensor:
    """Mean residual activation at hook ``layer`` over ``texts`` (float32 ``[d_model]``).

    ``reduce="mean"`` averages every real token of a text, then over texts; ``"last"`` uses
    each text's last token. Padding never enters the mean (any padding side).
    """
    hook = resolve_hook(model, layer)
    device = next(model.parameters()).device
    captured: list[torch.Tensor] = []

    def grab(module: nn.Module, args: Any, kwargs: Any = None, output: Any = None) -> None:
        h = output if hook.site == "output" else (args[0] if args else kwargs["hidden_states"])
        captured.append((h[0] if isinstance(h, tuple) else h).detach().float())

    if hook.site == "output":
        handle = hook.module.register_forward_hook(lambda m, a, o: grab(m, a, None, o))
    else:
        handle = hook.module.register_forward_pre_hook(lambda m, a, k: grab(m, a, k), with_kwargs=True)
    total = None
    n = 0
    try:
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(list(texts[i:i + batch_size]), return_tensors="pt", padding=True)
            enc = {k: v.to(device) for k, v in enc.items()}
            captured.clear()
            model(**enc)
            h = captured[0]
            m = enc["attention_mask"].bool()
            if reduce == "mean":
                per_text = (h * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True)
            else:
                # last real token of each row, whatever the padding side
                idx = torch.where(m, torch.arange(m.shape[1], device=m.device), -1).max(1).values
                per_text = h[torch.arange(h.shape[0]), idx]
            s = per_text.sum(0)
            total = s if total is None else total + s
            n += per_text.shape[0]
    finally:
        handle.remove()
    return (total / max(n, 1)).cpu()


def diff_of_means(model: nn.Module, tokenizer: Any, positive: Sequence[str], negative: Sequence[str], layer: Any,
                  reduce: Literal["mean", "last"] = "mean", batch_size: int = 8) -> torch.Tensor:
    """``mean_activation(positive) - mean_activation(negative)`` at hook ``layer``."""
    return (mean_activation(model, tokenizer, positive, layer, reduce, batch_size)
            - mean_activation(model, tokenizer, negative, layer, reduce, batch_size))


def vector_file_bytes(vector: torch.Tensor, metadata: dict[str, Any] | None = None, key: str = "vector") -> bytes:
    """The safetensors bytes of one float32 tensor with JSON-able ``metadata`` (stored as strings).

    Deterministic: the header is key-sorted, compact JSON, so equal vectors and metadata give equal bytes
    (the safetensors library writes metadata in hash-map order, which changes from run to run). The
    layout is the safetensors format: an 8-byte little-endian header length, the JSON header padded
    with spaces to a multiple of 8 bytes, then the little-endian float32 data.
    """
    import numpy as np

    data = np.ascontiguousarray(vector.detach().to("cpu", torch.float32).numpy(), dtype="<f4").tobytes()
    meta = {str(k): v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in (metadata or {}).items()}
    header: dict[str, Any] = {key: {"dtype": "F32", "shape": list(vector.shape), "data_offsets": [0, len(data)]}}
    if meta:
        header["__metadata__"] = meta
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def save_vector(path: str | Path, vector: torch.Tensor, metadata: dict[str, Any] | None = None,
                key: str = "vector") -> Path:
    """Save a vector as safetensors (``key``) with JSON-able metadata stored as strings.

    The bytes are deterministic (:func:`vector_file_bytes`) and written atomically (a temporary sibling,
    then a rename), so a vector file, the ids and hashes derived from it are the same in every run.
    """
    import os
    import tempfile

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    blob = vector_file_bytes(vector, metadata, key)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + p.name + ".", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


@torch.no_grad()
def calibrate_typical_act(model: nn.Module, tokenizer: Any, sae: Any, feature: int, texts: Sequence[str],
                          layer: Any = None, batch_size: int = 8) -> float:
    """The feature's typical activation on ``texts``: mean over tokens where it is active
    (0.0 if it never fires). Use it as ``typical_act`` with ``scale: feature_act``."""
    from steering_hooks.sources import sae_hook_name

    hook = resolve_hook(model, layer if layer is not None else sae_hook_name(sae))
    device = next(model.parameters()).device
    vals: list[torch.Tensor] = []

    def grab(module: nn.Module, args: Any, output: Any) -> None:
        h = output[0] if isinstance(output, tuple) else output
        vals.append(h.detach().float())

    handle = hook.module.register_forward_hook(grab)
    acts: list[torch.Tensor] = []
    try:
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(list(texts[i:i + batch_size]), return_tensors="pt", padding=True)
            enc = {k: v.to(device) for k, v in enc.items()}
            vals.clear()
            model(**enc)
            a = sae.encode(vals[0].to(sae.W_enc.device))[..., feature]
            acts.append(a[enc["attention_mask"].bool().to(a.device)].cpu())
    finally:
        handle.remove()
    a = torch.cat(acts) if acts else torch.zeros(0)
    a = a[a > 0]
    return float(a.mean()) if a.numel() else 0.0
