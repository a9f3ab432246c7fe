"""Length-sorted, token-budgeted batches with an out-of-memory fallback.

Items are sorted longest first, so the biggest batch runs first and memory trouble shows at once.
A batch holds as many items as fit ``count x longest <= budget`` (at least one). When the device runs out
of memory the budget is halved and the remaining items are re-planned; an item that fails alone raises
``errors.OutOfMemoryError``. Scores come back in the callers' item order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from worker.engine.errors import InvalidSpecError, OutOfMemoryError

# forward(item indices) -> one score per index, in the same order.
BatchForward = Callable[[Sequence[int]], Sequence[float]]
# on_batch(item indices just scored).
BatchDone = Callable[[Sequence[int]], None]


def plan_batches(lengths: Sequence[int], budget: int, order: Sequence[int] | None = None) -> list[list[int]]:
    """Group item indices (longest first) into batches whose padded size stays within ``budget`` tokens."""
    if budget < 1:
        raise InvalidSpecError(f"token budget must be positive, got {budget}")
    indices = sorted(order if order is not None else range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in indices:
        if current and (len(current) + 1) * max(longest, lengths[index]) > budget:
            batches.append(current)
            current, longest = [], 0
        current.append(index)
        longest = max(longest, lengths[index])
    if current:
        batches.append(current)
    return batches


def score_batched(
    lengths: Sequence[int],
    budget: int,
    forward: BatchForward,
    on_batch: BatchDone | None = None,
    on_oom: Callable[[], None] | None = None,
) -> list[float]:
    """Score every item through ``forward`` in planned batches, halving the budget on out-of-memory."""
    scores: list[float | None] = [None] * len(lengths)
    pending = plan_batches(lengths, budget)
    while pending:
        batch = pending.pop(0)
        try:
            values = forward(batch)
        except torch.OutOfMemoryError:
            if on_oom is not None:
                on_oom()
            if len(batch) == 1:
                raise OutOfMemoryError(
                    f"out of device memory on a single text of {lengths[batch[0]]} tokens; "
                    "lower max_length or use a larger device"
                ) from None
            budget = max(1, min(budget, len(batch) * max(lengths[i] for i in batch)) // 2)
            remaining = [index for group in [batch, *pending] for index in group]
            pending = plan_batches(lengths, budget, order=remaining)
            continue
        if len(values) != len(batch):
            raise RuntimeError(f"forward returned {len(values)} scores for {len(batch)} texts")
        for index, value in zip(batch, values, strict=True):
            scores[index] = float(value)
        if on_batch is not None:
            on_batch(batch)
    return [score for score in scores if score is not None]
