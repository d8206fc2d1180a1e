"""Loading a local causal LM, what it looks like before loading, and the residual stream after a layer.

One way to load a model for everything outside lm-eval (SAE training, feature discovery, the
study's steering vectors): :func:`load_model` (``dtype=float32``, eval mode, no gradients). A model
is checked before its weights are loaded through :func:`resolve_local_model` (``config.json``
only) and :func:`check_layer`. Activations are captured at the output of a decoder layer
(:func:`capture_layer`, :func:`layer_outputs`); :func:`hook_names` names that hook point in
every scheme users meet.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from lm_eval_values.core.errors import UserError
from lm_eval_values.integration.embedded_models import is_alias, resolve_model_path


@dataclass(frozen=True)
class ModelShape:
    """What we need to know about a local causal LM before loading it."""

    path: str
    name: str
    n_layers: int
    d_model: int


def _looks_like_hub_id(name: str) -> bool:
    """``org/name`` with no path syntax: a Hugging Face hub model id (for online users)."""
    return (name.count("/") == 1 and not name.startswith(("/", ".", "~"))
            and all(part and " " not in part for part in name.split("/")))


def resolve_local_model(name_or_path: str, field_name: str = "--model") -> ModelShape:
    """An embedded alias, a local HF folder or a hub id (``google/gemma-2-2b-it``) -> its :class:`ModelShape`.

    Local folders: reads ``config.json`` only. Hub ids (online users; nothing here downloads
    one) go through ``transformers.AutoConfig.from_pretrained`` and the weights are later
    loaded from the hub by ``AutoModelForCausalLM.from_pretrained``.
    """
    name = str(name_or_path).strip()
    if not name:
        raise UserError(field_name, "is empty", "give an embedded model name (smollm2-135m-instruct) or a local folder")
    if is_alias(name):
        path = Path(resolve_model_path(name))
        short = name
    else:
        path = Path(name).expanduser()
        short = path.resolve().name if path.exists() else name
    cfg_file = path / "config.json"
    if cfg_file.is_file():
        try:
            raw = json.loads(cfg_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(field_name, f"cannot read {cfg_file} ({exc})", "give a valid Hugging Face model folder") from None
        where, model_ref = str(cfg_file), str(path)
    elif not path.exists() and _looks_like_hub_id(name):
        raw = _hub_config(name, field_name)
        where, model_ref, short = f"the hub config of {name}", name, name.split("/")[1]
    else:
        raise UserError(field_name, f"no Hugging Face model folder at {name} (config.json missing)",
                        "give a local model folder, an embedded model name such as smollm2-135m-instruct, "
                        "or a hub id such as google/gemma-2-2b-it")
    text = raw.get("text_config") or raw
    n_layers = text.get("num_hidden_layers") or text.get("n_layer")
    d_model = text.get("hidden_size") or text.get("n_embd") or text.get("d_model")
    if not isinstance(n_layers, int) or not isinstance(d_model, int):
        raise UserError(field_name, f"{where} names no num_hidden_layers / hidden_size",
                        "give a decoder-only causal LM")
    return ModelShape(path=model_ref, name=short, n_layers=n_layers, d_model=d_model)


def _hub_config(repo_id: str, field_name: str) -> dict[str, Any]:
    """The config of a hub model as a dict (``AutoConfig.from_pretrained``); one-line error if it fails."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(repo_id).to_dict()
    except Exception as exc:  # noqa: BLE001 - network, auth and missing-repo errors become one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(field_name, f"cannot read the hub model {repo_id!r} ({first})",
                        "check the model id and your hub access (huggingface-cli login), or give a local folder"
                        ) from None


def check_layer(layer: Any, shape: ModelShape, field_name: str = "--layer") -> int:
    """Validate a decoder-layer index against the model."""
    if isinstance(layer, bool) or not isinstance(layer, int):
        raise UserError(field_name, f"expected an integer layer, got {layer!r}", f"use 0..{shape.n_layers - 1}")
    if not 0 <= layer < shape.n_layers:
        raise UserError(field_name, f"layer {layer} is beyond the model ({shape.n_layers} decoder layers)",
                        f"use a layer between 0 and {shape.n_layers - 1}")
    return layer


def hook_names(layer: int) -> dict[str, str]:
    """The hook point 'residual stream after decoder layer L' in every scheme users have."""
    return {"hf": f"model.layers.{layer}", "sae_lens": f"model.layers.{layer}",
            "transformer_lens": f"blocks.{layer}.hook_resid_post", "lm_eval": f"layers.{layer}",
            "layer": str(layer)}


def load_model(path: str, device: str = "cpu", progress_bars: bool = False) -> tuple[Any, Any]:
    """Load a local causal LM (``dtype=float32``, eval mode, no gradients) and its tokenizer.

    ``progress_bars=False`` turns transformers' progress bars off for the rest of the process
    (commands keep stderr to their own lines); the study keeps them.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if not progress_bars:
        hf_logging.disable_progress_bar()  # keep stderr to our own lines (errors are one line)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, tok


def decoder_layer(model: Any, layer: int) -> Any:
    """The decoder-layer module whose output is the residual stream after layer ``layer``."""
    from steering_hooks.hookpoints import resolve_hook

    return resolve_hook(model, layer).module


class _StopForward(Exception):
    pass


@contextmanager
def capture_layer(model: Any, layer: int, stop: bool = True) -> Iterator[list[Any]]:
    """Context manager: collect the output of decoder layer ``layer`` on each forward pass.

    With ``stop`` the forward pass is cut right after that layer (callers wrap the call in
    :func:`run_to_layer`). Handles decoder layers returning a tensor or a tuple.
    """
    store: list[Any] = []

    def hook(_mod: Any, _inp: Any, out: Any) -> None:
        store.append(out[0] if isinstance(out, (tuple, list)) else out)
        if stop:
            raise _StopForward

    handle = decoder_layer(model, layer).register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def layer_outputs(model: Any, layer: int, input_ids: Any, attention_mask: Any = None, batch_size: int = 16) -> Any:
    """Residual stream after ``layer`` for ``input_ids`` [N, T] -> float32 tensor [N, T, d] (CPU)."""
    import torch

    outs = []
    device = next(model.parameters()).device
    with torch.no_grad(), capture_layer(model, layer, stop=True) as store:
        for i in range(0, input_ids.shape[0], batch_size):
            ids = input_ids[i:i + batch_size].to(device)
            mask = None if attention_mask is None else attention_mask[i:i + batch_size].to(device)
            try:
                model(input_ids=ids, attention_mask=mask, use_cache=False)
            except _StopForward:
                pass
            outs.append(store.pop().float().cpu())
    return torch.cat(outs, dim=0)
