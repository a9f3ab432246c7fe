"""DPO scoring: upstream's tokenisation quirks on worked examples, one model in memory at a time, the
reference-free normalisations, and refusals in words."""

from __future__ import annotations

import gc
import math
import weakref
from pathlib import Path
from typing import Any

import pytest

from tests.support.tiny_models import PLAIN_TEMPLATE, build_tiny_causal_lm, build_tokenizer
from worker.engine.adapters import dpo as dpo_adapter
from worker.engine.dpo_tokens import candidate_sequences, full_text, prompt_text
from worker.engine.errors import InvalidModelError, InvalidSpecError
from worker.engine.runner import run_evaluation
from worker.engine.spec import EvaluationSpec
from worker.engine.types import Message

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "rewardbench_sample.jsonl"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dpo-models")
    tokenizer = build_tokenizer(chat_template=PLAIN_TEMPLATE)
    return {
        "policy": build_tiny_causal_lm(root / "policy", seed=1, tokenizer=tokenizer),
        "reference": build_tiny_causal_lm(root / "reference", seed=2, tokenizer=tokenizer),
        "other": build_tiny_causal_lm(root / "other", tokenizer=build_tokenizer(vocab_size=300)),
    }


@pytest.fixture(scope="module")
def tokenizer(models: dict[str, Path]) -> Any:
    from transformers import AutoTokenizer

    return dpo_adapter.upstream_tokenizer(AutoTokenizer.from_pretrained(models["policy"]), "policy")


def test_response_is_the_text_without_the_prompt_header_included(tokenizer: Any) -> None:
    conversation: tuple[Message, ...] = (("user", "What is 6 x 7?"),)
    prompt = prompt_text(tokenizer, "tokenizer", conversation)
    assert prompt == "<|user|>\nWhat is 6 x 7?\n"
    assert full_text(tokenizer, "tokenizer", conversation, "42") == prompt + "<|assistant|>\n42\n"
    (sequence,) = candidate_sequences(
        tokenizer,
        "tokenizer",
        conversation,
        ["42"],
        bos_id=tokenizer.bos_token_id,
        eos_id=tokenizer.eos_token_id,
    )
    ids = list(sequence.ids)
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert ids[1 : sequence.response_start] == prompt_ids
    # The scored response starts with the template's assistant header (upstream removes only the prompt).
    assert tokenizer.decode(ids[sequence.response_start : -1]) == "<|assistant|>\n42\n"


def test_every_copy_of_the_prompt_is_removed_from_the_response(tokenizer: Any) -> None:
    """Upstream's ``text.replace(prompt, "")``: a response quoting the whole prompt loses that quote too."""
    conversation: tuple[Message, ...] = (("user", "Echo"),)
    prompt = prompt_text(tokenizer, "tulu", conversation)
    echoing = f"You said:\n{prompt}"
    (sequence,) = candidate_sequences(tokenizer, "tulu", conversation, [echoing], bos_id=1, eos_id=2)
    response = tokenizer.decode(sequence.ids[sequence.response_start : -1])
    assert response == "<|assistant|>\nYou said:\n\n"


def test_truncation_keeps_the_prompts_end_then_cuts_responses(tokenizer: Any) -> None:
    conversation: tuple[Message, ...] = (("user", "alpha beta gamma delta " * 10),)
    short, long = "ok", "answer words here " * 10
    sequences = candidate_sequences(
        tokenizer,
        "tulu",
        conversation,
        [short, long],
        bos_id=tokenizer.bos_token_id,
        eos_id=tokenizer.eos_token_id,
        max_length=40,
        max_prompt_length=8,
    )
    for sequence in sequences:
        assert sequence.response_start == 8  # BOS dropped with the prompt's start: keep_end
    assert len(sequences[1]) == 8 + (40 - 8)  # the long response cut to its first 32 ids (EOS cut too)
    assert sequences[1].ids[-1] != tokenizer.eos_token_id
    assert sequences[0].ids[-1] == tokenizer.eos_token_id  # the short one keeps its EOS
    untouched = candidate_sequences(tokenizer, "tulu", conversation, [short, long], bos_id=1, eos_id=2)
    assert untouched[0].ids[0] == 1 and untouched[0].response_start > 8


def spec(models: dict[str, Path], model_type: str = "dpo", **settings: Any) -> EvaluationSpec:
    if model_type == "dpo" and not settings:
        settings = {"reference_model": str(models["reference"])}
    return EvaluationSpec(
        model=str(models["policy"]),
        model_type=model_type,
        kind_settings=settings,
        dataset=str(SAMPLE),
        limit_per_subset=1,
        dtype="float32",
        device="cpu",
    )


def test_policy_and_reference_are_never_in_memory_together(
    models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[weakref.ref[Any]] = []
    alive_at_load: list[int] = []
    original = dpo_adapter.load_causal_lm

    def tracking(*args: Any, **kwargs: Any) -> Any:
        gc.collect()
        alive_at_load.append(sum(ref() is not None for ref in loaded))
        model, layout = original(*args, **kwargs)
        loaded.append(weakref.ref(model))
        return model, layout

    monkeypatch.setattr(dpo_adapter, "load_causal_lm", tracking)
    progress: list[tuple[int, int]] = []
    output = run_evaluation(spec(models), lambda done, total: progress.append((done, total)))
    assert alive_at_load == [0, 0] and len(loaded) == 2
    assert progress[-1] == (23, 23) and [done for done, _ in progress] == sorted(done for done, _ in progress)
    record = output.result.reproducibility
    assert record["reference"]["model"] == str(models["reference"]) and record["passes"].startswith(
        "policy, then"
    )
    assert output.result.extra == {"ref_model": str(models["reference"])}


def test_the_reward_is_the_policy_minus_the_reference(models: dict[str, Path]) -> None:
    with_reference = run_evaluation(spec(models)).scored
    policy_sum = run_evaluation(spec(models, "dpo-ref-free", normalization="sum")).scored
    swapped = EvaluationSpec(
        **{
            **spec(models).__dict__,
            "model": str(models["reference"]),
            "kind_settings": {"normalization": "sum"},
            "model_type": "dpo-ref-free",
        }
    )
    reference_sum = run_evaluation(swapped).scored
    for mixed, policy, reference in zip(with_reference, policy_sum, reference_sum, strict=True):
        for index in range(2):
            expected = (policy.scores[index] or 0.0) - (reference.scores[index] or 0.0)
            assert math.isclose(mixed.scores[index] or 0.0, expected, abs_tol=1e-3)


def test_reference_free_normalisations(models: dict[str, Path], tokenizer: Any) -> None:
    total = run_evaluation(spec(models, "dpo-ref-free", normalization="sum")).scored
    mean = run_evaluation(spec(models, "dpo-ref-free")).scored  # avg, upstream's default
    norm = run_evaluation(spec(models, "dpo-ref-free", normalization="norm")).scored
    assert all(score is not None and score < 0 for example in norm for score in example.scores)
    first = total[0]
    ratio = (first.scores[0] or 0.0) / (mean[0].scores[0] or 1.0)
    assert ratio == pytest.approx(round(ratio), abs=1e-3) and ratio > 1  # the sum is the mean times the count


def test_refusals_in_words(models: dict[str, Path]) -> None:
    with pytest.raises(InvalidSpecError, match="must be different models"):
        run_evaluation(spec(models, "dpo", reference_model=str(models["policy"])))
    with pytest.raises(InvalidModelError, match="must share the policy's tokenizer"):
        run_evaluation(spec(models, "dpo", reference_model=str(models["other"])))
    with pytest.raises(InvalidSpecError, match="names no base_model"):
        run_evaluation(spec(models, "dpo", reference_from_card=True))
