"""The kind registry: each kind one definition with typed settings, its checks, memory and time; the
command line takes every kind's settings."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import SAMPLE
from tests.support.tiny_models import (
    build_tiny_causal_lm,
    build_tiny_judge,
    build_tokenizer,
    write_model_card,
)
from worker.engine.kinds import KINDS, evaluable_kinds, get_kind, kind_for_label
from worker.engine.model_kinds.base import KindSettingsError, ModelMetadata
from worker.engine.model_kinds.endpoint_judges import PINNED_FIELDS
from worker.engine.results import load_results_file

Cli = Callable[[Sequence[str]], int]


def test_every_evaluable_kind_declares_its_settings_and_refuses_unknown_ones() -> None:
    endpoint_judges = {"judge-pairwise-endpoint", "judge-rubric-endpoint"}
    assert set(evaluable_kinds()) == {
        "classifier", "dpo", "dpo-ref-free", "judge-pairwise", "judge-rubric", *endpoint_judges
    }  # fmt: skip
    for key in evaluable_kinds():
        kind = get_kind(key)
        assert kind.settings_type.model_config.get("extra") == "forbid"
        with pytest.raises(KindSettingsError, match="is not a setting of this model type"):
            kind.parse_settings({"no_such_setting": 1})
        required = {"reference_model": "org/sft"} if key == "dpo" else {}
        if key in endpoint_judges:
            required = {"endpoint": "e"}
        defaults = kind.describe_settings(kind.parse_settings(required))
        pinned = PINNED_FIELDS if key in endpoint_judges else set()  # set by the checks, not the form
        assert set(defaults) == {field.name for field in kind.settings_fields()} | pinned
    assert get_kind("judge-pairwise").tie_policy == "shared" and get_kind("dpo").tie_policy == "strict"
    assert not KINDS["generative"].evaluable and not KINDS["dpo-ref-free"].ranked_with_others


def test_labels_map_back_to_kinds() -> None:
    assert kind_for_label("DPO Ref. Free") is KINDS["dpo-ref-free"]
    assert kind_for_label("Generative RM") is KINDS["generative"]
    assert kind_for_label("Pairwise judge") is KINDS["judge-pairwise"]  # our own results files
    assert kind_for_label("judge-rubric") is KINDS["judge-rubric"]


def metadata(config: dict[str, Any], parameters: int, *, template: bool = True) -> ModelMetadata:
    class Tokenizer:
        chat_template = "{{ x }}" if template else None

    return ModelMetadata("org/m", config, Tokenizer(), None, parameters)


def test_kind_checks_over_metadata() -> None:
    causal = {"architectures": ["LlamaForCausalLM"]}
    classifier = {"architectures": ["LlamaForSequenceClassification"], "num_labels": 1}
    judge, dpo = get_kind("judge-rubric"), get_kind("dpo")
    settings = dpo.parse_settings({"reference_model": "org/sft"})
    assert all(check.ok for check in dpo.check_model(metadata(causal, 10), settings))
    assert not dpo.check_model(metadata(classifier, 10), settings)[0].ok
    verdicts = judge.check_model(metadata(causal, 10, template=False), judge.parse_settings({}))
    assert [check.ok for check in verdicts] == [True, False]
    assert (
        "GPT2LMHeadModel"
        in get_kind("dpo-ref-free")
        .check_model(
            metadata({"architectures": ["GPT2LMHeadModel"]}, 10), get_kind("dpo-ref-free").parse_settings({})
        )[0]
        .message
    )


def test_memory_and_time_estimates_follow_the_kind() -> None:
    config = {
        "num_hidden_layers": 32,
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
    }
    billion = metadata({**config, "architectures": ["LlamaForCausalLM"]}, 10**9)
    small = metadata({"architectures": ["LlamaForCausalLM"]}, 10**8)
    dpo = get_kind("dpo")
    settings = dpo.parse_settings({"reference_model": "org/sft"})
    # One model at a time: the larger of policy and reference, with one sequence of float32 log-probabilities
    # over its vocabulary (32,000 when the config names none).
    classifier = get_kind("classifier")
    classifier_bytes = classifier.memory_bytes(billion, {}, classifier.parse_settings({}))
    assert classifier_bytes is not None
    logits = 2048 * 32_000 * 4
    assert dpo.memory_bytes(small, {"reference": billion}, settings) == classifier_bytes + logits
    assert dpo.memory_bytes(billion, {"reference": small}, settings) == classifier_bytes + logits
    # Activations grow with max_length: one sequence of 16-bit buffers, 32 bytes a token and hidden unit.
    longer = classifier.memory_bytes(billion, {}, classifier.parse_settings({}), 16384)
    assert longer == classifier_bytes + (16384 - 2048) * 4096 * 32
    judge = get_kind("judge-pairwise")
    weights_and_overhead = 10**9 * 2 + 1024**3
    cache = 2 * 32 * 8 * 128 * 8192 * 2  # keys and values, 16 bits, one 8192-token sequence
    assert judge.memory_bytes(billion, {}, judge.parse_settings({})) == weights_and_overhead + cache
    long_judge = judge.memory_bytes(billion, {}, judge.parse_settings({}), 32768)
    assert long_judge == weights_and_overhead + 4 * cache
    plain = judge.time_factor(judge.parse_settings({}))
    assert judge.time_factor(judge.parse_settings({"both_orders": True})) == 2 * plain
    assert 1 <= dpo.time_factor(settings) < plain


def test_cli_takes_each_kinds_settings(
    rewardboard: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokenizer = build_tokenizer()
    sft = build_tiny_causal_lm(tmp_path / "sft", seed=2, tokenizer=tokenizer)
    policy = build_tiny_causal_lm(tmp_path / "policy", seed=1, tokenizer=tokenizer)
    write_model_card(policy, base_model=str(sft))
    common = ["--dataset", str(SAMPLE), "--limit-per-subset", "1", "--device", "cpu", "--no-progress"]
    results = tmp_path / "dpo.json"
    assert (
        rewardboard(
            [
                "evaluate",
                str(policy),
                "--model-type",
                "dpo",
                "--ref-from-card",
                "--output",
                str(results),
                *common,
            ]
        )
        == 0
    )
    document = json.loads(results.read_text())
    assert document["model_type"] == "DPO" and document["ref_model"] == str(sft)
    assert document["reproducibility"]["kind_settings"]["reference_from_card"] is True
    assert load_results_file(results).model_type == "dpo"

    judge = build_tiny_judge(tmp_path / "judge", ["[[B]]"])
    judged = tmp_path / "judge.json"
    args = ["evaluate", str(judge), "--model-type", "judge-pairwise", "--both-orders", "--seed", "3",
            "--max-new-tokens", "8", "--output", str(judged), *common]  # fmt: skip
    assert rewardboard(args) == 0
    out = capsys.readouterr().out
    assert "position bias 100.0%" in out
    record = json.loads(judged.read_text())["reproducibility"]
    assert record["kind_settings"] == {
        "both_orders": True,
        "seed": 3,
        "max_new_tokens": 8,
        "score_with_ratings": False,
    }
    assert load_results_file(judged).model_type == "judge-pairwise"

    assert rewardboard(["evaluate", str(policy), "--model-type", "dpo", *common]) == 2
    assert "scored against a reference model" in capsys.readouterr().err
    assert (
        rewardboard(["evaluate", str(policy), "--model-type", "dpo-ref-free", "--both-orders", *common]) == 2
    )
    assert "--both-orders is not a setting of model type dpo-ref-free" in capsys.readouterr().err
