"""Plain functions that store results through the real write path (flush, not commit)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from app.db.models import EvaluationResult, ResultSource
from app.db.repositories import save_evaluation_result
from worker.engine.benchmark import SUBSET_NAMES
from worker.engine.results import EvaluationResult as EngineResult
from worker.engine.types import PairScore, PreferencePair

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "rewardbench_sample.jsonl"


def engine_result(
    model: str,
    accuracy: float | Mapping[str, float] = 0.7,
    *,
    model_type: str = "Seq. Classifier",
    **extra: Any,
) -> EngineResult:
    accuracies = (
        {name: float(accuracy) for name in SUBSET_NAMES}
        if isinstance(accuracy, int | float)
        else dict(accuracy)
    )
    return EngineResult(
        model=model,
        model_type=model_type,
        chat_template="tokenizer",
        accuracies=accuracies,
        extra=dict(extra),
    )


def make_result(
    session: Session,
    model: str,
    accuracy: float | Mapping[str, float] = 0.7,
    *,
    source: ResultSource = ResultSource.EVALUATED,
    model_type: str = "Seq. Classifier",
    submission_id: int | None = None,
    pair_scores: Sequence[PairScore] | None = None,
    pairs: Sequence[PreferencePair] | None = None,
    revision: str | None = "main",
    config: Mapping[str, Any] | None = None,
) -> EvaluationResult:
    return save_evaluation_result(
        session,
        hub_id=model,
        result=engine_result(model, accuracy, model_type=model_type),
        pair_scores=pair_scores,
        pairs=pairs,
        source=source,
        source_detail="test.json" if source == ResultSource.IMPORTED else None,
        submission_id=submission_id,
        revision=revision,
        commit="0123456789abcdef" if source == ResultSource.EVALUATED else None,
        config=config,
    )


def sample_pairs() -> list[PreferencePair]:
    pairs = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        pairs.append(
            PreferencePair(
                **{
                    key: row[key]
                    for key in (
                        "subset",
                        "id",
                        "prompt",
                        "chosen",
                        "rejected",
                        "chosen_model",
                        "rejected_model",
                    )
                }
            )
        )
    return pairs


def scores_for(pairs: Sequence[PreferencePair], *, wrong_every: int = 4) -> list[PairScore]:
    """Every ``wrong_every``-th pair wrong (the last of them a tie), the rest right."""
    scores = []
    for index, pair in enumerate(pairs):
        wrong = index % wrong_every == wrong_every - 1
        chosen, rejected = (0.5, 0.5) if wrong and index % 8 == 7 else ((0.1, 0.9) if wrong else (0.9, 0.1))
        scores.append(PairScore(pair.subset, pair.id, chosen, rejected, 0.0 if wrong else 1.0))
    return scores


def accuracies_of(scores: Sequence[PairScore]) -> dict[str, float]:
    totals: dict[str, list[float]] = {}
    for score in scores:
        entry = totals.setdefault(score.subset, [0.0, 0.0])
        entry[0] += 1
        entry[1] += score.result
    return {subset: right / n for subset, (n, right) in totals.items()}
