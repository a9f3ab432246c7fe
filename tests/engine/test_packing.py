"""Packed (padding-free) scoring equals each text scored alone with transformers' eager attention, on every
packable architecture."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import (
    AutoModelForSequenceClassification,
    BertConfig,
    DebertaV2Config,
    Gemma2Config,
    Gemma3TextConfig,
    GPT2Config,
    GPTNeoXConfig,
    LlamaConfig,
    MistralConfig,
    Olmo2Config,
    Phi3Config,
    PretrainedConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen3Config,
)

from tests.support.tiny_models import PLAIN_TEMPLATE, build_tokenizer
from worker.engine import attention as attention_module
from worker.engine.adapters.classifier import ClassifierAdapter
from worker.engine.attention import (
    ATTENTION,
    PACKABLE_MODEL_TYPES,
    pick_attention,
    register_varlen_attention,
    wrap_varlen_kernel,
)
from worker.engine.batching import plan_batches
from worker.engine.errors import InvalidSpecError
from worker.engine.formatting import Encoded
from worker.engine.model_source import ModelSource
from worker.engine.packing import pack
from worker.engine.spec import ATTENTION_CHOICES

CPU = torch.device("cpu")
SHAPE: dict[str, Any] = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2}
HEADS: dict[str, Any] = {"num_attention_heads": 4, "num_key_value_heads": 2}  # grouped-query attention


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return build_tokenizer(chat_template=PLAIN_TEMPLATE)


def _configs(vocab: int) -> dict[str, PretrainedConfig]:
    return {
        "llama": LlamaConfig(vocab_size=vocab, **SHAPE, **HEADS),
        "mistral": MistralConfig(vocab_size=vocab, sliding_window=4096, **SHAPE, **HEADS),
        "qwen2": Qwen2Config(vocab_size=vocab, **SHAPE, **HEADS),
        "qwen3": Qwen3Config(vocab_size=vocab, head_dim=16, **SHAPE, **HEADS),
        "gpt2": GPT2Config(vocab_size=vocab, n_embd=64, n_layer=2, n_head=4),
        "gpt_neox": GPTNeoXConfig(vocab_size=vocab, num_attention_heads=4, **SHAPE),
        # Soft-capped attention, as Gemma-2 has; a low cap so that it bites on random weights.
        "gemma2": Gemma2Config(
            vocab_size=vocab,
            head_dim=16,
            attn_logit_softcapping=0.5,
            query_pre_attn_scalar=16,
            **SHAPE,
            **HEADS,
        ),
        "gemma3_text": Gemma3TextConfig(vocab_size=vocab, head_dim=16, sliding_window=4096, **SHAPE, **HEADS),
        "phi3": Phi3Config(vocab_size=vocab, pad_token_id=None, **SHAPE, **HEADS),
        "olmo2": Olmo2Config(vocab_size=vocab, pad_token_id=None, **SHAPE, **HEADS),
    }


def _adapter(config: PretrainedConfig, tokenizer: PreTrainedTokenizerFast) -> ClassifierAdapter:
    register_varlen_attention()
    config.num_labels = 1
    config.pad_token_id = tokenizer.eos_token_id
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(config, attn_implementation="varlen").eval()
    with torch.no_grad():
        model.score.weight.normal_()  # spread rewards apart
    source = ModelSource(Path("."), "tiny", None, None, None)
    return ClassifierAdapter(model, tokenizer, source, batch_tokens=4096, attention=ATTENTION["varlen"])


def _items(vocab: int, bos: int, eos: int, count: int = 24) -> list[Encoded]:
    rng = random.Random(7)
    items = []
    for index in range(count):
        ids = [bos, *(rng.randrange(3, vocab) for _ in range(rng.randrange(2, 90)))]
        if index % 3 == 0:
            ids.append(eos)  # ends with the pad token: pooled one token earlier, as the heads do
        mask_first = index % 4 == 1
        if mask_first:
            ids.insert(0, bos)  # duplicated BOS, masked
        items.append(Encoded(tuple(ids), mask_first))
    return items


def _alone(adapter: ClassifierAdapter, item: Encoded) -> float:
    ids = torch.tensor([item.ids])
    mask = torch.ones_like(ids)
    mask[0, 0] = 0 if item.mask_first else 1
    with torch.inference_mode():
        return float(adapter.model(input_ids=ids, attention_mask=mask).logits[0, 0])


def test_pack_restarts_positions_and_reads_the_pooled_token() -> None:
    bos, eos = 1, 2
    row = pack([Encoded((bos, 5, 6, eos), False), Encoded((bos, bos, 7, 8), True), Encoded((9,), False)], eos)
    assert row.input_ids.tolist() == [[bos, 5, 6, eos, bos, 7, 8, 9]]
    assert row.position_ids.tolist() == [[0, 1, 2, 3, 1, 2, 3, 0]]  # the masked BOS is left out
    assert row.boundaries.tolist() == [0, 4, 7, 8]
    assert row.longest == 4
    assert row.scored.tolist() == [2, 6, 7]  # the trailing pad (EOS) is skipped, as the heads pool


@pytest.mark.parametrize("model_type", sorted(PACKABLE_MODEL_TYPES))
def test_packed_equals_alone(model_type: str, tokenizer: PreTrainedTokenizerFast) -> None:
    config = _configs(len(tokenizer))[model_type]
    adapter = _adapter(config, tokenizer)
    items = _items(len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id)
    packed = adapter.score_encoded(items)
    adapter.model.set_attn_implementation("eager")  # the baseline is transformers' own attention code
    alone = [_alone(adapter, item) for item in items]
    # fp32 sums in another order: a few ulps on rewards of size ~5 (Gemma-3's scaled embeddings); a text
    # that saw another text's tokens would be off by far more.
    assert packed == pytest.approx(alone, rel=1e-5, abs=1e-5)
    assert len(set(alone)) == len(alone)


def _per_text(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, cu: torch.Tensor, gqa: bool
) -> torch.Tensor:
    edges = cu.tolist()
    parts = [
        torch.nn.functional.scaled_dot_product_attention(
            query[a:b].transpose(0, 1),
            key[a:b].transpose(0, 1),
            value[a:b].transpose(0, 1),
            is_causal=True,
            enable_gqa=gqa,
        ).transpose(0, 1)
        for a, b in itertools.pairwise(edges)
    ]
    return torch.cat(parts)


def _new_signature(calls: list[str]) -> Callable[..., Any]:
    def varlen_attn(
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        cu_seq_q: torch.Tensor,
        cu_seq_k: torch.Tensor,
        max_q: int,
        max_k: int,
        *,
        return_aux: Any = None,
        scale: float | None = None,
        window_size: tuple[int, int] = (-1, -1),
        enable_gqa: bool = False,
    ) -> torch.Tensor:
        assert window_size == (-1, 0) and max_q == max_k
        calls.append("new")
        return _per_text(query, key, value, cu_seq_q, enable_gqa)

    return varlen_attn


def _old_signature(calls: list[str]) -> Callable[..., Any]:
    def varlen_attn(
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        cu_seq_q: torch.Tensor,
        cu_seq_k: torch.Tensor,
        max_q: int,
        max_k: int,
        is_causal: bool = False,
        return_aux: Any = None,
        scale: float | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert is_causal and key.shape[1] == query.shape[1]  # heads repeated for it
        calls.append("old")
        return _per_text(query, key, value, cu_seq_q, False), torch.empty(0)

    return varlen_attn


@pytest.mark.parametrize("signature", [_new_signature, _old_signature])
def test_the_fused_kernel_path_in_dry_mode(
    signature: Callable[[list[str]], Callable[..., Any]],
    tokenizer: PreTrainedTokenizerFast,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The GPU path (PyTorch's varlen kernel) with a CPU stand-in of the kernel's two signatures."""
    adapter = _adapter(_configs(len(tokenizer))["llama"], tokenizer)
    items = _items(len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id)
    expected = adapter.score_encoded(items)
    calls: list[str] = []
    kernel = wrap_varlen_kernel(signature(calls))
    monkeypatch.setattr(attention_module, "fused_varlen_kernel", lambda query: kernel)
    assert adapter.score_encoded(items) == pytest.approx(expected, abs=1e-5)
    batches = plan_batches([len(item) for item in items], adapter.batch_tokens, packed=True)
    assert len(calls) == SHAPE["num_hidden_layers"] * len(batches)  # every layer of every batch


def test_the_command_line_offers_every_attention() -> None:
    assert ("auto", *ATTENTION) == ATTENTION_CHOICES


def test_a_signature_without_causal_masking_is_not_used() -> None:
    assert wrap_varlen_kernel(lambda query, key, value, cu_q, cu_k, max_q, max_k: query) is None


def test_auto_picks_packed_attention_on_a_cpu_where_the_model_allows() -> None:
    for config in (LlamaConfig(), GPT2Config(), Qwen2Config()):
        assert pick_attention("auto", CPU, torch.float32, config, 2048).name == "varlen"
    short_window = MistralConfig(sliding_window=1024)
    assert pick_attention("auto", CPU, torch.float32, short_window, 2048).name == "sdpa"
    assert pick_attention("auto", CPU, torch.float32, short_window, 1024).name == "varlen"
    assert pick_attention("eager", CPU, torch.float32, LlamaConfig(), 2048).name == "eager"


def test_auto_takes_only_what_the_architecture_declares() -> None:
    # Gemma-2: packed (its soft-capping computed explicitly) while its sliding window covers max_length;
    # past it, eager, since transformers has no SDPA attention for it.
    assert pick_attention("auto", CPU, torch.float32, Gemma2Config(), 2048).name == "varlen"
    assert pick_attention("auto", CPU, torch.float32, Gemma2Config(), 8192).name == "eager"
    # DeBERTa-v2: bidirectional, no SDPA, no pluggable attention: eager only.
    assert pick_attention("auto", CPU, torch.float32, DebertaV2Config(), 2048).name == "eager"
    assert pick_attention("auto", CPU, torch.float32, GPTNeoXConfig(), 2048).name == "varlen"


def test_auto_on_cuda_prefers_flash_then_the_varlen_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = torch.device("cuda")
    monkeypatch.setattr(attention_module, "torch_varlen_kernel", lambda: None)
    assert pick_attention("auto", cuda, torch.bfloat16, LlamaConfig(), 2048).name == "sdpa"
    kernel = wrap_varlen_kernel(_new_signature([]))
    monkeypatch.setattr(attention_module, "torch_varlen_kernel", lambda: kernel)
    assert pick_attention("auto", cuda, torch.bfloat16, LlamaConfig(), 2048).name == "varlen"
    assert pick_attention("auto", cuda, torch.float32, LlamaConfig(), 2048).name == "sdpa"
    monkeypatch.setattr("transformers.utils.is_flash_attn_2_available", lambda: True)
    assert pick_attention("auto", cuda, torch.bfloat16, LlamaConfig(), 2048).name == "flash_attention_2"
    assert pick_attention("auto", cuda, torch.bfloat16, Gemma2Config(), 2048).name == "flash_attention_2"
    assert pick_attention("auto", cuda, torch.bfloat16, DebertaV2Config(), 2048).name == "eager"


def test_the_fused_kernel_is_not_used_for_soft_capped_attention(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyTorch's varlen kernel has no soft-capping: a Gemma-2 packed row attends text by text instead."""
    calls: list[str] = []
    kernel = wrap_varlen_kernel(_new_signature(calls))
    monkeypatch.setattr(attention_module, "fused_varlen_kernel", lambda query: kernel)
    query, key, value = (torch.randn(1, 4, 10, 16) for _ in range(3))
    boundaries = torch.tensor([0, 4, 10], dtype=torch.int32)
    options: dict[str, Any] = {"cu_seq_lens_q": boundaries, "max_length_q": 6}
    attention_module.varlen_attention_forward(torch.nn.Module(), query, key, value, None, **options)
    assert calls == ["new"]
    capped, _ = attention_module.varlen_attention_forward(
        torch.nn.Module(), query, key, value, None, softcap=0.5, **options
    )
    assert calls == ["new"]
    assert capped.shape == (1, 10, 4, 16)


@pytest.mark.parametrize(
    ("asked", "config", "reason"),
    [
        ("varlen", BertConfig(), "model type 'bert' is not one of the packable types"),
        (
            "varlen",
            DebertaV2Config(),
            "transformers has no pluggable attention functions for DebertaV2ForSequenceClassification",
        ),
        ("sdpa", Gemma2Config(), "transformers has no SDPA attention for Gemma2ForSequenceClassification"),
        ("sdpa", DebertaV2Config(), "no SDPA attention for DebertaV2ForSequenceClassification"),
        ("flash_attention_2", LlamaConfig(), "needs a CUDA GPU"),
        ("ring", LlamaConfig(), "unknown attention 'ring'"),
    ],
)
def test_an_attention_that_cannot_run_is_refused(asked: str, config: PretrainedConfig, reason: str) -> None:
    with pytest.raises(InvalidSpecError, match=reason):
        pick_attention(asked, CPU, torch.float32, config, 2048)
