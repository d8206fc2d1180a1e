"""The end-to-end value study: config, stage settings, the stages (vectors, sweep, graph, human, side
effects) and ``run_study``, which runs them resumably and writes the report."""
