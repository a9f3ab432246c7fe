"""Sharded loading: device maps planned on meta-device models with per-GPU budgets, and real runs through
the sharded path on the CPU giving the decisions of the one-device path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    Gemma2Config,
    LlamaConfig,
    PretrainedConfig,
)

from tests.engine.conftest import SAMPLE
from tests.support.dpo_cases import CASES as DPO_CASES
from tests.support.dpo_cases import build_case
from tests.support.model_shapes import GEMMA2_27B, LLAMA_70B, config_fields
from tests.support.tiny_models import build_tiny_classifier, build_tiny_judge
from worker.engine.adapters.classifier import ClassifierAdapter
from worker.engine.benchmarks import get_benchmark
from worker.engine.dataset import load_dataset, select_examples
from worker.engine.errors import InvalidSpecError, OutOfMemoryError
from worker.engine.layout import meta_model, plan_device_map, plan_layout, weight_bytes
from worker.engine.runner import run_evaluation
from worker.engine.spec import EvaluationSpec

V1 = get_benchmark("rewardbench-v1")
GB = 1024**3
BF16 = torch.bfloat16


def _classifier(config: PretrainedConfig) -> Any:
    config.num_labels = 1
    return meta_model(AutoModelForSequenceClassification, config, BF16)


def gemma2_27b() -> Gemma2Config:
    return Gemma2Config(**config_fields(GEMMA2_27B))


def llama_70b() -> LlamaConfig:
    return LlamaConfig(**config_fields(LLAMA_70B))


def test_a_27b_classifier_is_planned_balanced_over_four_gpus() -> None:
    model = _classifier(gemma2_27b())
    assert 27.0e9 < sum(p.numel() for p in model.parameters()) < 27.5e9
    planned = plan_device_map(model, [40 * GB] * 4, BF16)
    assert set(planned.values()) == {0, 1, 2, 3}
    assert planned["model.embed_tokens"] == 0 and planned["score"] == 3
    layers = [planned[f"model.layers.{index}"] for index in range(46)]
    assert layers == sorted(layers)  # consecutive blocks, never interleaved
    per_device = [layers.count(device) for device in range(4)]
    assert max(per_device) - min(per_device) <= 3, per_device


def test_a_70b_classifier_fits_two_80gb_gpus_and_not_one() -> None:
    model = _classifier(llama_70b())
    assert 138e9 < weight_bytes(model) < 142e9  # 69.5e9 parameters at 16 bits
    planned = plan_device_map(model, [int(80 * GB * 0.85)] * 2, BF16)
    assert set(planned.values()) == {0, 1}
    with pytest.raises(OutOfMemoryError, match=r"do not fit in 2 devices"):
        plan_device_map(model, [40 * GB] * 2, BF16)


def test_a_70b_judge_is_planned_over_eight_gpus() -> None:
    model = meta_model(AutoModelForCausalLM, llama_70b(), BF16)
    planned = plan_device_map(model, [int(24 * GB * 0.85)] * 8, BF16)
    assert set(planned.values()) == set(range(8))
    assert planned["lm_head"] == 7


def test_a_device_map_needs_two_shards_and_shards_are_positive() -> None:
    with pytest.raises(InvalidSpecError, match="at least two"):
        plan_device_map(_classifier(llama_70b()), [80 * GB], BF16)
    with pytest.raises(InvalidSpecError, match="at least 1"):
        plan_layout(AutoModelForSequenceClassification, llama_70b(), BF16, torch.device("cpu"), 0)


def test_one_device_unless_shards_are_asked_for_on_a_cpu() -> None:
    layout = plan_layout(AutoModelForSequenceClassification, LlamaConfig(), BF16, torch.device("cpu"), None)
    assert not layout.sharded and layout.describe() == {"layout": "one device (cpu)"}


@pytest.fixture(scope="module")
def pairs() -> list[Any]:
    return select_examples(V1, load_dataset(V1, str(SAMPLE)).examples, limit_per_subset=2)


@pytest.fixture(scope="module")
def six_layers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_classifier(tmp_path_factory.mktemp("layout") / "six-layers", layers=6)


@pytest.mark.parametrize("attention", ["varlen", "sdpa"])
def test_a_sharded_classifier_decides_as_the_one_device_path(
    attention: str, six_layers: Path, pairs: list[Any]
) -> None:
    results = {}
    for shards in (None, 3):
        spec = EvaluationSpec(model=str(six_layers), device="cpu", attention=attention, shards=shards)
        with ClassifierAdapter.from_spec(spec, V1) as adapter:
            results[shards] = (adapter.score_examples(pairs), adapter.describe())
    (one, one_record), (sharded, record) = results[None], results[3]
    assert one_record["layout"] == "one device (cpu)"
    assert record["layout"].startswith("3 shards") and len(record["shards"]) == 3
    assert all(shard["modules"] > 0 for shard in record["shards"])
    assert [a > b for a, b in one] == [a > b for a, b in sharded]  # type: ignore[operator]
    flat = [score for scores in one for score in scores]
    assert [s for scores in sharded for s in scores] == pytest.approx(flat, abs=1e-5)


def test_a_sharded_dpo_pair_decides_as_the_one_device_path(tmp_path: Path) -> None:
    built = build_case(DPO_CASES["template"], tmp_path)
    outcomes = []
    for shards in (None, 2):
        spec = EvaluationSpec(
            model=str(built.policy),
            model_type="dpo",
            kind_settings={"reference_model": str(built.reference)},
            dataset=str(SAMPLE),
            limit_per_subset=1,
            device="cpu",
            shards=shards,
        )
        output = run_evaluation(spec)
        outcomes.append(output)
    one, sharded = outcomes
    assert [e.outcome for e in one.scored] == [e.outcome for e in sharded.scored]
    assert [e.scores for e in one.scored] == [pytest.approx(e.scores, abs=1e-4) for e in sharded.scored]
    record = sharded.result.reproducibility
    assert record["layout"]["layout"].startswith("2 shards")
    assert record["reference_layout"]["layout"].startswith("2 shards")


def test_a_sharded_judge_answers_as_the_one_device_path(tmp_path: Path) -> None:
    judge = build_tiny_judge(tmp_path / "judge", ["[[B]]"], layers=2)
    outcomes = []
    for shards in (None, 2):
        spec = EvaluationSpec(
            model=str(judge),
            model_type="judge-pairwise",
            dataset=str(SAMPLE),
            limit_per_subset=1,
            device="cpu",
            shards=shards,
        )
        outcomes.append(run_evaluation(spec))
    one, sharded = outcomes
    assert [e.detail for e in one.scored] == [e.detail for e in sharded.scored]
    assert one.result.reproducibility["layout"] == "one device (cpu)"
    assert sharded.result.reproducibility["layout"].startswith("2 shards")
