"""Fixtures of the causal tests: the reference study's Gemma-2B-IT matrix (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lm_eval_values.matrix.reading import read_value_matrix
from lm_eval_values.matrix.value_matrix import ValueMatrix

#: the study's kept steering settings: unsteered plus 10 SAE features (paper protocol, step 7)
KEPT = ["none", 14351, 1025, 2965, 10096, 1341, 1975, 10605, 14049, 1312, 4752]


@pytest.fixture(scope="session")
def gemma_train(shared_data: Path) -> ValueMatrix:
    """The 1111 x 17 matrix the study fits PC on (101 roles x 11 steering settings)."""
    csv = shared_data / "valuecausalgraph" / "tutorials" / "useful_data" / "ans_gemma_train_formal.csv"
    if not csv.is_file():
        pytest.skip("valuecausalgraph data not available")
    return read_value_matrix(csv, keep_steering=KEPT)
