"""Condition ids and the text of steering ids and coefficients (``lm_eval_values.core.conditions``)."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

from lm_eval_values.core.conditions import (NO_STEERING, coefficient_text, condition_id, dose_id, format_number,
                                            normalise_steering_id)


def test_condition_id_is_the_documented_hash_of_the_canonical_key():
    key = {"seed": 0, "role": ["r1", "train", "You are a nurse."], "steering": {"id": "none", "coefficient": 0.0},
           "identity": {"model": "values_hf", "tasks": ["values_schwartz"]}}
    canonical = json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    assert condition_id(key) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
    reordered = dict(reversed(list(key.items())))
    assert condition_id(reordered) == condition_id(key)  # key order never changes an id
    assert condition_id({**key, "seed": 1}) != condition_id(key)


@pytest.mark.parametrize("raw, expected", [
    (10096.0, "10096"), ("10096", "10096"), (10096, "10096"), (np.int64(7), "7"), ("10096.0", "10096"),
    (0.5, "0.5"), (None, NO_STEERING), (float("nan"), NO_STEERING), ("", NO_STEERING), (" NaN ", NO_STEERING),
    ("none", NO_STEERING), ("sae:12", "sae:12"), ("prompt:Power", "prompt:Power"), ("1e3", "1e3"),
])
def test_one_steering_id_normaliser(raw, expected):
    assert normalise_steering_id(raw) == expected


def test_coefficient_text_and_dose_ids():
    assert [format_number(x) for x in (100.0, 0.5, -1.0, 0.0, -0.0)] == ["100", "0.5", "-1", "0", "0"]
    assert coefficient_text(math.nan) == "" and coefficient_text("x") == "" and coefficient_text(None) == ""
    assert coefficient_text(-0.5) == "-0.5"
    assert dose_id("vec:Power", 0.5) == "vec:Power@0.5"
    assert dose_id("prompt:Power", -1.0) == "prompt:Power@-1"
    assert dose_id(NO_STEERING, 0.0) == NO_STEERING
