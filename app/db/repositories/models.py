"""Reads of one model: its row, all its results with their sections and subsets, and its scored examples."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import RowMapping, and_, func, select
from sqlalchemy.orm import Session

from app.db.models import (
    BenchmarkExample,
    EvaluationResult,
    ExampleResult,
    RewardModel,
    SectionScore,
    SubsetScore,
)


def get_model(session: Session, hub_id: str) -> RewardModel | None:
    return session.scalars(select(RewardModel).where(RewardModel.hub_id == hub_id)).one_or_none()


def results_of_model(session: Session, reward_model_id: int) -> Sequence[EvaluationResult]:
    """Every result of a model, newest first."""
    statement = (
        select(EvaluationResult)
        .where(EvaluationResult.reward_model_id == reward_model_id)
        .order_by(EvaluationResult.created_at.desc(), EvaluationResult.id.desc())
    )
    return session.scalars(statement).all()


def sections_of_results(session: Session, result_ids: Sequence[int]) -> Sequence[SectionScore]:
    if not result_ids:
        return []
    return session.scalars(select(SectionScore).where(SectionScore.result_id.in_(result_ids))).all()


def subsets_of_results(session: Session, result_ids: Sequence[int]) -> Sequence[SubsetScore]:
    if not result_ids:
        return []
    return session.scalars(select(SubsetScore).where(SubsetScore.result_id.in_(result_ids))).all()


def results_with_examples(session: Session, result_ids: Sequence[int]) -> set[int]:
    if not result_ids:
        return set()
    statement = select(ExampleResult.result_id).where(ExampleResult.result_id.in_(result_ids)).distinct()
    return set(session.scalars(statement))


def example_page(
    session: Session,
    *,
    result: EvaluationResult,
    subset: str | None,
    wrong_only: bool,
    offset: int,
    limit: int,
) -> tuple[Sequence[RowMapping], int]:
    """Scored examples of one result in benchmark order, with their texts when stored; and the match count.

    ``wrong_only`` keeps the examples that did not get full credit (for whole-subset metrics, every one).
    """
    conditions = [ExampleResult.result_id == result.id]
    if subset:
        conditions.append(ExampleResult.subset == subset)
    if wrong_only:
        conditions.append(func.coalesce(ExampleResult.outcome, 0.0) < 1.0)
    text = and_(
        BenchmarkExample.benchmark == result.benchmark,
        BenchmarkExample.subset == ExampleResult.subset,
        BenchmarkExample.example_id == ExampleResult.example_id,
    )
    statement = (
        select(
            ExampleResult.subset,
            ExampleResult.example_id,
            ExampleResult.scores,
            ExampleResult.num_correct,
            ExampleResult.outcome,
            ExampleResult.detail,
            BenchmarkExample.prompt,
            BenchmarkExample.conversation,
            BenchmarkExample.candidates,
        )
        .outerjoin(BenchmarkExample, text)
        .where(*conditions)
        .order_by(ExampleResult.subset, ExampleResult.id)
        .offset(offset)
        .limit(limit)
    )
    rows = session.execute(statement).mappings().all()
    total = session.scalar(select(func.count()).select_from(ExampleResult).where(*conditions)) or 0
    return rows, total
