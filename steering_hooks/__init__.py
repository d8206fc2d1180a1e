"""steering_hooks: steering interventions on any Hugging Face causal LM.

Standalone: imports nothing from lm-eval or lm_eval_values.
"""
