"""Plain functions that store results through the real write path (flush, not commit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.db.models import EvaluationResult, ResultSource
from app.services.results.results import record_result
from worker.engine.benchmarks import get_benchmark
from worker.engine.benchmarks.base import SubsetScore
from worker.engine.dataset import load_dataset
from worker.engine.results import BenchmarkResult
from worker.engine.types import Example, ScoredExample

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "rewardbench_sample.jsonl"
V1 = get_benchmark("rewardbench-v1")
CORE_SUBSETS = tuple(subset.name for subset in V1.subsets if subset.part == "core")


def engine_result(
    model: str,
    accuracy: float | Mapping[str, float] = 0.7,
    *,
    model_type: str = "classifier",
    counts: Mapping[str, tuple[int, float]] | None = None,
    **extra: Any,
) -> BenchmarkResult:
    """A full RewardBench v1 result (every core subset with all its rows, unless counts say otherwise)."""
    values = (
        dict.fromkeys(CORE_SUBSETS, float(accuracy)) if isinstance(accuracy, int | float) else dict(accuracy)
    )
    subset_scores = {}
    for name, value in values.items():
        n, correct = (counts or {}).get(name, (None, None))
        subset_scores[name] = SubsetScore(name, n, correct, value)
    return BenchmarkResult(
        model=model,
        model_type=model_type,
        chat_template="tokenizer",
        benchmark=V1.id,
        subset_scores=subset_scores,
        extra=dict(extra),
    )


def make_result(
    session: Session,
    model: str,
    accuracy: float | Mapping[str, float] = 0.7,
    *,
    source: ResultSource = ResultSource.EVALUATED,
    model_type: str = "classifier",
    submission_id: int | None = None,
    scored: Sequence[ScoredExample] | None = None,
    examples: Sequence[Example] | None = None,
    revision: str | None = "main",
    config: Mapping[str, Any] | None = None,
) -> EvaluationResult:
    return record_result(
        session,
        hub_id=model,
        result=engine_result(model, accuracy, model_type=model_type),
        scored=scored,
        examples=examples,
        source=source,
        source_detail="test.json" if source == ResultSource.IMPORTED else None,
        submission_id=submission_id,
        revision=revision,
        commit="0123456789abcdef" if source == ResultSource.EVALUATED else None,
        config=config,
    )


def sample_pairs() -> list[Example]:
    """The committed sample's 92 v1 examples (4 of each subset)."""
    return list(load_dataset(V1, str(SAMPLE)).examples)


def scores_for(pairs: Sequence[Example], *, wrong_every: int = 4) -> list[ScoredExample]:
    """Every ``wrong_every``-th pair wrong (the last of them a tie), the rest right."""
    scored = []
    for index, pair in enumerate(pairs):
        wrong = index % wrong_every == wrong_every - 1
        chosen, rejected = (0.5, 0.5) if wrong and index % 8 == 7 else ((0.1, 0.9) if wrong else (0.9, 0.1))
        scored.append(ScoredExample(pair.subset, pair.id, (chosen, rejected), 1, 0.0 if wrong else 1.0))
    return scored


def accuracies_of(scored: Sequence[ScoredExample]) -> dict[str, float]:
    totals: dict[str, list[float]] = {}
    for example in scored:
        entry = totals.setdefault(example.subset, [0.0, 0.0])
        entry[0] += 1
        entry[1] += example.outcome or 0.0
    return {subset: right / n for subset, (n, right) in totals.items()}
