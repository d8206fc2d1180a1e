"""Sweeps: roles x steering settings x seeds asked through lm-eval with the model loaded once.

config (the YAML, validated), fields (config field checks), steering (steering settings), conditions
(the grid and its shards), items (which items each condition asks), runner (the loaded model),
run (``run_sweep``: condition folders, tables, manifest), merge (joining shards).
"""
