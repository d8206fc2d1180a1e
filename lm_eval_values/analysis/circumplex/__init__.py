"""Human Schwartz value structure and how a model's value matrix compares with it.

Input is any table whose columns are Schwartz's (1992) ten basic values and whose rows
are roles, conditions or respondents. From it this module computes

* MRAT-centered correlations (each row's mean rating over all items subtracted first,
  as the PVQ scoring instructions prescribe; Schwartz 1992, Schwartz et al. 2001);
* the mean correlation by circular distance 1..5, next to the human curve;
* the RTHOR correspondence index of the circular-order hypothesis with a permutation
  p-value (Hubert & Arabie 1987, "Evaluating order hypotheses within proximity matrices",
  Psychological Bulletin 102(1):172-178);
* similarity with the human correlation matrix (correlation of off-diagonal cells, RMSE);
* a 2-D MDS configuration (classical start, metric SMACOF refinement) with Procrustes fits
  to the theoretical circle and to the human configuration (Borg, Bardi & Schwartz 2017,
  "Does the value circle exist within persons or only across persons?", Journal of
  Personality 85(2):151-162);
* the signs of the two higher-order contrasts (Openness to change vs Conservation,
  Self-enhancement vs Self-transcendence).

The human reference is PVQ-40 data of 151 US adults (Borg, Bardi & Schwartz 2017, as
distributed in the R package smacof), shipped as ``lm_eval_values/data/schwartz_pvq40_human.json``
and loaded by :func:`load_human_reference`.

The causal side (a PC graph of the human correlations, compared with a model's graph)
lives in :func:`human_pc_graph` and :func:`compare_causal_with_human`; it uses
``lm_eval_values.causal`` and the uncentered correlations (MRAT-centered scores are
ipsative, so their correlation matrix is singular).

All analysis functions take plain :class:`pandas.DataFrame` objects. Bad input raises
:class:`~lm_eval_values.core.errors.UserError`.

References:
    Schwartz, S. H. (1992). Universals in the content and structure of values. Advances in
    Experimental Social Psychology 25:1-65.
    Schwartz, S. H. et al. (2001). Extending the cross-cultural validity of the theory of basic
    human values with a different method of measurement. J. Cross-Cultural Psychology 32(5):519-542.
    Hubert, L. & Arabie, P. (1987). Evaluating order hypotheses within proximity matrices.
    Psychological Bulletin 102(1):172-178.
    Borg, I., Bardi, A. & Schwartz, S. H. (2017). Does the value circle exist within persons or
    only across persons? Journal of Personality 85(2):151-162.
    Phipson, B. & Smyth, G. K. (2010). Permutation p-values should never be zero. Statistical
    Applications in Genetics and Molecular Biology 9(1):39.

The subpackage's modules: reference (the human data), scores (input, MRAT centring, correlations),
structure (circular distances, RTHOR, similarity), mds (MDS, Procrustes, higher-order contrasts),
compare (the whole comparison, row bootstrap, causal side), plots, inputs (reading a
``compare-human`` input). This ``__init__`` gathers the public API: :func:`load_human_reference` (:class:`HumanReference`), :func:`schwartz_scores`,
:func:`row_item_mean`, :func:`mrat_center`, :func:`value_correlations`,
:func:`circular_distances`, :func:`distance_curve`, :func:`correspondence_index`,
:func:`rthor_test` (:class:`RTHORResult`), :func:`matrix_similarity`, :func:`classical_mds`,
:func:`metric_mds`, :func:`procrustes_fit`, :func:`mds_configuration`,
:func:`higher_order_contrasts`, :func:`bootstrap_structure`, :func:`compare_with_human`
(:class:`HumanComparison`), :func:`human_pc_graph`, :func:`compare_causal_with_human`.
"""

from __future__ import annotations

from lm_eval_values.analysis.circumplex.reference import (CENTERINGS, CONVENTIONS, HIGHER_ORDER, REFERENCE_FILE,
                                                          HumanReference, check_centering, load_human_reference)
from lm_eval_values.analysis.circumplex.scores import (find_schwartz_columns, mrat_center, row_item_mean,
                                                       schwartz_scores, value_correlations)
from lm_eval_values.analysis.circumplex.structure import (RTHORResult, circular_distances, correspondence_index,
                                                          distance_curve, is_monotone_decreasing, matrix_similarity,
                                                          offdiagonal, rthor_test)
from lm_eval_values.analysis.circumplex.mds import (MDSConfiguration, ProcrustesFit, circle_fit_summary,
                                                    classical_mds, correlation_dissimilarity, higher_order_contrasts,
                                                    mds_configuration, metric_mds, procrustes_fit, stress1,
                                                    theoretical_circle)
from lm_eval_values.analysis.circumplex.compare import (HumanComparison, bootstrap_structure,
                                                        compare_causal_with_human, compare_with_human, graph_edges,
                                                        human_pc_graph)

__all__ = [
    "CENTERINGS", "CONVENTIONS", "HIGHER_ORDER", "HumanComparison", "HumanReference", "MDSConfiguration",
    "ProcrustesFit", "REFERENCE_FILE", "RTHORResult", "bootstrap_structure", "check_centering",
    "circle_fit_summary", "circular_distances", "classical_mds", "compare_causal_with_human",
    "compare_with_human", "correlation_dissimilarity", "correspondence_index", "distance_curve",
    "find_schwartz_columns", "graph_edges", "higher_order_contrasts", "human_pc_graph", "is_monotone_decreasing",
    "load_human_reference", "matrix_similarity", "mds_configuration", "metric_mds", "mrat_center", "offdiagonal",
    "procrustes_fit", "row_item_mean", "rthor_test", "schwartz_scores", "stress1", "theoretical_circle",
    "value_correlations",
]
