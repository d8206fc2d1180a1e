"""lm-eval task folders of lm-eval-values (YAML + utils.py), shipped in the wheel.

Point stock lm-eval at this folder with ``lm_eval --include_path "$(lm-eval-values tasks-dir)"``.
"""
