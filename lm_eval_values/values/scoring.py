"""Answer parsing and item scoring for the ``values_*`` lm-eval tasks.

Every task calls :func:`process_results` once per item (``process_results: !function
utils.process_results`` in the task YAMLs); it dispatches on ``doc["format"]``.

Formats and per-item scores (``agreement`` is the item key, +1 or -1)
-------------------------------------------------------------------------
``yesno`` / ``yesno_rev``
    Choices ``yes, Yes, no, No`` scored by log-likelihood; ``P(yes)`` sums the two
    spellings of yes (same for no). ``raw = (P(yes) - P(no)) / (P(yes) + P(no))``;
    ``score = agreement * raw``; ``score_argmax = agreement * sign(P(yes) - P(no))``
    (0 on an exact tie). ``yesno`` asks "Answer the question with 'yes' or 'no'.",
    ``yesno_rev`` names the options in the reverse order ("... with 'no' or 'yes'."), scored
    identically, so that the mean of an item's two orders cancels an option-order bias
    (a sweep with ``format: yesno_cb`` asks both).
``likert`` / ``likert_rev``
    Six labelled options, answered by their number 1-6 and scored by log-likelihood
    (softmax over the six). ``likert`` lists 1 = "Not like me at all" ... 6 = "Very much
    like me"; ``likert_rev`` lists the same labels in the reverse order (1 = "Very much like
    me"), so comparing the two exposes order/position bias. ``rating`` is the expected
    keyed rating in [1, 6] (a reverse-keyed item is flipped: ``7 - r``), ``rating_argmax``
    the keyed rating of the most likely option; ``score = (rating - 3.5) / 2.5`` and
    ``score_argmax = (rating_argmax - 3.5) / 2.5`` put both on the [-1, 1] scale.
``generate``
    The study's protocol (greedy, up to 100 tokens); :func:`parse_answer` reads yes / no /
    unsure from the text after the last ``Answer:``. ``score = score_argmax = agreement *
    (+1 yes, -1 no, 0 unsure)``; ``unsure_rate`` is 1 for unsure or unparseable answers.

Per-task metrics (the names in lm-eval's results, with filter ``none``: ``value_score,none``)
------------------------------------------------------------------------------------------
* ``value_score``: the mean item score, in [-1, 1] for every format (+1: the answers endorse
  the value, -1: they reject it).
* ``value_score_argmax``: the mean argmax item score, in [-1, 1].
* ``rating`` / ``rating_argmax`` (likert formats only): mean keyed rating, in [1, 6].
* ``unsure_rate`` (generate only): share of unsure or unparseable answers.
* ``agree_bias``: acquiescence index, the mean UN-keyed answer (``raw``, +1 = agrees)
  averaged over the positively and the reverse-keyed items separately, then the two means
  averaged: ``0.5 * (mean raw over +1 items + mean raw over -1 items)``. Content cancels
  out, a tendency to say yes / agree remains (negative: a tendency to say no). NaN when the
  evaluated items do not include both keys (e.g. an inventory with only positively keyed
  items, or a small ``--limit``).

None of these is better when higher or lower: a questionnaire measures, it does not grade.
Every metric is declared with ``higher_is_better: null``, so lm-eval's results table shows no
arrow next to them. Files written before this naming carry ``score``, ``score_argmax`` and
``acquiescence``; :data:`OLD_METRIC_NAMES` maps them, and the matrix builder reads both.

Groups (``values_schwartz``, ``valuebench_vcg17``, ...) report the unweighted mean over their
member tasks (each value counts once) of ``value_score`` and ``value_score_argmax`` (plus
``rating*`` / ``unsure_rate`` for those formats), and of ``agree_bias`` only where every member
has items of both keys (Schwartz groups and ``values``; not ``valuebench_vcg17`` or
``valuebench_pvq40``, whose dimensions include positively keyed items only).

Task names: ``<family>_<value slug><suffix>`` with suffix ``""`` (yesno), ``_likert``,
``_likert_rev``, ``_yesno_rev`` or ``_gen``; groups ``<family><suffix>`` (``values_schwartz_likert`` ...), see
``docs/ITEM_BANK.md``.

Logged samples
--------------
With ``--log_samples`` every sample's ``doc`` carries ``item_id``, ``value`` (display name),
``agreement``, ``format``, ``inventory``, ``family`` and the item text; its per-item
metrics are the item scores above (``agree_bias`` is logged as ``[raw, agreement]``), so
item-level and value-level tables can be rebuilt from the samples alone.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Sequence

from lm_eval_values.core.files import FORMAT_SUFFIXES

#: continuations of the yes/no format, in this order (indices 0-1 are yes, 2-3 are no)
YESNO_CHOICES: tuple[str, ...] = ("yes", "Yes", "no", "No")
#: labels of the 6-point scale, from rating 1 to rating 6
LIKERT_LABELS: tuple[str, ...] = (
    "Not like me at all", "Not like me", "A little like me", "Somewhat like me", "Like me", "Very much like me",
)
LIKERT_CHOICES: tuple[str, ...] = ("1", "2", "3", "4", "5", "6")
#: answer formats, in the order of :data:`lm_eval_values.core.files.FORMAT_SUFFIXES`
FORMATS: tuple[str, ...] = tuple(FORMAT_SUFFIXES)

#: lm-eval metric names per format, in the order they are reported
METRICS: dict[str, tuple[str, ...]] = {
    "yesno": ("value_score", "value_score_argmax", "agree_bias"),
    "yesno_rev": ("value_score", "value_score_argmax", "agree_bias"),
    "likert": ("value_score", "value_score_argmax", "rating", "rating_argmax", "agree_bias"),
    "likert_rev": ("value_score", "value_score_argmax", "rating", "rating_argmax", "agree_bias"),
    "generate": ("value_score", "value_score_argmax", "unsure_rate", "agree_bias"),
}
#: the acquiescence metric (aggregated by :func:`acquiescence_index`, logged as ``[raw, agreement]``)
BIAS_METRIC = "agree_bias"
#: lm-eval metric name -> the key of :func:`score_doc`'s result it reports
_METRIC_SOURCE: dict[str, str] = {"value_score": "score", "value_score_argmax": "score_argmax",
                                  "rating": "rating", "rating_argmax": "rating_argmax",
                                  "unsure_rate": "unsure_rate"}
#: metric names of files written before the current naming -> current names
OLD_METRIC_NAMES: dict[str, str] = {"score": "value_score", "score_argmax": "value_score_argmax",
                                    "acquiescence": BIAS_METRIC}


def _logsumexp(values: Iterable[float]) -> float:
    vals = [float(v) for v in values]
    top = max(vals)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in vals))


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def _check_agreement(agreement: Any) -> int:
    a = int(agreement)
    if a not in (1, -1):
        raise ValueError(f"agreement must be +1 or -1, got {agreement!r}")
    return a


def yesno_item(loglikelihoods: Sequence[float], agreement: int) -> dict[str, Any]:
    """Score one yes/no item from the log-likelihoods of :data:`YESNO_CHOICES`.

    >>> r = yesno_item([math.log(0.6), math.log(0.1), math.log(0.2), math.log(0.1)], -1)
    >>> round(r["raw"], 6), round(r["score"], 6), r["score_argmax"]
    (0.4, -0.4, -1)
    """
    a = _check_agreement(agreement)
    if len(loglikelihoods) != len(YESNO_CHOICES):
        raise ValueError(f"expected {len(YESNO_CHOICES)} log-likelihoods, got {len(loglikelihoods)}")
    ll_yes = _logsumexp(loglikelihoods[:2])
    ll_no = _logsumexp(loglikelihoods[2:])
    norm = _logsumexp([ll_yes, ll_no])
    p_yes, p_no = math.exp(ll_yes - norm), math.exp(ll_no - norm)
    raw = p_yes - p_no  # already divided by P(yes) + P(no)
    return {"p_yes": p_yes, "raw": raw, "score": a * raw, "score_argmax": a * _sign(ll_yes - ll_no)}


def likert_item(loglikelihoods: Sequence[float], agreement: int, reverse_order: bool = False) -> dict[str, Any]:
    """Score one 6-point item from the log-likelihoods of the option numbers 1..6.

    ``reverse_order``: the options were listed from "Very much like me" (1) down to
    "Not like me at all" (6), so option number k means rating 7 - k.
    """
    a = _check_agreement(agreement)
    if len(loglikelihoods) != len(LIKERT_CHOICES):
        raise ValueError(f"expected {len(LIKERT_CHOICES)} log-likelihoods, got {len(loglikelihoods)}")
    norm = _logsumexp(loglikelihoods)
    probs = [math.exp(float(ll) - norm) for ll in loglikelihoods]
    ratings = [7 - (i + 1) if reverse_order else i + 1 for i in range(6)]
    expected = sum(p * r for p, r in zip(probs, ratings))
    best = max(range(6), key=lambda i: (loglikelihoods[i], -i))  # first option wins ties
    argmax_rating = ratings[best]
    keyed = expected if a == 1 else 7 - expected
    keyed_argmax = argmax_rating if a == 1 else 7 - argmax_rating
    return {
        "probs": probs,
        "raw": (expected - 3.5) / 2.5,
        "rating": keyed,
        "rating_argmax": keyed_argmax,
        "score": (keyed - 3.5) / 2.5,
        "score_argmax": (keyed_argmax - 3.5) / 2.5,
    }


# --------------------------------------------------------------------------- parser

_ANSWER_MARK = re.compile(r"\banswer\b\s*(?:\*\*|__)?\s*[:：=\-–]", re.IGNORECASE)
_NEXT_QUESTION = re.compile(r"\bquestion\s*(?:\*\*)?\s*[:：]", re.IGNORECASE)
_UNSURE_PHRASES = (
    "not sure", "unsure", "uncertain", "it depends", "depends", "maybe", "perhaps", "possibly",
    "i don't know", "i do not know", "dont know", "don't know", "do not know", "can't say", "cannot say",
    "can not say", "hard to say", "difficult to say", "neither", "both", "yes and no", "yes or no",
    "no or yes", "yes/no", "no/yes", "n/a", "none", "unclear", "undecided", "mixed", "sometimes",
)
#: answers that START with one of these are clear (longest phrase wins)
_STRONG_LEADS: tuple[tuple[str, str], ...] = tuple(sorted(
    [(p, "yes") for p in ("yes", "yeah", "yep", "yup", "y", "absolutely", "definitely", "certainly", "of course",
                          "sure", "indeed", "correct", "true", "agree", "i agree", "affirmative")]
    + [(p, "no") for p in ("no", "nope", "nah", "n", "never", "not really", "not necessarily", "not at all",
                           "absolutely not", "definitely not", "certainly not", "of course not", "disagree",
                           "i disagree", "false", "negative")],
    key=lambda t: -len(t[0])))
#: weaker leads, used only when the first clause has no explicit yes/no word
_WEAK_LEADS: tuple[tuple[str, str], ...] = tuple(sorted(
    [(p, "no") for p in ("i would not", "i wouldn't", "i should not", "i shouldn't", "you should not",
                         "you shouldn't", "i do not", "i don't", "not")]
    + [(p, "yes") for p in ("i would", "i should", "you should", "i do")],
    key=lambda t: -len(t[0])))
_NEGATION = re.compile(r"\b(?:not|never|n't|cannot|can't|won't|wouldn't|shouldn't|don't|doesn't)\b|n't\b", re.IGNORECASE)
_WORD_YES = re.compile(r"\byes\b", re.IGNORECASE)
_WORD_NO = re.compile(r"\bno\b", re.IGNORECASE)


def _normalise(segment: str) -> str:
    """Lower-case, drop markdown/quotes/brackets, collapse spaces, cut at the first line end."""
    seg = segment.strip()
    seg = seg.split("\n", 1)[0] if seg else seg
    seg = seg.replace("’", "'").replace("‘", "'")
    seg = re.sub(r"[*_`\"“”\[\]()<>]", " ", seg)
    seg = re.sub(r"^[\s'.,:;!\-–—]+", "", seg)
    return " ".join(seg.lower().split())


def _starts_with(text: str, phrase: str) -> bool:
    return text == phrase or (text.startswith(phrase) and not text[len(phrase)].isalnum()
                              and text[len(phrase)] != "'")


def _classify(segment: str) -> str:
    """yes / no / unsure for the text of one answer (already normalised)."""
    if not segment:
        return "unsure"
    # "yes/no" style non-answers, hedges and refusals first
    for phrase in _UNSURE_PHRASES:
        if _starts_with(segment, phrase):
            return "unsure"
    first_clause = re.split(r"[.;!?]", segment, maxsplit=1)[0]
    for phrase, label in _STRONG_LEADS:
        if _starts_with(segment, phrase):
            return label
    yes_m, no_m = _WORD_YES.search(first_clause), _WORD_NO.search(first_clause)
    if yes_m and no_m:
        return "unsure"
    if yes_m:  # "I would say yes" -> yes; "I would not say yes" -> no
        return "no" if _NEGATION.search(first_clause[: yes_m.start()]) else "yes"
    if no_m:  # "I would say no" -> no; "I can't say no" -> unsure (double negation)
        return "unsure" if _NEGATION.search(first_clause[: no_m.start()]) else "no"
    if not _starts_with(segment, "not only"):
        for phrase, label in _WEAK_LEADS:
            if _starts_with(segment, phrase):
                return label
    return "unsure"


def parse_answer(text: str) -> str:
    """Read ``"yes"``, ``"no"`` or ``"unsure"`` from a generated ``Thought: ... Answer: ...``.

    Rules (no judge model): the text is cut at the first ``Question:`` (the model starting
    another few-shot turn); the answer is the first line after the LAST ``Answer:`` marker.
    Without a marker only a reply that STARTS with a clear yes or no counts; anything else is
    unsure. Hedges ("maybe", "it depends", "not sure", "yes and no", "both") are unsure;
    ``no`` is a whole word only ("nothing", "not", "none", "noted" are not "no"); a negated
    yes ("I would not say yes") is no; a negated no ("I can't say no") is unsure.

    >>> parse_answer(" I like routines.\\nAnswer: Yes.")
    'yes'
    >>> parse_answer("Nothing matters more than family.\\nAnswer: no")
    'no'
    >>> parse_answer("It depends on the situation.")
    'unsure'
    """
    if not isinstance(text, str):
        return "unsure"
    cut = _NEXT_QUESTION.search(text)
    body = text[: cut.start()] if cut else text
    marks = list(_ANSWER_MARK.finditer(body))
    if marks:
        return _classify(_normalise(body[marks[-1].end():]))
    lead = _normalise(body)
    for phrase in ("yes", "no"):
        if _starts_with(lead, phrase):
            rest = lead[len(phrase):]
            if phrase == "yes" and re.match(r"\s*(?:and|or|/)\s*no\b", rest):
                return "unsure"
            if phrase == "no" and re.match(r"\s*(?:and|or|/)\s*yes\b", rest):
                return "unsure"
            return phrase
    return "unsure"


def generate_item(text: str, agreement: int) -> dict[str, Any]:
    """Score one generated answer: yes -> +agreement, no -> -agreement, unsure -> 0."""
    a = _check_agreement(agreement)
    answer = parse_answer(text)
    raw = {"yes": 1, "no": -1}.get(answer, 0)
    return {"answer": answer, "raw": raw, "score": a * raw, "score_argmax": a * raw,
            "unsure_rate": int(answer == "unsure")}


# --------------------------------------------------------------------------- lm-eval hooks

def _lls(results: Sequence[Any]) -> list[float]:
    """Log-likelihoods from lm-eval's multiple-choice results ``[(ll, is_greedy), ...]``."""
    return [float(r[0]) if isinstance(r, (tuple, list)) else float(r) for r in results]


def score_doc(doc: dict[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """Full per-item scoring (all intermediate quantities) for ``doc["format"]``."""
    fmt = doc["format"]
    agreement = int(doc["agreement"])
    if fmt in ("yesno", "yesno_rev"):
        return yesno_item(_lls(results), agreement)
    if fmt in ("likert", "likert_rev"):
        return likert_item(_lls(results), agreement, reverse_order=(fmt == "likert_rev"))
    if fmt == "generate":
        text = results[0] if results else ""
        return generate_item(text if isinstance(text, str) else str(text), agreement)
    raise ValueError(f"unknown answer format {fmt!r}; expected one of {FORMATS}")


def process_results(doc: dict[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """lm-eval ``process_results``: the per-item metrics of :data:`METRICS` for the doc's format."""
    full = score_doc(doc, results)
    out: dict[str, Any] = {}
    for name in METRICS[doc["format"]]:
        out[name] = [full["raw"], int(doc["agreement"])] if name == BIAS_METRIC else full[_METRIC_SOURCE[name]]
    return out


def acquiescence_index(pairs: Iterable[Sequence[float]]) -> float:
    """lm-eval aggregation of ``agree_bias``: balanced mean of un-keyed answers (acquiescence index).

    ``pairs`` are ``(raw, agreement)``. Returns ``0.5 * (mean raw | +1 + mean raw | -1)``,
    or NaN unless both keys are present.

    >>> round(acquiescence_index([(0.8, 1), (0.6, 1), (0.2, -1)]), 6)
    0.45
    """
    items = [(float(r), int(a)) for r, a in pairs]
    pos = [r for r, a in items if a == 1]
    neg = [r for r, a in items if a == -1]
    if not pos or not neg:
        return math.nan
    return 0.5 * (sum(pos) / len(pos) + sum(neg) / len(neg))
