"""What the in-process and the endpoint judges share once their prompts are encoded: identical prompts sent
once, and every example's plan deciding on its own answers."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, TypeVar

from worker.engine.adapters.base import CandidateResult
from worker.engine.judging.protocols import Plan

K = TypeVar("K", bound=Hashable)


def distinct_prompts(encoded: Sequence[K]) -> tuple[list[K], list[int]]:
    """The distinct prompts in first-seen order, and for each call the index of its prompt among them."""
    unique: dict[K, int] = {}
    slots = [unique.setdefault(key, len(unique)) for key in encoded]
    return list(unique), slots


def decide_plans(
    plans: Sequence[Plan], slots: Sequence[int], answers: Sequence[Any]
) -> list[CandidateResult]:
    """Each plan's decision on the answers to its own calls (calls in plan order, as they were encoded)."""
    results = []
    start = 0
    for plan in plans:
        mine = [answers[slots[i]] for i in range(start, start + len(plan.calls))]
        start += len(plan.calls)
        judged = plan.decide(mine)
        results.append(CandidateResult(judged.scores, judged.detail))
    return results
