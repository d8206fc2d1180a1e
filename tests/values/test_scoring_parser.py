"""The generate-format answer parser and the item-scoring arithmetic (pure functions)."""

from __future__ import annotations

import math

import pytest

from lm_eval_values.values.scoring import (acquiescence_index, generate_item, likert_item, parse_answer, process_results,
                                    yesno_item)

# (generated text after "Thought:", expected answer)
TRICKY = [
    (" I value order.\nAnswer: Yes.", "yes"),
    (" It would upset people.\nAnswer: no", "no"),
    (" Hmm.\nAnswer: **No**", "no"),
    (" Family first.\nAnswer: Nothing matters more to me, so yes.", "yes"),  # "nothing" is not "no"
    (" Nothing is more important than my family.", "unsure"),  # no marker, no leading yes/no
    (" Hard to tell.\nAnswer: Not sure.", "unsure"),
    (" x\nAnswer: I would say yes", "yes"),
    (" x\nAnswer: I would not say yes", "no"),  # negated yes
    (" x\nAnswer: I cannot say no to that", "unsure"),  # double negation
    (" x\nAnswer: Yes and no.", "unsure"),
    (" x\nAnswer: yes/no", "unsure"),
    (" x\nAnswer: It depends on the situation.", "unsure"),
    (" x\nAnswer: Not really.", "no"),
    (" x\nAnswer: Absolutely not!", "no"),
    (" x\nAnswer: Absolutely!", "yes"),
    (" x\nAnswer: yes\n\nQuestion: Should I travel?\nThought: no\nAnswer: no", "yes"),  # next turn ignored
    (" I like it. Answer: yes. Question: Should I? Thought: y Answer: no", "yes"),  # same line next turn
    ("Yes, because my family matters.", "yes"),  # no marker but a clear leading yes
    ("No. I prefer change.", "no"),
    (" Not only is it good, it is essential.", "unsure"),
    (" x\nAnswer: Noted, yes.", "yes"),  # "noted" is not "no"
    (" x\nAnswer: None of the above", "unsure"),  # "none" is not "no"
    (" x\nAnswer:\nNo", "no"),  # answer on the next line
    (" x\nanswer - YES", "yes"),
    (" x\nAnswer: 'no'", "no"),
    (" x\nAnswer: I don't think so.", "no"),
    (" x\nAnswer: Nobody should do that, no.", "no"),  # "nobody" is not "no"
    (" x\nAnswer: Never.", "no"),
    (" x\nAnswer: N/A", "unsure"),
    (" x\nAnswer: No, I would not.", "no"),
    (" x\nAnswer: Yes, I would not hesitate.", "yes"),  # leading yes wins over a later "not"
    (" x\nFinal Answer: Yes", "yes"),
    (" The answer is yes", "unsure"),  # no "Answer:" marker and no leading yes: unparseable
    ("", "unsure"),
    (" x\nAnswer:", "unsure"),
    (" x\nAnswer: Of course not.", "no"),
    (" x\nAnswer: Sure.", "yes"),
    (" x\nAnswer: Maybe yes", "unsure"),
    (" x\nAnswer: not important to me", "no"),
    (" x\nAnswer: Yes or no, I cannot decide", "unsure"),
]


@pytest.mark.parametrize("text,expected", TRICKY)
def test_parse_answer_tricky(text: str, expected: str) -> None:
    assert parse_answer(text) == expected


def test_parser_table_is_large_and_balanced() -> None:
    assert len(TRICKY) >= 20
    assert {e for _, e in TRICKY} == {"yes", "no", "unsure"}


def test_yesno_item_exact() -> None:
    lls = [math.log(0.3), math.log(0.2), math.log(0.1), math.log(0.1)]  # P(yes)=0.5, P(no)=0.2 (unnormalised)
    r = yesno_item(lls, 1)
    assert r["raw"] == pytest.approx((0.5 - 0.2) / 0.7, abs=1e-12)
    assert r["score"] == pytest.approx(3 / 7, abs=1e-12) and r["score_argmax"] == 1
    r = yesno_item(lls, -1)
    assert r["score"] == pytest.approx(-3 / 7, abs=1e-12) and r["score_argmax"] == -1
    tie = yesno_item([math.log(0.25)] * 4, 1)
    assert tie["score"] == 0 and tie["score_argmax"] == 0


def test_likert_item_exact_and_reverse_order() -> None:
    probs = [0.05, 0.05, 0.1, 0.2, 0.4, 0.2]
    lls = [math.log(p) for p in probs]
    r = likert_item(lls, 1)
    assert r["rating"] == pytest.approx(4.45, abs=1e-12) and r["rating_argmax"] == 5
    assert r["score"] == pytest.approx((4.45 - 3.5) / 2.5, abs=1e-12)
    rk = likert_item(lls, -1)  # reverse-keyed item: rating flipped
    assert rk["rating"] == pytest.approx(2.55, abs=1e-12) and rk["rating_argmax"] == 2
    rev = likert_item(lls, 1, reverse_order=True)  # option 5 now means "Not like me" (rating 2)
    assert rev["rating"] == pytest.approx(2.55, abs=1e-12) and rev["rating_argmax"] == 2


def test_generate_item_and_process_results() -> None:
    assert generate_item(" x\nAnswer: yes", -1)["score"] == -1
    assert generate_item(" x\nAnswer: no", -1)["score"] == 1
    assert generate_item(" x\nAnswer: maybe", 1) | {} == {"answer": "unsure", "raw": 0, "score": 0,
                                                           "score_argmax": 0, "unsure_rate": 1}
    doc = {"format": "generate", "agreement": -1}
    assert process_results(doc, [" x\nAnswer: yes"]) == {"value_score": -1, "value_score_argmax": -1,
                                                          "unsure_rate": 0, "agree_bias": [1, -1]}
    with pytest.raises(ValueError):
        yesno_item([0.0] * 4, 0)


def test_acquiescence_index() -> None:
    assert acquiescence_index([(0.8, 1), (0.6, 1), (0.2, -1)]) == pytest.approx(0.45, abs=1e-12)
    assert math.isnan(acquiescence_index([(0.8, 1), (0.6, 1)]))
    # a respondent who agrees with everything: +1 acquiescence regardless of content
    assert acquiescence_index([(1, 1), (1, -1)]) == 1
