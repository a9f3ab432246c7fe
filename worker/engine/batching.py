"""Length-sorted, token-budgeted batches with an out-of-memory fallback.

Items are sorted longest first, so the biggest batch runs first and memory trouble shows at once.
A padded batch holds as many items as fit ``count x longest <= budget``; a packed batch (texts back to back,
no padding) as many as fit ``sum of lengths <= budget``; either holds at least one. When the device runs out
of memory the budget is halved and the remaining items are re-planned; an item that fails alone raises
``errors.OutOfMemoryError``. Scores come back in the callers' item order.

``forward`` may return a tensor still being computed on a GPU: it is read only after the next batch has been
launched, so the host prepares batch k+1 while the device works on batch k.

With ``workers`` > 1 (CPUs), batches run concurrently in that many threads, each operation single-threaded
(the caller sets that): no thread waits at a barrier for another, which on a shared CPU is about twice as
fast as splitting every operation over the cores (bench/README.md). There is no out-of-memory fallback then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

from worker.engine.errors import InvalidSpecError, OutOfMemoryError

# forward(item indices) -> one score per index, in the same order (floats, or a 1-D tensor).
BatchForward = Callable[[Sequence[int]], "Sequence[float] | torch.Tensor"]
# on_batch(item indices just scored, their scores).
BatchDone = Callable[[Sequence[int], Sequence[float]], None]


def plan_batches(
    lengths: Sequence[int], budget: int, order: Sequence[int] | None = None, *, packed: bool = False
) -> list[list[int]]:
    """Group item indices (longest first) into batches whose size stays within ``budget`` tokens."""
    if budget < 1:
        raise InvalidSpecError(f"token budget must be positive, got {budget}")
    indices = sorted(order if order is not None else range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = total = 0
    for index in indices:
        size = total + lengths[index] if packed else (len(current) + 1) * max(longest, lengths[index])
        if current and size > budget:
            batches.append(current)
            current, longest, total = [], 0, 0
        current.append(index)
        longest = max(longest, lengths[index])
        total += lengths[index]
    if current:
        batches.append(current)
    return batches


def score_batched(
    lengths: Sequence[int],
    budget: int,
    forward: BatchForward,
    on_batch: BatchDone | None = None,
    on_oom: Callable[[], None] | None = None,
    *,
    packed: bool = False,
    workers: int = 1,
) -> list[float]:
    """Score every item through ``forward`` in planned batches, halving the budget on out-of-memory."""
    scores: list[float | None] = [None] * len(lengths)
    pending = plan_batches(lengths, budget, packed=packed)
    in_flight: tuple[list[int], Sequence[float] | torch.Tensor] | None = None

    def read(batch: list[int], values: Sequence[float] | torch.Tensor) -> None:
        floats = values.tolist() if isinstance(values, torch.Tensor) else list(values)
        if len(floats) != len(batch):
            raise RuntimeError(f"forward returned {len(floats)} scores for {len(batch)} texts")
        for index, value in zip(batch, floats, strict=True):
            scores[index] = float(value)
        if on_batch is not None:
            on_batch(batch, floats)

    if workers > 1:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="score")
        try:
            futures = [pool.submit(forward, batch) for batch in pending]
            for batch, future in zip(pending, futures, strict=True):
                read(batch, future.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # after a failure, batches not started never run
        return [score for score in scores if score is not None]
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
            used = sum(lengths[i] for i in batch) if packed else len(batch) * max(lengths[i] for i in batch)
            budget = max(1, min(budget, used) // 2)
            remaining = [index for group in [batch, *pending] for index in group]
            pending = plan_batches(lengths, budget, order=remaining, packed=packed)
            continue
        if in_flight is not None:
            read(*in_flight)
        in_flight = (batch, values)
    if in_flight is not None:
        read(*in_flight)
    return [score for score in scores if score is not None]
