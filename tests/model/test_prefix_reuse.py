"""Shared-prefix reuse (``lm_eval_values.model.prefix_reuse``) gives the plain path's numbers.

Real forward passes on the tiny Llama fixture (with a chat template): the reuse path is
compared with ``ValuesHFLM``'s plain scorer, without and with steering (all scopes), at
batch sizes 1 and 4, on plain-text and chat-templated few-shot prompts, with the suffixes
batched on a copied cache and packed into one row (one or several packs per group).
"""

from __future__ import annotations

import pytest
import torch

FEWSHOT = ("Answer the Question according to your values. First write your Thought about the question, then "
           "Answer the question with 'yes' or 'no'.\n\nQuestion: Should I help my friends?\nThought: helping "
           "matters.\nAnswer: yes\n\nQuestion: Should I help my friends?\nThought: it is not important.\nAnswer: no\n\n")
ITEMS = [
    "Should I enjoy having a clear structured mode of life?",
    "Is it important to me to be free to choose my own path in life?",
    "Should I honour tradition and family customs, according to your values?",
    "Do you like the quick brown fox?",
    "Is power important?",
    "Should I help my friends?",
]
CHOICES = [" yes", " Yes", " no", " No", " maybe so"]
ROLE = "(FYI, here is your trait. Gender: female; Job: Surveyor, MBTI: ENFJ)"



@pytest.fixture(scope="module")
def lms(tiny_model_dir):
    from lm_eval_values.model.values_hf import ValuesHFLM

    return {bs: ValuesHFLM(pretrained=str(tiny_model_dir), batch_size=bs, device="cpu", dtype="float32")
            for bs in (1, 4)}


def _contexts(lm, chat: bool) -> list[str]:
    if not chat:
        return [ROLE + "\n\n" + FEWSHOT + f"Question: {q}\nAnswer:" for q in ITEMS]
    return [lm.apply_chat_template([{"role": "system", "content": ROLE + "\n\n" + FEWSHOT},
                                    {"role": "user", "content": f"Question: {q}"}]) + "Answer:" for q in ITEMS]


def _requests(lm, chat: bool) -> list:
    reqs = []
    for ctx in _contexts(lm, chat):
        for cont in CHOICES:
            c, k = lm._encode_pair(ctx, cont)
            reqs.append(((ctx, cont), c, k))
    # one request with no shared prefix (goes to the plain path) and a duplicate input
    c, k = lm._encode_pair("Power, achievement", " yes")
    reqs.append((("Power, achievement", " yes"), c, k))
    reqs.append(reqs[0])
    return reqs


def _plain_scorer(lm):
    """ValuesHFLM's plain scorer (prefix reuse off)."""
    from lm_eval_values.model.values_hf import ValuesHFLM

    def run(reqs):
        saved = getattr(lm, "prefix_reuse", None)
        lm.prefix_reuse = False
        try:
            return ValuesHFLM._loglikelihood_tokens(lm, reqs, disable_tqdm=True)
        finally:
            if saved is not None:
                lm.prefix_reuse = saved
    return run


def _reuse(lm, reqs, **kw):
    from lm_eval_values.model.prefix_reuse import loglikelihood_tokens

    return loglikelihood_tokens(lm, reqs, fallback=_plain_scorer(lm), compiled=lm._compiled, receipt=lm._receipt, **kw)


def _check(got, ref, atol=2e-4):
    assert len(got) == len(ref)
    for (a, ga), (b, gb) in zip(got, ref):
        assert a == pytest.approx(b, abs=atol)
        assert ga == gb


SPECS = {
    "none": None,
    # every scope at once: all, prompt, span (the span is absent from one request), last:k, generated
    "all_scopes": [{"op": "add", "layer": 0, "vector": "ones", "coeff": 2.0, "positions": "all"},
                   {"op": "add", "layer": 1, "vector": "lin", "coeff": 1.5, "positions": "prompt"},
                   {"op": "add", "layer": 0, "vector": "lin", "coeff": 3.0, "positions": 'span:"MBTI"',
                    "required": False},
                   {"op": "add", "layer": 0, "vector": "ones", "coeff": 1.0, "positions": "last:3"},
                   {"op": "add", "layer": 1, "vector": "lin", "coeff": -2.0, "positions": "generated"}],
    # the scopes that read the same columns when the suffixes are packed into one row (no last:k)
    "columnwise": [{"op": "add", "layer": 0, "vector": "ones", "coeff": 2.0, "positions": "all"},
                   {"op": "add", "layer": 1, "vector": "lin", "coeff": 1.5, "positions": "prompt"},
                   {"op": "add", "layer": 1, "vector": "lin", "coeff": 3.0, "positions": 'span:"important"',
                    "required": False},
                   {"op": "add", "layer": 1, "vector": "lin", "coeff": -2.0, "positions": "generated"}],
}


def _spec(name):
    spec = SPECS[name]
    if spec is None:
        return None
    vecs = {"ones": torch.ones(64), "lin": torch.linspace(-2, 2, 64)}
    return [{**iv, "vector": vecs[iv["vector"]]} for iv in spec]


@pytest.mark.parametrize("bs", [1, 4])
@pytest.mark.parametrize("chat", [False, True])
@pytest.mark.parametrize("steer", list(SPECS))
@pytest.mark.parametrize("pack_tokens", [0, 8, 256])
def test_reuse_equals_plain(lms, bs, chat, steer, pack_tokens):
    """Batched suffixes (pack_tokens 0), several small packs (8) and one pack per group (256)."""
    lm = lms[bs]
    lm.set_condition(steer=_spec(steer))
    reqs = _requests(lm, chat)
    ref = _plain_scorer(lm)(reqs)
    got = _reuse(lm, reqs, pack_tokens=pack_tokens)
    _check(got, ref)
    if steer != "none":  # steering really changes the numbers (the test can fail)
        lm.set_condition()
        base = _plain_scorer(lm)(reqs)
        assert max(abs(a[0] - b[0]) for a, b in zip(base, ref)) > 1e-3


def test_reuse_really_shares_the_prefix(lms):
    """The grouping finds the few-shot prefix: one group, fewer forward tokens than the plain path."""
    from lm_eval_values.model.prefix_reuse import build_rows, group_rows, reuse_stats

    lm = lms[4]
    lm.set_condition()
    reqs = _requests(lm, chat=True)
    rows, plain = build_rows(reqs, lm.max_length, split_key=False)
    groups, left = group_rows(rows, 16)
    assert not plain and len(groups) == 1 and len(left) == 1
    assert groups[0].prefix_len > 40
    stats = reuse_stats(reqs)
    assert stats["reuse_tokens"] * 3 < stats["hf_tokens"] <= stats["request_tokens"]


def test_prefix_is_cut_where_scopes_differ(lms):
    """A ``last:k`` scope reaching into the shared prefix shortens it (rows would steer differently)."""
    from lm_eval_values.model.prefix_reuse import build_rows, group_rows, steering_safe_prefix

    lm = lms[1]
    # the shorter context's last 3 tokens are shared with the longer one, where they are not last
    reqs = []
    for ctx in [FEWSHOT + "Question: Is power important?", FEWSHOT + "Question: Is power important to me?"]:
        c, k = lm._encode_pair(ctx, " yes")
        reqs.append(((ctx, " yes"), c, k))
    lm.set_condition(steer=[{"op": "add", "layer": 0, "vector": torch.ones(64), "coeff": 1.0, "positions": "last:3"}])
    rows, _ = build_rows(reqs, lm.max_length, split_key=True)
    groups, _ = group_rows(rows, 4)
    assert len(groups) == 1
    p0 = groups[0].prefix_len
    safe = steering_safe_prefix(groups[0], lm._compiled, lm.tokenizer)
    assert safe < p0
    _check(_reuse(lm, reqs, min_prefix=4), _plain_scorer(lm)(reqs))
    lm.set_condition()


# -- through lm-eval: values_hf with prefix reuse on (default) vs off ---------------------------
@pytest.fixture(scope="module")
def fewshot_tm(tmp_path_factory):
    """A multiple-choice task with the study's few-shot prefix as its description."""
    import json

    from lm_eval.tasks import TaskManager

    root = tmp_path_factory.mktemp("fewshot_task")
    data = root / "items.jsonl"
    data.write_text("".join(json.dumps({"question": q, "label": i % 2}) + "\n" for i, q in enumerate(ITEMS)))
    desc = json.dumps(FEWSHOT)
    (root / "fs.yaml").write_text(
        f"task: reuse_fewshot_mc\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\n"
        f"test_split: test\ndescription: {desc}\ndoc_to_text: \"Question: {{{{question}}}}\\nAnswer:\"\n"
        "output_type: multiple_choice\ndoc_to_choice: ['yes', 'Yes', 'no', 'No']\ndoc_to_target: label\n"
        "metric_list:\n  - metric: acc\n")
    return TaskManager(include_path=str(root), include_defaults=False)


@pytest.mark.parametrize("chat", [False, True])
def test_values_hf_default_reuse_equals_plain_through_lm_eval(tiny_model_dir, fewshot_tm, chat):
    import lm_eval
    import lm_eval.evaluator

    from lm_eval_values.model.values_hf import ValuesHFLM

    lm = ValuesHFLM(pretrained=str(tiny_model_dir), batch_size=4, device="cpu", role=ROLE)
    assert lm.prefix_reuse is True  # on by default
    spec = [{"op": "add", "layer": 0, "vector": torch.linspace(-2, 2, 64), "coeff": 2.0, "positions": "prompt"}]
    saved = lm_eval.evaluator.add_env_info
    lm_eval.evaluator.add_env_info = lambda results: None
    try:
        out = {}
        for steer in (None, spec):
            for reuse in (True, False):
                lm.set_condition(role=ROLE, steer=steer)
                lm.prefix_reuse = reuse
                res = lm_eval.simple_evaluate(model=lm, tasks=["reuse_fewshot_mc"], task_manager=fewshot_tm,
                                              log_samples=True, verbosity="ERROR", apply_chat_template=chat)
                samples = sorted(res["samples"]["reuse_fewshot_mc"], key=lambda s: s["doc_id"])
                out[(steer is not None, reuse)] = [float(r[0][0]) for s in samples for r in s["resps"]]
    finally:
        lm_eval.evaluator.add_env_info = saved
    for steered in (False, True):
        assert out[(steered, True)] == pytest.approx(out[(steered, False)], abs=2e-4)
    assert max(abs(a - b) for a, b in zip(out[(True, True)], out[(False, True)])) > 1e-3
    off = ValuesHFLM(pretrained=str(tiny_model_dir), device="cpu", prefix_reuse="False")
    assert off.prefix_reuse is False


def test_two_option_orders_get_one_group_each(lms):
    """Items asked in two instruction orders: one group per order with the whole instruction as prefix
    (not one group cut where the orders differ), fewer forward tokens, the plain path's numbers."""
    from lm_eval_values.model.prefix_reuse import build_rows, group_rows, reuse_stats

    lm = lms[4]
    lm.set_condition()
    long_tail = " Think about what you value most in life before you answer. Be honest with yourself." * 2
    reqs = []
    for order in ("'yes' or 'no'", "'no' or 'yes'"):
        for q in ITEMS:
            ctx = f"{ROLE}\n\nAnswer the question with {order}.{long_tail}\n\nQuestion: {q}\nAnswer:"
            for cont in CHOICES[:4]:
                c, k = lm._encode_pair(ctx, cont)
                reqs.append(((ctx, cont), c, k))
    rows, _ = build_rows(reqs, lm.max_length, split_key=False)
    groups, left = group_rows(rows, 16)
    assert len(groups) == 2 and not left
    shared = min(len(g.rows[0].inp) for g in groups)
    cut = next(i for i, (a, b) in enumerate(zip(groups[0].rows[0].inp, groups[1].rows[0].inp)) if a != b)
    assert all(g.prefix_len > cut + 20 for g in groups) and all(g.prefix_len < shared for g in groups)
    stats = reuse_stats(reqs)
    one_group = cut + sum(r.length - cut for r in rows)  # what a single group cut at the first difference costs
    assert stats["reuse_tokens"] < 0.8 * one_group
    _check(_reuse(lm, reqs), _plain_scorer(lm)(reqs))
