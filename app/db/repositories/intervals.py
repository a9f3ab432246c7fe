"""Stored intervals of results: writing the bounds, finding results to (re)compute, reading their examples."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import RowMapping, select, update
from sqlalchemy.orm import Session

from app.db.models import EvaluationResult, ExampleResult, SectionScore
from worker.engine.types import ScoredExample


def store_intervals(
    session: Session,
    result_id: int,
    *,
    status: str,
    version: str,
    score: tuple[float, float] | None,
    sections: Mapping[str, tuple[float, float]],
) -> None:
    """Write a result's interval bounds (sections without one get none)."""
    low, high = score if score is not None else (None, None)
    session.execute(
        update(EvaluationResult)
        .where(EvaluationResult.id == result_id)
        .values(score_low=low, score_high=high, interval_status=status, interval_version=version)
    )
    session.execute(
        update(SectionScore).where(SectionScore.result_id == result_id).values(low=None, high=None)
    )
    for section, (section_low, section_high) in sections.items():
        session.execute(
            update(SectionScore)
            .where(SectionScore.result_id == result_id, SectionScore.section == section)
            .values(low=section_low, high=section_high)
        )


def interval_states(session: Session) -> Sequence[RowMapping]:
    """(id, benchmark, scoring_version, interval_status, interval_version) of every result."""
    statement = select(
        EvaluationResult.id,
        EvaluationResult.benchmark,
        EvaluationResult.scoring_version,
        EvaluationResult.interval_status,
        EvaluationResult.interval_version,
    ).order_by(EvaluationResult.id)
    return session.execute(statement).mappings().all()


def scored_examples(session: Session, result_id: int) -> list[ScoredExample]:
    """A result's stored examples as the engine's scored examples."""
    statement = (
        select(
            ExampleResult.subset,
            ExampleResult.example_id,
            ExampleResult.scores,
            ExampleResult.num_correct,
            ExampleResult.outcome,
        )
        .where(ExampleResult.result_id == result_id)
        .order_by(ExampleResult.id)
    )
    return [
        ScoredExample(subset, example_id, tuple(scores), num_correct, outcome)
        for subset, example_id, scores, num_correct, outcome in session.execute(statement)
    ]
