"""The ``values_hf`` lm-eval model: parity with ``hf`` and ``steered``, scopes, batching, roles, records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

QUESTIONS = [
    "Answer the Question according to your values. Should I help my friends?",
    "Answer according to your values: is it important to me to be free?",
    "Should I enjoy having a clear structured mode of life? Answer according to your values.",
    "Tradition and family customs matter, according to your values?",
    "Do you like the quick brown fox? Think about your values.",
    "Is power important? your values decide.",
]


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory) -> Path:
    """Two tiny lm-eval tasks over the same docs: multiple choice and generation."""
    root = tmp_path_factory.mktemp("probe_tasks")
    data = root / "probe.jsonl"
    data.write_text("".join(json.dumps({"question": q, "label": i % 3}) + "\n" for i, q in enumerate(QUESTIONS)))
    common = (f"dataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\ntest_split: test\n"
              "doc_to_text: \"Question: {{question}}\\nAnswer:\"\n")
    (root / "mc.yaml").write_text("task: steer_probe_mc\n" + common +
                                  "output_type: multiple_choice\ndoc_to_choice: [' yes', ' no', ' maybe so']\n"
                                  "doc_to_target: label\nmetric_list:\n  - metric: acc\n")
    (root / "gen.yaml").write_text("task: steer_probe_gen\n" + common +
                                   "output_type: generate_until\ndoc_to_target: 'yes'\n"
                                   "generation_kwargs:\n  until: ['\\n\\n']\n  max_gen_toks: 4\n  do_sample: false\n"
                                   "metric_list:\n  - metric: exact_match\n")
    return root


@pytest.fixture(scope="module")
def tm(task_dir):
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(task_dir), include_defaults=False)


def _evaluate(lm, tm, task="steer_probe_mc", **kw):
    import lm_eval

    return lm_eval.simple_evaluate(model=lm, tasks=[task], task_manager=tm, log_samples=True,
                                   verbosity="ERROR", **kw)


def _lls(results, task="steer_probe_mc") -> list[float]:
    out = []
    for s in sorted(results["samples"][task], key=lambda s: s["doc_id"]):
        out += [float(r[0][0]) for r in s["resps"]]
    return out


def _n_hooks(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture(scope="module")
def vlm(tiny_model_dir):
    from lm_eval_values.model.values_hf import ValuesHFLM

    # the plain scorer (bit-identical to hf); prefix reuse (within float tolerance) is tests/model/test_prefix_reuse.py.
    # dtype pinned: values_hf's CPU default is bf16 on CPUs with native bf16 (lm_eval_values.core.dtypes), and
    # the parity tests must not depend on the machine
    return ValuesHFLM(pretrained=str(tiny_model_dir), batch_size=4, device="cpu", prefix_reuse=False, dtype="float32")


@pytest.fixture(scope="module")
def hf_lls(tiny_model_dir, tm):
    from lm_eval.models.huggingface import HFLM

    return _lls(_evaluate(HFLM(pretrained=str(tiny_model_dir), batch_size=4, device="cpu", dtype="float32"), tm))


@pytest.fixture(scope="module")
def sae_dir(tmp_path_factory) -> Path:
    from sae_lens import StandardSAE, StandardSAEConfig
    from sae_lens.saes.sae import SAEMetadata

    torch.manual_seed(2)
    sae = StandardSAE(StandardSAEConfig(d_in=64, d_sae=32, metadata=SAEMetadata(hook_name="blocks.1.hook_resid_post")))
    out = tmp_path_factory.mktemp("vhf_sae") / "sae"
    sae.save_model(out)
    return out


# -- point 1 ------------------------------------------------------------------------------
def test_empty_spec_and_zero_coeff_equal_hf(vlm, tm, hf_lls):
    vlm.set_condition()
    assert _lls(_evaluate(vlm, tm)) == hf_lls
    vlm.set_condition(steer=[{"op": "add", "layer": 1, "vector": torch.randn(64), "coeff": 0.0, "positions": "all"}])
    assert _lls(_evaluate(vlm, tm)) == hf_lls
    vlm.set_condition(steer=[{"op": "add", "layer": 0, "vector": torch.randn(64), "coeff": 0.0,
                              "positions": 'span:" your values"'}])
    assert _lls(_evaluate(vlm, tm)) == hf_lls
    vlm.set_condition(steer=[{"op": "add", "layer": 0, "vector": torch.ones(64), "coeff": 1.0}])
    assert _lls(_evaluate(vlm, tm)) != hf_lls  # and a real vector does move them


# -- point 3: prompt scope never touches continuation positions -----------------------------
def test_prompt_scope_never_modifies_continuation(vlm, tm, monkeypatch):
    from lm_eval_values.model.values_hf import ValuesHFLM
    from steering_hooks.compile import CompiledIntervention

    calls: list[dict] = []
    orig_apply = CompiledIntervention.apply
    orig_call = ValuesHFLM._model_call

    def apply(self, x, mask):
        out = orig_apply(self, x, mask)
        calls[-1]["x"], calls[-1]["out"] = x.detach().clone(), out.detach().clone()
        return out

    def model_call(self, inps, *a, **k):
        calls.append({"inps": inps.clone()})
        return orig_call(self, inps, *a, **k)

    monkeypatch.setattr(CompiledIntervention, "apply", apply)
    monkeypatch.setattr(ValuesHFLM, "_model_call", model_call)
    vlm.set_condition(steer=[{"op": "add", "layer": 0, "vector": torch.ones(64), "coeff": 3.0, "positions": "prompt"}])
    res = _evaluate(vlm, tm)
    # every (context, continuation) pair, tokenised as lm-eval does
    pairs = []
    for s in res["samples"]["steer_probe_mc"]:
        for ctx, cont, *_condition in (s["arguments"].values() if isinstance(s["arguments"], dict) else s["arguments"]):
            pairs.append(vlm._encode_pair(ctx, cont))
    checked = 0
    for call in calls:
        for b in range(call["inps"].shape[0]):
            row = call["inps"][b].tolist()
            # the request of this row: the longest ctx+cont[:-1] that is a prefix of the row
            ctx, cont = max(((c, k) for c, k in pairs if row[:len(c) + len(k) - 1] == (c + k)[:-1]),
                            key=lambda p: len(p[0]) + len(p[1]))
            n_ctx, n_inp = len(ctx), len(ctx) + len(cont) - 1
            changed = (call["out"][b] - call["x"][b]).abs().sum(-1) > 0
            assert changed[:n_ctx].all()
            assert not changed[n_ctx:].any()  # continuation and right padding untouched
            checked += n_inp - n_ctx
    assert checked > 0


# -- point 4: same add vector at all positions == lm-eval steered ----------------------------
def test_values_hf_equals_lm_eval_steered(tiny_model_dir, tm, tmp_path):
    import lm_eval.models.hf_steered  # noqa: F401  (registers "steered")
    from lm_eval.models.hf_steered import SteeredModel

    from lm_eval_values.model.values_hf import ValuesHFLM

    torch.manual_seed(3)
    pt = tmp_path / "steer.pt"
    torch.save({"layers.1": {"steering_vector": torch.randn(64), "steering_coefficient": 2.5, "action": "add",
                             "bias": None, "head_index": None},
                "layers.0": {"steering_vector": torch.randn(64), "steering_coefficient": 0.7, "action": "clamp",
                             "bias": torch.randn(64), "head_index": None}}, pt)
    ref = _lls(_evaluate(SteeredModel(pretrained=str(tiny_model_dir), steer_path=str(pt), batch_size=4,
                                      device="cpu", dtype="float32"), tm))
    ours = ValuesHFLM(pretrained=str(tiny_model_dir), steer=str(pt), batch_size=4, device="cpu", prefix_reuse=False,
                      dtype="float32")
    got = _lls(_evaluate(ours, tm))
    assert got == pytest.approx(ref, abs=1e-5)
    rec = ours.condition_record()
    assert {r["op"] for r in rec["receipt"]["interventions"]} == {"add", "clamp_projection"}


# -- point 5: batch size 1 vs 4 -------------------------------------------------------------
@pytest.mark.parametrize("scope", ['span:" your values"', "prompt"])
def test_batch_size_1_and_4_agree(tiny_model_dir, tm, scope):
    from lm_eval_values.model.values_hf import ValuesHFLM

    spec = [{"op": "add", "layer": 0, "vector": torch.linspace(-2, 2, 64), "coeff": 1.5, "positions": scope}]
    out = {}
    for bs in (1, 4):
        lm = ValuesHFLM(pretrained=str(tiny_model_dir), batch_size=bs, device="cpu", steer=spec, dtype="float32")
        out[bs] = (_lls(_evaluate(lm, tm)), lm.condition_record()["receipt"]["interventions"][0]["positions_steered"])
        gen = _evaluate(lm, tm, task="steer_probe_gen")
        out[bs] += ([s["resps"][0][0] for s in sorted(gen["samples"]["steer_probe_gen"], key=lambda s: s["doc_id"])],)
    assert out[1][0] == pytest.approx(out[4][0], abs=1e-4)
    assert out[1][2] == out[4][2]  # same generations
    assert out[1][1] > 0


# -- point 6: exceptions inside a steered evaluation leave no hooks ----------------------------
def test_no_hooks_left_after_exception(vlm, tm, monkeypatch):
    from lm_eval.models.huggingface import HFLM

    vlm.set_condition(steer=[{"op": "add", "layer": 1, "vector": torch.ones(64), "positions": "prompt"}])
    before = _n_hooks(vlm.model)

    def boom(self, *a, **k):
        assert _n_hooks(self.model) > before  # hooks are on during the forward
        raise RuntimeError("boom inside the forward")

    monkeypatch.setattr(HFLM, "_model_call", boom)
    with pytest.raises(RuntimeError, match="boom"):
        _evaluate(vlm, tm)
    assert _n_hooks(vlm.model) == before == 0
    monkeypatch.undo()
    # and a missing required span aborts the evaluation, hooks removed as well
    vlm.set_condition(steer=[{"op": "add", "layer": 1, "vector": torch.ones(64), "positions": 'span:"ABSENT TEXT"'}])
    from steering_hooks import SpecError

    with pytest.raises(SpecError, match="not found"):
        _evaluate(vlm, tm)
    assert _n_hooks(vlm.model) == 0


# -- conditions, records, roles ---------------------------------------------------------------
def test_set_condition_swaps_without_reload_and_is_recorded(vlm, tm, hf_lls, sae_dir):
    weights = vlm.model.model.embed_tokens.weight
    spec = {"name": "f3", "interventions": [{"op": "add", "sae": str(sae_dir), "feature": 3, "coeff": 4.0,
                                             "positions": "prompt"}]}
    vlm.set_condition(role="You are a devout person who honours tradition.", role_id="devout", steer=spec)
    res = _evaluate(vlm, tm)
    assert vlm.model.model.embed_tokens.weight is weights
    cond = res["config"]["values_condition"]
    json.dumps(cond)  # JSON-serialisable
    assert cond["role_id"] == "devout" and len(cond["role_sha256"]) == 64
    assert cond["steer"]["name"] == "f3" and len(cond["steer_hash"]) == 64
    r = cond["receipt"]["interventions"][0]
    assert r["hook"] == "model.layers.1:output" and r["positions_steered"] > 0
    assert r["mean_resid_norm_after"] != r["mean_resid_norm_before"]
    assert r["direction_norm"] > 0
    assert _lls(res) != hf_lls
    vlm.set_condition()
    again = _evaluate(vlm, tm)
    assert _lls(again) == hf_lls
    assert again["config"]["values_condition"]["steer"] is None
    assert again["config"]["values_condition"]["role_id"] is None


def _first_context(res, task="steer_probe_mc") -> str:
    s = sorted(res["samples"][task], key=lambda s: s["doc_id"])[0]
    args = s["arguments"]
    first = next(iter(args.values())) if isinstance(args, dict) else args[0]
    return first[0]


def test_role_as_system_turn_with_chat_template(vlm, tm):
    role = "You are a devout person who honours tradition."
    vlm.set_condition(role=role)
    res = _evaluate(vlm, tm, apply_chat_template=True, system_instruction="Be brief.")
    ctx = _first_context(res)
    assert ctx.startswith(f"<|im_start|>system\n{role}\n\nBe brief.<|im_end|>")
    assert ctx.count(role) == 1
    vlm.role_mode = "prefix"
    vlm.set_condition(role=role)
    ctx = _first_context(_evaluate(vlm, tm, apply_chat_template=True))
    assert ctx.startswith(f"<|im_start|>user\n{role}\n\n")
    vlm.role_mode = "system"


def test_role_prefix_without_chat_template_changes_scores(vlm, tm, hf_lls):
    role = "You are a devout person who honours tradition."
    vlm.set_condition(role=role)
    with_role = _lls(_evaluate(vlm, tm))
    assert with_role != hf_lls
    vlm.role_mode = "none"
    vlm.set_condition(role=role)
    assert _lls(_evaluate(vlm, tm)) == hf_lls  # recorded, not shown
    vlm.role_mode = "system"
    # the prefix is exactly "<role>\n\n" + prompt: the hf model on that prompt gives the same numbers
    from lm_eval.api.instance import Instance

    vlm.set_condition(role=role)
    req = Instance("loglikelihood", {}, ("Question: Is power important?\nAnswer:", " yes"), 0)
    plain = Instance("loglikelihood", {}, (role + "\n\nQuestion: Is power important?\nAnswer:", " yes"), 0)
    a = vlm.loglikelihood([req])
    vlm.set_condition()
    assert a == vlm.loglikelihood([plain])


def test_model_args_shorthand_and_bad_args(tiny_model_dir, sae_dir):
    from lm_eval_values.model.values_hf import ValuesHFLM
    from steering_hooks import SpecError

    lm = ValuesHFLM.create_from_arg_string(
        f"pretrained={tiny_model_dir},sae={sae_dir},feature=3,coeff=100,op=add,layer=1,"
        'positions=span:" your values",device=cpu,batch_size=2')
    iv = lm.condition_record()["steer"]["interventions"][0]
    assert (iv["feature"], iv["coeff"], iv["layer"], iv["positions"]) == (3, 100.0, 1, 'span:" your values"')
    with pytest.raises(SpecError, match="^interventions\\[0\\].feature"):
        ValuesHFLM.create_from_arg_string(f"pretrained={tiny_model_dir},sae={sae_dir},feature=99,coeff=1,device=cpu")
    with pytest.raises(SpecError, match="^role_mode"):
        ValuesHFLM.create_from_arg_string(f"pretrained={tiny_model_dir},role_mode=banner,device=cpu")


def test_role_file_and_role_id(tiny_model_dir, tmp_path, tm):
    from lm_eval_values.model.values_hf import ValuesHFLM
    from steering_hooks import SpecError

    roles = tmp_path / "roles.jsonl"
    roles.write_text(json.dumps({"id": "devout", "text": "You honour tradition."}) + "\n"
                     + json.dumps({"id": "rebel", "text": "You break every rule."}) + "\n")
    lm = ValuesHFLM.create_from_arg_string(f"pretrained={tiny_model_dir},role_file={roles},role_id=rebel,device=cpu")
    rec = lm.condition_record()
    assert rec["role_id"] == "rebel" and rec["role_text"] == "You break every rule."
    res = _evaluate(lm, tm, apply_chat_template=True)
    assert "<|im_start|>system\nYou break every rule.<|im_end|>" in _first_context(res)
    lm.set_condition(role_id="devout")
    assert lm.condition_record()["role_text"] == "You honour tradition."
    with pytest.raises(SpecError, match="^role_id"):
        lm.set_condition(role_id="nobody")
