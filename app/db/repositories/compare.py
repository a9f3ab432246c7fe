"""Reads for comparing models: their current results on a benchmark, stored values, examples and texts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import RowMapping, case, select, tuple_
from sqlalchemy.orm import Session

from app.db.models import (
    BenchmarkExample,
    EvaluationResult,
    ExampleResult,
    ResultSource,
    RewardModel,
    SectionScore,
    SubsetScore,
)
from app.db.repositories.leaderboard import on_board


def current_results(session: Session, benchmark: str, hub_ids: Sequence[str]) -> Sequence[RowMapping]:
    """The current results of these models on a benchmark: per model, complete ones first, then by Score."""
    coverage = case((EvaluationResult.complete.is_(True), 0), else_=1)
    preference = case((EvaluationResult.source == ResultSource.EVALUATED, 0), else_=1)
    statement = (
        select(
            EvaluationResult.id.label("result_id"),
            RewardModel.hub_id.label("model"),
            RewardModel.display_name,
            EvaluationResult.model_type,
            EvaluationResult.score,
            EvaluationResult.score_low,
            EvaluationResult.score_high,
            EvaluationResult.interval_status,
            EvaluationResult.complete,
            EvaluationResult.source,
            EvaluationResult.scoring_version,
        )
        .join(RewardModel, RewardModel.id == EvaluationResult.reward_model_id)
        .where(
            EvaluationResult.benchmark == benchmark,
            EvaluationResult.is_current.is_(True),
            on_board(),
            RewardModel.hub_id.in_(hub_ids),
        )
        .order_by(
            RewardModel.hub_id,
            coverage,
            preference,
            EvaluationResult.score.desc().nulls_last(),
            EvaluationResult.id,
        )
    )
    return session.execute(statement).mappings().all()


def section_rows(session: Session, result_ids: Sequence[int]) -> Sequence[SectionScore]:
    return session.scalars(select(SectionScore).where(SectionScore.result_id.in_(result_ids))).all()


def subset_rows(session: Session, result_ids: Sequence[int]) -> Sequence[SubsetScore]:
    return session.scalars(select(SubsetScore).where(SubsetScore.result_id.in_(result_ids))).all()


def example_rows(
    session: Session, result_ids: Sequence[int], subset: str | None = None
) -> Sequence[RowMapping]:
    """(result id, subset, example id, scores, num_correct, outcome) of the results' stored examples."""
    statement = select(
        ExampleResult.result_id,
        ExampleResult.subset,
        ExampleResult.example_id,
        ExampleResult.scores,
        ExampleResult.num_correct,
        ExampleResult.outcome,
    ).where(ExampleResult.result_id.in_(result_ids))
    if subset is not None:
        statement = statement.where(ExampleResult.subset == subset)
    return session.execute(statement.order_by(ExampleResult.id)).mappings().all()


def texts(
    session: Session, benchmark: str, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], RowMapping]:
    """Stored benchmark texts of (subset, example id) keys."""
    wanted = list(keys)
    if not wanted:
        return {}
    statement = select(
        BenchmarkExample.subset,
        BenchmarkExample.example_id,
        BenchmarkExample.prompt,
        BenchmarkExample.conversation,
        BenchmarkExample.candidates,
        BenchmarkExample.num_correct,
    ).where(
        BenchmarkExample.benchmark == benchmark,
        tuple_(BenchmarkExample.subset, BenchmarkExample.example_id).in_(wanted),
    )
    return {(row["subset"], row["example_id"]): row for row in session.execute(statement).mappings()}
