"""The model side: the ``values_hf`` lm-eval model, roles, shared-prefix reuse, model loading and activations."""
