"""Reads of one model: its row, all its results with their subsets, and its scored pairs."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import RowMapping, and_, func, select
from sqlalchemy.orm import Session

from app.db.models import BenchmarkExample, EvaluationResult, PairResult, RewardModel, SubsetResult


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


def subsets_of_results(session: Session, result_ids: Sequence[int]) -> Sequence[SubsetResult]:
    if not result_ids:
        return []
    return session.scalars(select(SubsetResult).where(SubsetResult.result_id.in_(result_ids))).all()


def results_with_pairs(session: Session, result_ids: Sequence[int]) -> set[int]:
    if not result_ids:
        return set()
    statement = select(PairResult.result_id).where(PairResult.result_id.in_(result_ids)).distinct()
    return set(session.scalars(statement))


def pair_page(
    session: Session,
    *,
    result: EvaluationResult,
    subset: str | None,
    wrong_only: bool,
    offset: int,
    limit: int,
) -> tuple[Sequence[RowMapping], int]:
    """Scored pairs of one result in benchmark order, with their texts when stored; and the match count."""
    conditions = [PairResult.result_id == result.id]
    if subset:
        conditions.append(PairResult.subset == subset)
    if wrong_only:
        conditions.append(PairResult.correct.is_(False))
    example = and_(
        BenchmarkExample.benchmark == result.benchmark,
        BenchmarkExample.subset == PairResult.subset,
        BenchmarkExample.example_id == PairResult.example_id,
    )
    statement = (
        select(
            PairResult.subset,
            PairResult.example_id,
            PairResult.score_chosen,
            PairResult.score_rejected,
            PairResult.result,
            PairResult.correct,
            BenchmarkExample.prompt,
            BenchmarkExample.chosen,
            BenchmarkExample.rejected,
        )
        .outerjoin(BenchmarkExample, example)
        .where(*conditions)
        .order_by(PairResult.subset, PairResult.example_id)
        .offset(offset)
        .limit(limit)
    )
    rows = session.execute(statement).mappings().all()
    total = session.scalar(select(func.count()).select_from(PairResult).where(*conditions)) or 0
    return rows, total
