"""Measurement validity of value scores: is there value signal, or only response bias?

* :mod:`~lm_eval_values.measurement.table`: the tidy item table (``items.csv``) as a frame, and the
  respondent cells the analyses use (unsteered role conditions, each role once).
* :mod:`~lm_eval_values.measurement.simulate`: simulated respondents with a known truth, written as
  the tool's own item table.
* :mod:`~lm_eval_values.measurement.components`: variance-component estimators (ANOVA/EMS,
  Henderson method III, one-way nested ANOVA, REML).
* :mod:`~lm_eval_values.measurement.reliability`: the generalizability study per value, acquiescence,
  keyed vs reverse-keyed correlation and the signal verdict.
* :mod:`~lm_eval_values.measurement.intervals`: two-way (pigeonhole) bootstrap and variance-component
  intervals for statistics that average items.
* :mod:`~lm_eval_values.measurement.bias`: response-bias scoring choices (raw, item centering,
  acquiescence residualisation, MRAT).
* :mod:`~lm_eval_values.measurement.manipulation`: steering manipulation checks.
* :mod:`~lm_eval_values.measurement.run`: :func:`run_reliability`, the whole analysis to
  ``reliability.json``; :mod:`~lm_eval_values.cli.reliability` its command.
"""
