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
from worker.engine.formatting import Encoded
from worker.engine.spec import EvaluationSpec

V1 = get_benchmark("rewardbench-v1")
FIXTURES = ("llama_template", "llama_bos_template", "llama_no_template", "gpt2_no_template")


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


def test_packed_batches_sum_their_lengths_within_budget() -> None:
    lengths = [5, 40, 12, 40, 7, 30, 1, 100]
    batches = plan_batches(lengths, budget=80, packed=True)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert batches[0] == [7] and batches[1] == [1, 3]
    for batch in batches:
        assert len(batch) == 1 or sum(lengths[i] for i in batch) <= 80
    assert len(batches) < len(plan_batches(lengths, budget=80))  # no padding: fewer batches


def test_tensor_results_are_read_one_batch_late() -> None:
    lengths = [4, 3, 2, 1]
    events: list[str] = []

    def forward(batch: Sequence[int]) -> torch.Tensor:
        events.append(f"launch {list(batch)}")
        return torch.tensor([float(i) for i in batch])

    def done(batch: Sequence[int], values: Sequence[float]) -> None:
        events.append(f"read {list(batch)}")

    assert score_batched(lengths, 4, forward, on_batch=done) == [0.0, 1.0, 2.0, 3.0]
    assert events == [
        "launch [0]", "launch [1]", "read [0]", "launch [2, 3]", "read [1]", "read [2, 3]"
    ]  # fmt: skip


def test_concurrent_batches_keep_item_order_and_report_in_order() -> None:
    import threading

    lengths = [5, 1, 4, 2, 3, 6]
    threads: set[str] = set()
    reported: list[list[int]] = []

    def forward(batch: Sequence[int]) -> list[float]:
        threads.add(threading.current_thread().name)
        return [10.0 * i for i in batch]

    scores = score_batched(lengths, 6, forward, on_batch=lambda b, v: reported.append(list(b)), workers=2)
    assert scores == [10.0 * i for i in range(6)]
    assert reported == plan_batches(lengths, 6)
    assert all(name.startswith("score") for name in threads)


def test_a_failing_concurrent_batch_stops_the_run() -> None:
    def forward(batch: Sequence[int]) -> list[float]:
        raise ValueError("broken batch")

    with pytest.raises(ValueError, match="broken batch"):
        score_batched([3, 2, 1], 3, forward, workers=2)


def test_out_of_memory_halves_a_packed_budget() -> None:
    lengths = [10] * 8
    calls: list[int] = []

    def forward(batch: Sequence[int]) -> list[float]:
        calls.append(len(batch))
        if sum(lengths[i] for i in batch) > 20:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return [float(i) for i in batch]

    assert score_batched(lengths, 80, forward, packed=True) == [float(i) for i in range(8)]
    assert calls == [8, 4, 2, 2, 2, 2]


def _score_alone(adapter: ClassifierAdapter, item: Encoded) -> float:
    """The model's own forward on one text: no batch, no padding, no packing."""
    ids = torch.tensor([item.ids])
    mask = torch.ones_like(ids)
    if item.mask_first:
        mask[0, 0] = 0
    with torch.inference_mode():
        return float(adapter.model(input_ids=ids, attention_mask=mask).logits[0, 0])


@pytest.mark.parametrize(
    ("fixture", "attention"),
    [
        *((fixture, attention) for fixture in FIXTURES for attention in ("varlen", "sdpa")),
        ("llama_template", "eager"),
    ],
)
def test_batched_equals_scoring_each_text_alone(
    fixture: str, attention: str, request: pytest.FixtureRequest
) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    spec = EvaluationSpec(
        model=str(model_dir), batch_tokens=4096, max_length=512, dtype="float32", attention=attention
    )
    adapter = ClassifierAdapter.from_spec(spec, V1)
    assert adapter.describe()["attention"] == attention
    pairs = select_examples(V1, load_dataset(V1, str(SAMPLE)).examples, limit_per_subset=2)
    batched = adapter.score_examples(pairs)
    encoded = adapter.encode_examples(pairs)
    alone = [_score_alone(adapter, item) for item in encoded]
    assert len({len(item) for item in encoded}) > 10  # the texts differ in length
    assert len(plan_batches([len(item) for item in encoded], 4096, packed=adapter.attention.packed)) < 10
    for i, (chosen, rejected) in enumerate(batched):
        assert chosen is not None and rejected is not None
        assert chosen == pytest.approx(alone[2 * i], abs=1e-4)
        assert rejected == pytest.approx(alone[2 * i + 1], abs=1e-4)
        assert (chosen > rejected) == (alone[2 * i] > alone[2 * i + 1])
    if fixture == "llama_bos_template":
        # Left truncation cuts the template's BOS away, leaving only the tokenizer's.
        assert all(item.mask_first == (len(item) < 512) for item in encoded)
        assert any(item.mask_first for item in encoded)
