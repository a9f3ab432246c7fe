"""Reads behind the plots: stored aggregates of a board's ranked results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, Select, and_, select
from sqlalchemy.orm import Session

from app.db.models import EvaluationResult, RewardModel, SectionScore, SubsetScore
from app.db.repositories.leaderboard import BoardFilter, board_conditions, on_board


def _ranked(board: BoardFilter, *columns: Any) -> Select[Any]:
    """The board's ranked (current, complete) results with the filters of a leaderboard view."""
    return (
        select(
            EvaluationResult.id.label("result_id"),
            RewardModel.hub_id.label("model"),
            RewardModel.display_name,
            EvaluationResult.model_type,
            EvaluationResult.source,
            *columns,
        )
        .join(RewardModel, RewardModel.id == EvaluationResult.reward_model_id)
        .where(
            EvaluationResult.benchmark == board.benchmark,
            EvaluationResult.is_current.is_(True),
            on_board(),
            EvaluationResult.complete.is_(True),
            *board_conditions(
                board,
                model_type=EvaluationResult.model_type,
                model=RewardModel.hub_id,
                display_name=RewardModel.display_name,
                source=EvaluationResult.source,
            ),
        )
    )


def board_scores(session: Session, board: BoardFilter) -> Sequence[RowMapping]:
    """Score, its interval and the parameter count of every ranked result in the view, best first."""
    statement = _ranked(
        board,
        EvaluationResult.score,
        EvaluationResult.score_low,
        EvaluationResult.score_high,
        RewardModel.parameter_count.label("parameters"),
    ).order_by(EvaluationResult.score.desc().nulls_last(), RewardModel.hub_id)
    return session.execute(statement).mappings().all()


def board_section_values(session: Session, board: BoardFilter, section: str) -> Sequence[RowMapping]:
    """One section's stored value (and interval) of every ranked result in the view that has it."""
    statement = _ranked(board, SectionScore.value, SectionScore.low, SectionScore.high).join(
        SectionScore, and_(SectionScore.result_id == EvaluationResult.id, SectionScore.section == section)
    )
    return session.execute(statement).mappings().all()


def board_subset_values(
    session: Session, board: BoardFilter, subset: str | None = None
) -> Sequence[RowMapping]:
    """Stored subset values of every ranked result in the view (one subset, or all of them)."""
    statement = _ranked(board, SubsetScore.subset, SubsetScore.value).join(
        SubsetScore, SubsetScore.result_id == EvaluationResult.id
    )
    if subset is not None:
        statement = statement.where(SubsetScore.subset == subset)
    return session.execute(statement).mappings().all()
