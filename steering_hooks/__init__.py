"""steering_hooks: steering interventions on any Hugging Face causal LM.

Standalone: imports nothing from lm-eval or lm_eval_values.

* :mod:`steering_hooks.spec`: the declarative spec (:class:`SteeringSpec`, :class:`Intervention`,
  position scopes), read from YAML/JSON with safe loaders;
* :mod:`steering_hooks.compile`: validation against a model before any forward pass;
* :mod:`steering_hooks.context`: the per-batch :class:`BatchContext` (prompt / continuation /
  span token masks) that hooks read;
* :mod:`steering_hooks.attach`: the :func:`attach` context manager and its :class:`Receipt`;
* :mod:`steering_hooks.sources`: sae-lens SAEs, vector files, lm-eval ``steered`` ``.pt`` files;
* :mod:`steering_hooks.vectors`: difference-of-means vectors, SAE feature calibration.
"""

from steering_hooks.attach import InterventionReceipt, Receipt, Steering, attach
from steering_hooks.compile import CompiledIntervention, CompiledSpec, FeatureSlice, compile_spec
from steering_hooks.context import BatchContext, find_span_positions
from steering_hooks.errors import SpecError
from steering_hooks.hookpoints import HookPoint, decoder_layers, hidden_size, resolve_hook
from steering_hooks.sources import load_sae, load_vector, spec_from_steered_pt
from steering_hooks.spec import Intervention, Positions, SteeringSpec, load_spec, parse_positions, spec_from_obj
from steering_hooks.vectors import calibrate_typical_act, diff_of_means, mean_activation, save_vector

__all__ = [
    "BatchContext", "CompiledIntervention", "CompiledSpec", "FeatureSlice", "HookPoint", "Intervention",
    "InterventionReceipt", "Positions", "Receipt", "SpecError", "Steering", "SteeringSpec", "attach",
    "calibrate_typical_act", "compile_spec", "decoder_layers", "diff_of_means", "find_span_positions",
    "hidden_size", "load_sae", "load_spec", "load_vector", "mean_activation", "parse_positions",
    "resolve_hook", "save_vector", "spec_from_obj", "spec_from_steered_pt",
]
