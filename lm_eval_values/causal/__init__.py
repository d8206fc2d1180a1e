"""Causal value graphs: causal-learn discovery -> networkx graphs, stability, metrics, exports."""
