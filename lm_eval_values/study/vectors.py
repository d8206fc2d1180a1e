"""Stage 1 of a study: diff-of-means steering vectors, one per value (only when ``vectors:`` is set).

Inclined minus disinclined value-definition prompts, each followed by the same neutral requests,
mean over tokens of the residual stream after one decoder layer; steered with ``scale: resid_norm``
(coefficient x residual norm x unit direction) under the steering ids ``vec:<Value>``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lm_eval_values.core.errors import UserError
from lm_eval_values.integration.embedded_models import resolve_model_path
from lm_eval_values.model.loading import load_model
from lm_eval_values.study.config import ModelSpec
from lm_eval_values.study.settings import VectorSpec
from lm_eval_values.values.definitions import value_definition_prompt
from lm_eval_values.values.names import slugify


def middle_layer(model: Any) -> int:
    """The middle decoder layer of a HF causal LM."""
    from steering_hooks.hookpoints import decoder_layers

    _, layers = decoder_layers(model)
    return len(layers) // 2


def build_vectors(ms: ModelSpec, spec: VectorSpec, folder: Path) -> dict[str, Any]:
    """Diff-of-means vectors: inclined minus disinclined value-definition prompts, each followed by
    the same neutral requests, mean over tokens at the residual stream after ``layer``."""
    import torch

    from steering_hooks.vectors import diff_of_means, save_vector

    path = resolve_model_path(str(ms.sweep.model_args["pretrained"]))
    model, tok = load_model(path, progress_bars=True)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    torch.manual_seed(0)
    layer = spec.layer if spec.layer is not None else middle_layer(model)
    from steering_hooks.hookpoints import decoder_layers

    n_layers = len(decoder_layers(model)[1])
    if layer >= n_layers:
        raise UserError("vectors.layer", f"layer {layer} is beyond the model's {n_layers} layers", f"use 0..{n_layers - 1}")
    out: dict[str, Any] = {"layer": layer, "n_layers": n_layers, "vectors": {}}
    for v in spec.values:
        pos = [f"{value_definition_prompt(v, 'inclined')} {t}" for t in spec.texts]
        neg = [f"{value_definition_prompt(v, 'disinclined')} {t}" for t in spec.texts]
        vec = diff_of_means(model, tok, pos, neg, layer)
        name = f"{slugify(v)}.safetensors"
        save_vector(folder / name, vec, {"value": v, "layer": layer, "n_texts": len(spec.texts),
                                         "method": "diff of means, inclined - disinclined definition prompts"})
        out["vectors"][v] = {"file": name, "norm": float(vec.norm())}
        print(f"    vec:{v}: layer {layer}, norm {float(vec.norm()):.3f}", file=sys.stderr, flush=True)
    return out


def vector_entries(spec: VectorSpec, folder: Path, layer: int) -> list[dict[str, Any]]:
    """Sweep steering entries for the study's vectors (ids ``vec:<Value>``)."""
    return [{"type": "vector", "id": f"vec:{v}", "vector": str((folder / f"{slugify(v)}.safetensors").resolve()),
             "layer": layer, "coefficients": spec.coefficients, "positions": spec.positions,
             "options": {"scale": "resid_norm"}} for v in spec.values]
