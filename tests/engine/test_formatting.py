from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tiny_models import BOS, EOS, build_tokenizer
from worker.engine.adapters.hf_loading import load_tokenizer
from worker.engine.errors import TokenizerLoadError
from worker.engine.formatting import Encoder, render, resolve_template, tulu_text, upstream_appends_eos

PROMPT, RESPONSE = "How do I detail a car?", "Wash it, clay it, wax it."


def test_template_wins_when_the_tokenizer_has_one(llama_template: Path) -> None:
    tokenizer = load_tokenizer(llama_template, "m")
    assert resolve_template(tokenizer, "auto") == "tokenizer"
    assert (
        render(tokenizer, "tokenizer", [("user", PROMPT)], RESPONSE)
        == f"<|user|>\n{PROMPT}\n<|assistant|>\n{RESPONSE}\n"
    )
    (encoded,) = Encoder(tokenizer, "tokenizer", 2048).encode(
        [render(tokenizer, "tokenizer", [("user", PROMPT)], RESPONSE)]
    )
    assert encoded.ids[0] == tokenizer.bos_token_id
    assert encoded.ids[-1] != tokenizer.eos_token_id
    assert not encoded.mask_first


def test_tulu_fallback_appends_eos(llama_no_template: Path, llama_template: Path) -> None:
    tokenizer = load_tokenizer(llama_no_template, "m")
    assert resolve_template(tokenizer, "auto") == "tulu"
    assert resolve_template(load_tokenizer(llama_template, "m"), "tulu") == "tulu"
    text = render(tokenizer, "tulu", [("user", PROMPT)], RESPONSE)
    assert text == "<|user|>\nHow do I detail a car?\n<|assistant|>\nWash it, clay it, wax it.\n"
    assert text == tulu_text([("user", PROMPT)], RESPONSE)
    (encoded,) = Encoder(tokenizer, "tulu", 2048).encode([text])
    assert tokenizer.convert_ids_to_tokens([encoded.ids[0], encoded.ids[-1]]) == [BOS, EOS]
    assert encoded.ids[1:-1] == tuple(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_asking_for_a_missing_template_is_an_error(llama_no_template: Path) -> None:
    with pytest.raises(TokenizerLoadError, match="no chat template"):
        resolve_template(load_tokenizer(llama_no_template, "m"), "tokenizer")


def test_pad_token_falls_back_to_eos(llama_template: Path) -> None:
    tokenizer = load_tokenizer(llama_template, "m")
    assert tokenizer.pad_token_id == tokenizer.eos_token_id


@pytest.mark.parametrize("template", ["tokenizer", "tulu"])
def test_left_truncation_keeps_the_end(template: str) -> None:
    tokenizer = build_tokenizer(chat_template="{% for m in messages %}{{ m['content'] }} {% endfor %}")
    long_prompt = " ".join(f"word{i}" for i in range(400))
    text = render(tokenizer, template, [("user", long_prompt)], "the final answer")  # type: ignore[arg-type]
    full = Encoder(tokenizer, template, 100_000).encode([text])[0]  # type: ignore[arg-type]
    cut = Encoder(tokenizer, template, 64).encode([text])[0]  # type: ignore[arg-type]
    assert len(full) > 64
    assert len(cut) == 64
    assert cut.ids[0] == tokenizer.bos_token_id
    assert cut.ids[1:] == full.ids[-63:]
    if template == "tulu":
        assert cut.ids[-1] == tokenizer.eos_token_id


def test_double_bos_is_flagged(llama_bos_template: Path) -> None:
    tokenizer = load_tokenizer(llama_bos_template, "m")
    text = render(tokenizer, "tokenizer", [("user", PROMPT)], RESPONSE)
    assert text.startswith(BOS)
    (encoded,) = Encoder(tokenizer, "tokenizer", 2048).encode([text])
    assert encoded.ids[:2] == (tokenizer.bos_token_id, tokenizer.bos_token_id)
    assert encoded.mask_first


@pytest.mark.parametrize(
    ("tokenizer_class", "model_type", "appends"),
    [
        ("LlamaTokenizerFast", "llama", True),
        ("LlamaTokenizer", None, True),
        ("GemmaTokenizer", "gemma2", True),
        ("GPTNeoXTokenizerFast", "gpt_neox", True),
        ("PreTrainedTokenizerFast", "llama", False),  # e.g. Llama 3: upstream's add_eos_token does nothing
        ("DebertaV2Tokenizer", "deberta-v2", False),
        ("GPT2Tokenizer", "gpt2", False),
        (None, "mistral", True),
        (None, "qwen2", False),
        ("TokenizersBackend", "llama", True),  # a class the pinned transformers lacks: the model type decides
        ("TokenizersBackend", "gpt2", False),
    ],
)
def test_eos_follows_where_upstream_add_eos_token_takes_effect(
    tokenizer_class: str | None, model_type: str | None, appends: bool
) -> None:
    assert upstream_appends_eos(tokenizer_class, model_type) is appends


def test_tulu_without_eos_keeps_the_text_as_is_and_the_full_length(llama_no_template: Path) -> None:
    tokenizer = load_tokenizer(llama_no_template, "m")
    text = render(tokenizer, "tulu", [("user", PROMPT)], RESPONSE)
    (encoded,) = Encoder(tokenizer, "tulu", 2048, tulu_eos=False).encode([text])
    assert encoded.ids[-1] != tokenizer.eos_token_id
    assert encoded.ids[1:] == tuple(tokenizer(text, add_special_tokens=False)["input_ids"])
    long_text = render(tokenizer, "tulu", [("user", " ".join(f"w{i}" for i in range(400)))], RESPONSE)
    assert len(Encoder(tokenizer, "tulu", 64, tulu_eos=False).encode([long_text])[0]) == 64


def test_the_adapter_applies_the_rule_per_model(llama_no_template: Path, gpt2_no_template: Path) -> None:
    from worker.engine.adapters.classifier import ClassifierAdapter
    from worker.engine.benchmarks import get_benchmark
    from worker.engine.spec import EvaluationSpec

    for path, appends in ((llama_no_template, True), (gpt2_no_template, False)):
        adapter = ClassifierAdapter.from_spec(
            EvaluationSpec(model=str(path), device="cpu"), get_benchmark("rewardbench-v1")
        )
        try:
            assert adapter.describe()["eos_appended"] is appends
        finally:
            adapter.close()


def test_a_multi_turn_conversation_renders_every_turn() -> None:
    conversation = [("user", "first"), ("assistant", "reply"), ("user", "second")]
    assert tulu_text(conversation, "answer") == (  # type: ignore[arg-type]
        "<|user|>\nfirst\n<|assistant|>\nreply\n<|user|>\nsecond\n<|assistant|>\nanswer\n"
    )
