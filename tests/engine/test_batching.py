from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from tests.engine.conftest import SAMPLE
from worker.engine.adapters.classifier import ClassifierAdapter
from worker.engine.batching import plan_batches, score_batched
from worker.engine.benchmarks import get_benchmark
from worker.engine.dataset import load_dataset, select_examples
from worker.engine.errors import OutOfMemoryError
from worker.engine.spec import EvaluationSpec

V1 = get_benchmark("rewardbench-v1")


def test_batches_are_length_sorted_and_within_budget() -> None:
    lengths = [5, 40, 12, 40, 7, 30, 1, 100]
    batches = plan_batches(lengths, budget=80)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert batches[0] == [7]  # longer than the budget: alone
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 80
    flat = [lengths[i] for batch in batches for i in batch]
    assert flat == sorted(flat, reverse=True)


def test_scores_come_back_in_item_order() -> None:
    lengths = [3, 9, 1, 7]
    seen: list[list[int]] = []

    def forward(batch: Sequence[int]) -> list[float]:
        seen.append(list(batch))
        return [10.0 * i for i in batch]

    assert score_batched(lengths, 16, forward) == [0.0, 10.0, 20.0, 30.0]
    assert seen[0] == [1]


def test_out_of_memory_halves_the_budget_and_retries() -> None:
    lengths = [10] * 8
    calls: list[int] = []

    def forward(batch: Sequence[int]) -> list[float]:
        calls.append(len(batch))
        if len(batch) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return [float(i) for i in batch]

    freed: list[bool] = []
    scores = score_batched(lengths, 80, forward, on_oom=lambda: freed.append(True))
    assert scores == [float(i) for i in range(8)]
    assert calls == [8, 4, 2, 2, 2, 2]
    assert len(freed) == 2


def test_a_single_text_that_does_not_fit_raises() -> None:
    def forward(batch: Sequence[int]) -> list[float]:
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(OutOfMemoryError, match="single text of 50 tokens"):
        score_batched([50, 20], 100, forward)


@pytest.mark.parametrize(
    "fixture", ["llama_template", "llama_bos_template", "llama_no_template", "gpt2_no_template"]
)
def test_batched_equals_scoring_each_text_alone(fixture: str, request: pytest.FixtureRequest) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    adapter = ClassifierAdapter.from_spec(
        EvaluationSpec(model=str(model_dir), batch_tokens=4096, max_length=512, dtype="float32"), V1
    )
    pairs = select_examples(V1, load_dataset(V1, str(SAMPLE)).examples, limit_per_subset=2)
    batched = adapter.score_examples(pairs)
    encoded = adapter.encode_examples(pairs)
    alone = [adapter.forward([item])[0] for item in encoded]  # batch of one: no padding at all
    assert len({len(item) for item in encoded}) > 10  # the batches really pad
    for i, (chosen, rejected) in enumerate(batched):
        assert chosen is not None and rejected is not None
        assert chosen == pytest.approx(alone[2 * i], abs=1e-4)
        assert rejected == pytest.approx(alone[2 * i + 1], abs=1e-4)
        assert (chosen > rejected) == (alone[2 * i] > alone[2 * i + 1])
    if fixture == "llama_bos_template":
        # Left truncation cuts the template's BOS away, leaving only the tokenizer's.
        assert all(item.mask_first == (len(item) < 512) for item in encoded)
        assert any(item.mask_first for item in encoded)
