"""Checks of ``values_hf`` model arguments and steering BEFORE any weights load.

A mistyped model argument (``coef=2`` for ``coeff=2``), a layer beyond the model or a missing
vector file would otherwise surface after a minute of loading, as a traceback from deep inside
transformers or the steering hooks. :func:`check_before_load` finds them in milliseconds, reading
only the model's ``config.json`` (a local folder, an embedded model's cached folder, or the local
Hugging Face cache; :mod:`lm_eval_values.model.refs`), and raises one-line errors.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Iterable, Mapping

from steering_hooks.errors import SpecError
from steering_hooks.hookpoints import layer_of_hook_name
from steering_hooks.sae_refs import parse_sae_ref
from steering_hooks.spec import SteeringSpec

from lm_eval_values.core.errors import UserError
from lm_eval_values.model.refs import hub_facts, is_hub_model_id, local_facts

#: keyword arguments lm-eval's HFLM hands on to ``from_pretrained`` (not in its signature, still valid)
FROM_PRETRAINED_KEYS: frozenset[str] = frozenset({
    "attn_implementation", "device_map", "low_cpu_mem_usage", "load_in_4bit", "load_in_8bit",
    "bnb_4bit_compute_dtype", "bnb_4bit_quant_type", "bnb_4bit_use_double_quant", "cache_dir",
    "local_files_only", "token", "variant", "use_safetensors", "max_memory", "offload_state_dict", "torch_dtype",
    "gpus",
})


def check_model_args(given: Iterable[str], own: Iterable[str], hflm: Iterable[str]) -> None:
    """Raise a one-line :class:`UserError` for a model argument no one reads.

    Args:
        given: the keyword names passed to ``values_hf``.
        own: ``values_hf``'s own arguments (role, steering, ...).
        hflm: lm-eval ``HFLM``'s arguments (``pretrained``, ``dtype``, ``batch_size``, ...).

    The message names the closest valid key ("did you mean coeff?") and lists the valid ones.
    """
    own_set, hf_set = set(own), set(hflm)
    valid = own_set | hf_set | FROM_PRETRAINED_KEYS
    for key in given:
        if key in valid:
            continue
        close = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UserError(f"model_args.{key}", "unknown model argument of values_hf",
                        f"{hint}values_hf's own: {', '.join(sorted(own_set))}; lm-eval's HFLM: "
                        f"{', '.join(sorted(hf_set))}; passed to from_pretrained: {', '.join(sorted(FROM_PRETRAINED_KEYS))}")


def model_layer_count(pretrained: Any) -> int | None:
    """Decoder layers of ``pretrained`` from its ``config.json`` alone (None when it cannot be read offline).

    ``pretrained`` is a local folder (embedded aliases are resolved to theirs before), or a hub id
    whose ``config.json`` is in the local Hugging Face cache or in the built-in table of
    well-known models. Nothing is downloaded.
    """
    if not isinstance(pretrained, (str, Path)):
        return None  # an already loaded model: compile_spec checks against it
    path = Path(pretrained).expanduser()
    if path.is_dir():
        facts = local_facts(path, str(pretrained))
    elif is_hub_model_id(str(pretrained)):
        facts = hub_facts(str(pretrained))
    else:
        facts = None
    return facts.n_layers if facts is not None else None


def check_spec_layers(spec: SteeringSpec, n_layers: int | None, pretrained: Any) -> None:
    """Raise a one-line :class:`SpecError` for an intervention at a layer the model does not have."""
    if n_layers is None:
        return
    for i, iv in enumerate(spec.interventions):
        if iv.layer is None:
            continue
        where = "layer" if len(spec.interventions) == 1 else f"interventions[{i}].layer"
        hook = layer_of_hook_name(iv.layer)
        if hook is None:
            continue  # a module path without a layer number: resolved against the loaded model
        if not 0 <= hook.layer < n_layers:
            raise SpecError(where, f"layer {iv.layer} is beyond {Path(str(pretrained)).name} ({n_layers} decoder "
                                   f"layers: 0..{n_layers - 1})", f"use a layer between 0 and {n_layers - 1}")


def check_spec_files(spec: SteeringSpec) -> None:
    """Raise a one-line :class:`SpecError` for a vector file or local SAE folder that does not exist."""
    for i, iv in enumerate(spec.interventions):
        prefix = "" if len(spec.interventions) == 1 else f"interventions[{i}]."
        if isinstance(iv.vector, str) and not Path(iv.vector).expanduser().is_file():
            raise SpecError(f"{prefix}vector", f"{iv.vector} does not exist or is not a file",
                            "give a .safetensors, .npy, .npz or .pt vector file")
        if iv.sae is not None:
            ref = parse_sae_ref(iv.sae, f"{prefix}sae")
            if ref.is_local and not Path(str(ref.path)).expanduser().exists():
                raise SpecError(f"{prefix}sae", f"{ref.path} does not exist",
                                "give a local sae-lens folder (cfg.json + weights) or a release::sae_id")


def check_before_load(given: Mapping[str, Any], own: Iterable[str], hflm: Iterable[str], spec: SteeringSpec,
                      pretrained: Any) -> None:
    """All checks that need no weights: model argument names, steering files, steering layers."""
    check_model_args(given, own, hflm)
    if spec:
        check_spec_files(spec)
        check_spec_layers(spec, model_layer_count(pretrained), pretrained)
