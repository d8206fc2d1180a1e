"""Typed readers (and the schemas) of the files the tool writes.

One module per file kind; each holds the dataclass its writer fills (``to_dict``) and a
``read_*`` function that parses the file back (``from_dict``), so that the report and the
commands never read result files by key paths:

* :mod:`~lm_eval_values.results.records` -- ``stage.json`` of a study stage, JSON helpers, the
  rule that degenerate data skip an analysis with a reason;
* :mod:`~lm_eval_values.results.graph` -- the graph stage's ``result.json``;
* :mod:`~lm_eval_values.results.human` -- the human-comparison stage's ``result.json`` and
  ``compare_human.json``;
* :mod:`~lm_eval_values.results.side_effects` -- the side-effect stage's ``result.json``;
* :mod:`~lm_eval_values.results.reliability` -- ``reliability.json``;
* :mod:`~lm_eval_values.results.study` -- a study's ``study.json``.

This package imports nothing of the project but :mod:`lm_eval_values.core`.
"""
