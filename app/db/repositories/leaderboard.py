"""Leaderboard reads: only stored aggregates (current results, their section and subset rows).

Section values are rows; a board pivots the sections its benchmark names into columns ``section_0``...,
one outer join each on the (result, section) unique index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, RowMapping, Select, and_, cast, func, null, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from app.db.models import EvaluationResult, ResultSource, RewardModel, SectionScore, SubsetScore

OrderValue = ColumnElement[Any] | InstrumentedAttribute[Any]
# Sort keys that are not sections, and the row column each orders by.
PLAIN_SORT_COLUMNS: dict[str, str] = {
    "rank": "rank",
    "model": "model",
    "type": "model_type",
    "score": "score",
    "parameters": "parameters",
    "source": "source",
    "date": "created_at",
}


@dataclass(frozen=True, slots=True)
class BoardFilter:
    benchmark: str
    model_type: str | None = None
    search: str | None = None
    source: ResultSource | None = None
    partial: bool = False  # False: the ranked board (complete results); True: partial runs, unranked
    # Model types kept off this board (and its ranks): shown apart, only when their type is asked for.
    apart_types: tuple[str, ...] = ()


def _current_results(board: BoardFilter, order_value: OrderValue) -> Select[Any]:
    ranked = not board.partial
    rank = func.rank().over(order_by=order_value.desc().nulls_last()) if ranked else None
    columns: list[Any] = [
        EvaluationResult.id.label("result_id"),
        RewardModel.hub_id.label("model"),
        RewardModel.display_name,
        RewardModel.hub_repo,
        EvaluationResult.model_type,
        EvaluationResult.benchmark,
        EvaluationResult.score,
        EvaluationResult.complete,
        EvaluationResult.published_score,
        EvaluationResult.published_formula,
        RewardModel.parameter_count.label("parameters"),
        EvaluationResult.source,
        EvaluationResult.source_detail,
        EvaluationResult.revision,
        EvaluationResult.scoring_version,
        EvaluationResult.created_at,
        (rank if rank is not None else cast(null(), Integer)).label("rank"),
    ]
    statement = (
        select(*columns)
        .join(RewardModel, RewardModel.id == EvaluationResult.reward_model_id)
        .where(
            EvaluationResult.benchmark == board.benchmark,
            EvaluationResult.is_current.is_(True),
            EvaluationResult.complete.is_(ranked),
        )
    )
    if board.apart_types:
        statement = statement.where(EvaluationResult.model_type.not_in(board.apart_types))
    return statement


def _with_sections(statement: Select[Any], sections: Sequence[str]) -> Select[Any]:
    for index, section in enumerate(sections):
        value = aliased(SectionScore, name=f"section_row_{index}")
        statement = statement.add_columns(value.value.label(f"section_{index}")).outerjoin(
            value, and_(value.result_id == EvaluationResult.id, value.section == section)
        )
    return statement


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def leaderboard_rows(
    session: Session,
    board: BoardFilter,
    *,
    sections: Sequence[str],
    sort: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[Sequence[RowMapping], int]:
    """One page of current results of a benchmark, ranked by Score, filtered and sorted; and the match count.

    ``sort`` is a key of ``PLAIN_SORT_COLUMNS`` or ``section_<i>`` for the i-th of ``sections``.
    """
    ranked = _with_sections(_current_results(board, EvaluationResult.score), sections).subquery()
    conditions: list[ColumnElement[bool]] = []
    if board.model_type:
        conditions.append(ranked.c.model_type == board.model_type)
    if board.search:
        pattern = f"%{_escape_like(board.search)}%"
        conditions.append(
            or_(
                ranked.c.model.ilike(pattern, escape="\\"),
                ranked.c.display_name.ilike(pattern, escape="\\"),
            )
        )
    if board.source is not None:
        conditions.append(ranked.c.source == board.source)
    column = ranked.c[PLAIN_SORT_COLUMNS.get(sort, sort)]
    ordering = column.desc().nulls_last() if descending else column.asc().nulls_last()
    statement = select(ranked).where(*conditions).order_by(ordering, ranked.c.model, ranked.c.model_type)
    rows = session.execute(statement.offset(offset).limit(limit)).mappings().all()
    total = session.scalar(select(func.count()).select_from(ranked).where(*conditions)) or 0
    return rows, total


def count_current(session: Session, board: BoardFilter) -> int:
    statement = select(func.count()).select_from(_current_results(board, EvaluationResult.score).subquery())
    return session.scalar(statement) or 0


def section_ranking(session: Session, *, benchmark: str, section: str) -> Sequence[RowMapping]:
    """Ranked current results on one section's stored value (results without it are left out)."""
    value = aliased(SectionScore, name="ranked_section")
    statement = (
        _current_results(BoardFilter(benchmark), value.value)
        .add_columns(value.value.label("value"))
        .join(value, and_(value.result_id == EvaluationResult.id, value.section == section))
        .order_by(value.value.desc(), RewardModel.hub_id)
    )
    return session.execute(statement).mappings().all()


def subset_ranking(session: Session, *, benchmark: str, subset: str) -> Sequence[RowMapping]:
    """Ranked current results on one subset's stored value."""
    value = SubsetScore.value
    statement = (
        _current_results(BoardFilter(benchmark), value)
        .add_columns(value.label("value"))
        .join(SubsetScore, SubsetScore.result_id == EvaluationResult.id)
        .where(SubsetScore.subset == subset)
        .order_by(value.desc(), RewardModel.hub_id)
    )
    return session.execute(statement).mappings().all()


def current_model_types(session: Session, benchmark: str) -> list[str]:
    statement = (
        select(EvaluationResult.model_type)
        .where(EvaluationResult.is_current.is_(True), EvaluationResult.benchmark == benchmark)
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
