"""Leaderboard reads: only stored aggregates (evaluation_result + is_current), never pair_result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.db.models import EvaluationResult, ResultSource, RewardModel, SubsetResult

SECTION_COLUMNS: dict[str, str] = {
    "Chat": "chat",
    "Chat Hard": "chat_hard",
    "Safety": "safety",
    "Reasoning": "reasoning",
}
SORT_COLUMNS: dict[str, str] = {
    "rank": "rank",
    "model": "model",
    "type": "model_type",
    "score": "score",
    "chat": "chat",
    "chat_hard": "chat_hard",
    "safety": "safety",
    "reasoning": "reasoning",
    "prior_sets": "prior_sets",
    "parameters": "parameters",
    "source": "source",
    "date": "created_at",
}


OrderValue = ColumnElement[Any] | InstrumentedAttribute[Any]


def _current_results(order_value: OrderValue) -> Select[*tuple[Any, ...]]:
    statement: Select[*tuple[Any, ...]] = (
        select(
            EvaluationResult.id.label("result_id"),
            RewardModel.hub_id.label("model"),
            RewardModel.display_name,
            EvaluationResult.model_type,
            EvaluationResult.score,
            EvaluationResult.chat,
            EvaluationResult.chat_hard,
            EvaluationResult.safety,
            EvaluationResult.reasoning,
            EvaluationResult.prior_sets,
            RewardModel.parameter_count.label("parameters"),
            EvaluationResult.source,
            EvaluationResult.source_detail,
            EvaluationResult.revision,
            EvaluationResult.scoring_version,
            EvaluationResult.created_at,
            func.rank().over(order_by=order_value.desc().nulls_last()).label("rank"),
        )
        .join(RewardModel, RewardModel.id == EvaluationResult.reward_model_id)
        .where(EvaluationResult.is_current.is_(True))
    )
    return statement


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def leaderboard_rows(
    session: Session,
    *,
    sort: str,
    descending: bool,
    model_type: str | None,
    search: str | None,
    source: ResultSource | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[RowMapping], int]:
    """One page of current results, ranked by Score, filtered and sorted; and the count of all matches."""
    ranked = _current_results(EvaluationResult.score).subquery()
    conditions: list[ColumnElement[bool]] = []
    if model_type:
        conditions.append(ranked.c.model_type == model_type)
    if search:
        pattern = f"%{_escape_like(search)}%"
        conditions.append(
            or_(
                ranked.c.model.ilike(pattern, escape="\\"),
                ranked.c.display_name.ilike(pattern, escape="\\"),
            )
        )
    if source is not None:
        conditions.append(ranked.c.source == source)
    column = ranked.c[SORT_COLUMNS[sort]]
    ordering = column.desc().nulls_last() if descending else column.asc().nulls_last()
    statement = select(ranked).where(*conditions).order_by(ordering, ranked.c.model)
    rows = session.execute(statement.offset(offset).limit(limit)).mappings().all()
    total = session.scalar(select(func.count()).select_from(ranked).where(*conditions)) or 0
    return rows, total


def section_ranking(session: Session, section: str) -> Sequence[RowMapping]:
    """Current results ranked on one section's stored score (models without it are left out)."""
    value = getattr(EvaluationResult, SECTION_COLUMNS[section])
    statement = _current_results(value).add_columns(value.label("value")).where(value.is_not(None))
    return session.execute(statement.order_by(value.desc(), RewardModel.hub_id)).mappings().all()


def subset_ranking(session: Session, subset: str) -> Sequence[RowMapping]:
    """Current results ranked on one subset's stored accuracy."""
    value = SubsetResult.accuracy
    statement = (
        _current_results(value)
        .add_columns(value.label("value"))
        .join(SubsetResult, SubsetResult.result_id == EvaluationResult.id)
        .where(SubsetResult.subset == subset)
        .order_by(value.desc(), RewardModel.hub_id)
    )
    return session.execute(statement).mappings().all()


def current_model_types(session: Session) -> list[str]:
    statement = (
        select(EvaluationResult.model_type)
        .where(EvaluationResult.is_current.is_(True))
        .distinct()
        .order_by(EvaluationResult.model_type)
    )
    return list(session.scalars(statement))


def data_version(session: Session) -> tuple[int, int, int, int]:
    """(results, max result id, models, max model id): changes when a result or model is added or removed."""
    results = select(func.count(EvaluationResult.id), func.coalesce(func.max(EvaluationResult.id), 0))
    models = select(func.count(RewardModel.id), func.coalesce(func.max(RewardModel.id), 0))
    result_count, result_max = session.execute(results).one()
    model_count, model_max = session.execute(models).one()
    return int(result_count), int(result_max), int(model_count), int(model_max)


def has_any_result(session: Session) -> bool:
    return session.scalar(select(EvaluationResult.id).limit(1)) is not None
