"""Tiny, randomly initialised Hugging Face reward models saved as real checkpoints, for tests and benchmarks.

Every builder writes a directory that ``from_pretrained`` loads offline: ``config.json``,
``model.safetensors`` and a byte-level BPE tokenizer trained in about a second. The tokenizer adds ``<s>``
in front of every text, the way Llama tokenizers do, so a chat template that also emits ``bos_token`` gives
the double-BOS case.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForSequenceClassification,
    DebertaV2Config,
    Gemma2Config,
    Gemma3TextConfig,
    GPT2Config,
    GPTNeoXConfig,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    Olmo2Config,
    Phi3Config,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen3Config,
)

BOS: Final = "<s>"
EOS: Final = "</s>"
UNK: Final = "<unk>"

# A chat template that renders roles like Tulu but, unlike the Tulu fallback, never appends EOS.
PLAIN_TEMPLATE: Final = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
)
# The same template starting with the BOS token: the tokenizer then adds a second one.
BOS_TEMPLATE: Final = "{{ bos_token }}" + PLAIN_TEMPLATE

_SAMPLE_DATA: Final = Path(__file__).resolve().parents[1] / "data" / "rewardbench_sample.jsonl"
_BASE_CORPUS: Final = (
    "How do I detail a car? Start by washing it, then clay the paint and apply wax.",
    "I cannot help with that request because it could cause harm.",
    "def add(a, b):\n    return a + b\n",
    "The answer is 42. First compute 6 * 7, then check the result.",
    "<|user|>\nWhat is the capital of France?\n<|assistant|>\nParis.\n",
)


def training_corpus(extra: Iterable[str] = ()) -> list[str]:
    """Text to train the tiny tokenizer on: a few fixed lines, the committed data sample if present, extra."""
    lines = list(_BASE_CORPUS)
    if _SAMPLE_DATA.exists():
        for line in _SAMPLE_DATA.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            lines.extend((row["prompt"], row["chosen"], row["rejected"]))
    lines.extend(extra)
    return lines


# Qwen2's pre-tokenizer split (transformers' Qwen2Tokenizer rebuilds every Qwen2 tokenizer with it).
QWEN2_SPLIT: Final = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"""
    r"""\s+(?!\S)|\s+"""
)
QWEN2_PAD: Final = "<|endoftext|>"


def build_tokenizer(
    *,
    vocab_size: int = 512,
    chat_template: str | None = None,
    corpus: Iterable[str] | None = None,
    qwen2: bool = False,
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (no pad token) that prepends BOS to every encoded text.

    ``qwen2``: Qwen2's normalizer and pre-tokenizer and its pad token ``<|endoftext|>``, which transformers'
    Qwen2 tokenizer class imposes on any checkpoint of that model type.
    """
    backend = Tokenizer(models.BPE(unk_token=UNK))
    if qwen2:
        backend.normalizer = normalizers.NFC()
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[UNK, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(list(corpus) if corpus is not None else training_corpus(), trainer=trainer)
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, backend.token_to_id(BOS))]
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=BOS, eos_token=EOS, unk_token=UNK)
    if qwen2:
        tokenizer.add_special_tokens({"pad_token": QWEN2_PAD})
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def _llama_config(
    vocab_size: int, hidden: int, layers: int, num_labels: int, tokenizer_ids: dict[str, int]
) -> LlamaConfig:
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer_ids["bos"],
        eos_token_id=tokenizer_ids["eos"],
        pad_token_id=None,
    )
    config.num_labels = num_labels
    return config


def _decoder_shape(vocab_size: int, hidden: int, layers: int) -> dict[str, Any]:
    return {
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "intermediate_size": hidden * 2,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "pad_token_id": None,
    }


def _gemma_shape(vocab_size: int, hidden: int, layers: int) -> dict[str, Any]:
    head_dim = hidden // 4
    shape = _decoder_shape(vocab_size, hidden, layers)
    return {**shape, "head_dim": head_dim, "query_pre_attn_scalar": head_dim}


def _deberta_v3_extras(hidden: int) -> dict[str, Any]:
    """Fields of DeBERTa-v3 configs that DebertaV2Config takes as extra keyword arguments."""
    return {"position_buckets": 64, "pooler_hidden_size": hidden}


# Classifier configs of the architectures released reward models use (as in), keyed by the name
# ``build_tiny_classifier(arch=...)`` takes: every one loads with AutoModelForSequenceClassification.
CLASSIFIER_CONFIGS: Final[Mapping[str, Callable[[int, int, int], PretrainedConfig]]] = MappingProxyType(
    {
        # Skywork-Reward-Llama-3.1, INF-ORM, ArmoRM
        "llama": lambda vocab, hidden, layers: LlamaConfig(**_decoder_shape(vocab, hidden, layers)),
        "mistral": lambda vocab, hidden, layers: MistralConfig(
            **_decoder_shape(vocab, hidden, layers), sliding_window=4096
        ),
        # ChatML Qwen2 reward models
        "qwen2": lambda vocab, hidden, layers: Qwen2Config(**_decoder_shape(vocab, hidden, layers)),
        # Skywork-Reward-V2-Qwen3
        "qwen3": lambda vocab, hidden, layers: Qwen3Config(
            **_decoder_shape(vocab, hidden, layers), head_dim=hidden // 4
        ),
        # Skywork-Reward-Gemma-2-27B, QRM-Gemma-2-27B: soft-capped attention, no SDPA in transformers
        "gemma2": lambda vocab, hidden, layers: Gemma2Config(**_gemma_shape(vocab, hidden, layers)),
        "gemma3": lambda vocab, hidden, layers: Gemma3TextConfig(**_gemma_shape(vocab, hidden, layers)),
        "gpt2": lambda vocab, hidden, layers: GPT2Config(
            vocab_size=vocab, n_embd=hidden, n_layer=layers, n_head=4, n_positions=4096, pad_token_id=None
        ),
        # Pythia, OpenAssistant's Pythia reward models
        "gpt_neox": lambda vocab, hidden, layers: GPTNeoXConfig(
            **{k: v for k, v in _decoder_shape(vocab, hidden, layers).items() if k != "num_key_value_heads"}
        ),
        # OpenAssistant reward-model-deberta-v3: bidirectional, pooled at the first token, eager only
        "deberta-v2": lambda vocab, hidden, layers: DebertaV2Config(
            vocab_size=vocab,
            hidden_size=hidden,
            intermediate_size=hidden * 2,
            num_hidden_layers=layers,
            num_attention_heads=4,
            max_position_embeddings=512,
            relative_attention=True,
            pos_att_type=["p2c", "c2p"],
            position_biased_input=False,
            pad_token_id=None,
            **_deberta_v3_extras(hidden),
        ),
        "phi3": lambda vocab, hidden, layers: Phi3Config(**_decoder_shape(vocab, hidden, layers)),
        "olmo2": lambda vocab, hidden, layers: Olmo2Config(**_decoder_shape(vocab, hidden, layers)),
    }
)


def _save(model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def build_tiny_classifier(
    path: Path,
    *,
    arch: str = "llama",
    chat_template: str | None = PLAIN_TEMPLATE,
    num_labels: int = 1,
    seed: int = 0,
    hidden: int = 32,
    layers: int = 2,
    tokenizer: PreTrainedTokenizerFast | None = None,
    pad_token_id: int | None = None,
) -> Path:
    """Save a random-init sequence classifier of ``arch`` (a key of ``CLASSIFIER_CONFIGS``) to ``path``.

    ``chat_template=None`` gives a tokenizer without a template (the Tulu fallback path); ``BOS_TEMPLATE``
    gives the double-BOS case. A ``tokenizer`` passed in is reused (training one per model is the slow part);
    ``chat_template``, unless None, replaces its template. The config has no pad token, as most released
    reward models, unless ``pad_token_id`` names one.
    """
    if tokenizer is None:
        tokenizer = build_tokenizer(chat_template=chat_template)
    elif chat_template is not None:
        tokenizer.chat_template = chat_template
    ids = {"bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id}
    torch.manual_seed(seed)
    if arch not in CLASSIFIER_CONFIGS:
        raise ValueError(f"unknown arch {arch!r}; use one of {', '.join(CLASSIFIER_CONFIGS)}")
    config = CLASSIFIER_CONFIGS[arch](len(tokenizer), hidden, layers)
    config.bos_token_id, config.eos_token_id, config.pad_token_id = ids["bos"], ids["eos"], pad_token_id
    config.num_labels = num_labels
    model: PreTrainedModel = AutoModelForSequenceClassification.from_config(config)
    _randomise_head(model, seed)
    return _save(model.eval(), tokenizer, path)


def build_tiny_causal_lm(
    path: Path,
    *,
    seed: int = 0,
    hidden: int = 32,
    layers: int = 2,
    tokenizer: PreTrainedTokenizerFast | None = None,
    chat_template: str | None = PLAIN_TEMPLATE,
    base_model: str | None = None,
) -> Path:
    """Save a random-init ``LlamaForCausalLM``: a checkpoint with no sequence-classification head.

    Models built from one ``tokenizer`` share its vocabulary (a DPO policy and its reference); different
    seeds give different weights. ``base_model`` writes a model card naming it.
    """
    if tokenizer is None:
        tokenizer = build_tokenizer(chat_template=chat_template)
    elif chat_template is not None:
        tokenizer.chat_template = chat_template
    ids = {"bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id}
    torch.manual_seed(seed)
    model = LlamaForCausalLM(_llama_config(len(tokenizer), hidden, layers, 1, ids))
    saved = _save(model.eval(), tokenizer, path)
    if base_model is not None:
        write_model_card(saved, base_model=base_model)
    return saved


def write_model_card(path: Path, **metadata: str) -> Path:
    """A README.md whose YAML header holds ``metadata`` (e.g. base_model)."""
    header = "".join(f"{key}: {value}\n" for key, value in metadata.items())
    (path / "README.md").write_text(f"---\n{header}---\n\n# A tiny test model\n", encoding="utf-8")
    return path


# A chat template with a generation prompt, as judges are prompted.
JUDGE_TEMPLATE: Final = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def build_tiny_judge(
    path: Path,
    answer: Iterable[str],
    *,
    tokenizer: PreTrainedTokenizerFast | None = None,
    hidden: int = 32,
    layers: int = 1,
) -> Path:
    """Save a ``LlamaForCausalLM`` whose greedy answer to any prompt is ``answer``, then EOS.

    Each piece of ``answer`` becomes one added token (so a piece may be ``[[A]]`` or ``Score: 4``); pieces
    must differ. By construction the model is a bigram table: every block adds zero to the residual
    stream, all ordinary tokens share one embedding, each answer token has its own, and the output head maps
    "ordinary" to the first piece, each piece to the next and the last to EOS. So the judge always answers
    the same slot or score, whatever the prompt, which is what the position-bias and parse tests need.
    """
    pieces = list(answer)
    if len(set(pieces)) != len(pieces) or not pieces:
        raise ValueError("answer pieces must be distinct and at least one")
    if len(pieces) + 1 > hidden:
        raise ValueError("hidden must exceed the number of answer pieces")
    if tokenizer is None:
        tokenizer = build_tokenizer(chat_template=JUDGE_TEMPLATE)
    else:
        tokenizer.chat_template = JUDGE_TEMPLATE
    tokenizer.add_tokens(pieces)
    ids = {"bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id}
    torch.manual_seed(0)
    model = LlamaForCausalLM(_llama_config(len(tokenizer), hidden, layers, 1, ids))
    piece_ids = [tokenizer.convert_tokens_to_ids(piece) for piece in pieces]
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embedding = model.model.embed_tokens.weight
        embedding.zero_()
        embedding[:, 0] = 1.0  # "an ordinary token"
        head = model.lm_head.weight
        head.zero_()
        head[piece_ids[0], 0] = 10.0
        for dim, token in enumerate(piece_ids, start=1):
            embedding[token].zero_()
            embedding[token, dim] = 1.0
            following = piece_ids[dim] if dim < len(piece_ids) else tokenizer.eos_token_id
            head[following, dim] = 10.0
    return _save(model.eval(), tokenizer, path)


def _randomise_head(model: PreTrainedModel, seed: int) -> None:
    # The default init gives the score head tiny weights; larger ones spread rewards apart so ties are rare.
    generator = torch.Generator().manual_seed(seed + 1)
    score = getattr(model, "score", None) or getattr(model, "classifier", None)
    assert isinstance(score, torch.nn.Linear)
    head = score.weight
    with torch.no_grad():
        head.copy_(torch.randn(head.shape, generator=generator))


# JUDGE_TEMPLATE starting with the BOS token, which the tokenizer also adds: a prompt re-tokenised from the
# rendered text with special tokens would start with two.
JUDGE_BOS_TEMPLATE: Final = "{{ bos_token }}" + JUDGE_TEMPLATE
# What a verdict judge may say: every slot letter, every rubric score and every rating.
VERDICT_PIECES: Final = (
    *(f"[[{letter}]]" for letter in "ABCD"),
    *(f"Score: {points}" for points in range(6)),
    *(f" {rating}" for rating in range(1, 11)),
)


def build_tiny_verdict_judge(
    path: Path,
    *,
    pieces: Iterable[str] = VERDICT_PIECES,
    tokenizer: PreTrainedTokenizerFast | None = None,
    hidden: int = 64,
    heads: int = 2,
    layers: int = 2,
    seed: int = 0,
    init_scale: float = 3.0,
) -> Path:
    """Save a random-init ``LlamaForCausalLM`` (head size ``hidden // heads``, 32 by default: vLLM's CPU
    attention needs at least that) whose greedy answer depends on the prompt but is made of ``pieces``.

    Each piece is one added token; the output head gives every other token a logit of zero and the pieces
    and EOS random ones, so each answer token is a piece (a slot letter, ``Score: N`` or a rating) or the end.
    The weights are drawn with standard deviation ``init_scale / sqrt(hidden)`` (not the tiny default), so
    attention, and with it the answer, follows the prompt's content: different prompts get different
    verdicts, which is what a comparison of two generation backends needs.
    """
    names = list(pieces)
    if len(set(names)) != len(names) or not names:
        raise ValueError("answer pieces must be distinct and at least one")
    if tokenizer is None:
        tokenizer = build_tokenizer(chat_template=JUDGE_BOS_TEMPLATE)
    else:
        tokenizer.chat_template = JUDGE_BOS_TEMPLATE
    tokenizer.add_tokens(names)
    ids = {"bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id}
    config = _llama_config(len(tokenizer), hidden, layers, 1, ids)
    config.num_attention_heads, config.num_key_value_heads = heads, heads
    config.head_dim = hidden // heads
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    answer_ids = [tokenizer.convert_tokens_to_ids(name) for name in names] + [tokenizer.eos_token_id]
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if weight.dim() == 2 and "lm_head" not in name:
                weight.copy_(torch.randn(weight.shape, generator=generator) * init_scale / hidden**0.5)
        head = model.lm_head.weight
        head.zero_()
        for token in answer_ids:
            head[token] = torch.randn(hidden, generator=generator)
    return _save(model.eval(), tokenizer, path)
