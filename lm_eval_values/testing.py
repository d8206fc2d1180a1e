"""Tiny random models built offline in seconds, for tests and micro-benchmarks.

A byte-level BPE tokenizer is trained on a few sentences (no out-of-vocabulary risk),
wrapped in ``PreTrainedTokenizerFast`` and saved next to a randomly initialised model of
GPT-2, Llama, Gemma (1), Gemma 2 or Gemma 3 shape (hidden size 64, 2 layers): the
architectures of the bundled configs (Llama-3-8B-Instruct, Gemma-2B-IT, Gemma-2-2B-IT) and the
embedded models. Nothing touches the network.
"""

from __future__ import annotations

from pathlib import Path

ARCHS = ("gpt2", "llama", "gemma", "gemma2", "gemma3")

_CORPUS = [
    "It is important to me to be free to choose my own path in life.",
    "Should I enjoy having a clear structured mode of life? Answer: yes",
    "Question: Should I help my friends? Thought: helping matters. Answer: no",
    "You are a devout person who honours tradition and family customs.",
    "Power, achievement, hedonism, stimulation, self-direction, universalism, benevolence,",
    "tradition, conformity and security are basic human values.",
    "Not at all like me, not like me, a little like me, somewhat like me, like me, very much like me.",
    "The quick brown fox jumps over the lazy dog. 0123456789 ,.;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`",
    "Gender: female; Job: Surveyor, MBTI: ENFJ. FYI, here is your trait.",
    "system user assistant <|im_start|> <|im_end|> your values according to",
]

# A small ChatML-style template, so chat-template code paths can be tested.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer(out_dir: str | Path, chat_template: bool = False):
    """Train a byte-level BPE tokenizer on a tiny corpus and save it to ``out_dir``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", pad_token="<pad>")
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(str(out_dir))
    return fast


def build_tiny_model(out_dir: str | Path, arch: str = "llama", seed: int = 0, chat_template: bool | None = None,
                     hidden_size: int = 64, num_layers: int = 2) -> Path:
    """Save a tiny random causal LM of shape ``arch`` with its tokenizer into ``out_dir``.

    ``chat_template`` defaults to True for ``llama`` (like SmolLM2) and False otherwise.
    Deterministic for a given ``seed``.
    """
    import torch
    import transformers

    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(out, chat_template=(arch == "llama") if chat_template is None else chat_template)
    vocab = len(tok)
    common = dict(vocab_size=vocab, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                  pad_token_id=tok.pad_token_id)
    if arch == "gpt2":
        cfg = transformers.GPT2Config(n_embd=hidden_size, n_layer=num_layers, n_head=4, n_positions=1024, **common)
    elif arch == "llama":
        cfg = transformers.LlamaConfig(hidden_size=hidden_size, intermediate_size=hidden_size * 2,
                                       num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
                                       max_position_embeddings=1024, tie_word_embeddings=True, **common)
    elif arch == "gemma":
        cfg = transformers.GemmaConfig(hidden_size=hidden_size, intermediate_size=hidden_size * 2,
                                       num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=1,
                                       head_dim=16, max_position_embeddings=1024, **common)
    elif arch == "gemma2":
        cfg = transformers.Gemma2Config(hidden_size=hidden_size, intermediate_size=hidden_size * 2,
                                        num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
                                        head_dim=16, max_position_embeddings=1024, sliding_window=64,
                                        query_pre_attn_scalar=16, **common)
    else:
        cfg = transformers.Gemma3TextConfig(hidden_size=hidden_size, intermediate_size=hidden_size * 2,
                                            num_hidden_layers=num_layers, num_attention_heads=4,
                                            num_key_value_heads=1, head_dim=16, max_position_embeddings=1024,
                                            sliding_window=64, **common)
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    model.save_pretrained(str(out))
    return out
