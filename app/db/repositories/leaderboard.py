"""Leaderboard reads: only stored aggregates (current results, their section and subset rows).

Section values are rows. A board page is chosen on the results' own columns (plus the one section it is
sorted by, joined on the (result, section) unique index); the sections of the rows on the page are then
read in one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, RowMapping, Select, and_, cast, func, null, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from app.db.models import (
    AuditEvent,
    EvaluationResult,
    ResultSource,
    ResultVisibility,
    RewardModel,
    SectionScore,
    SubsetScore,
)

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
    hidden: bool = False  # True: the results maintainers hid, listed apart and unranked
    # Model types kept off this board (and its ranks): shown apart, only when their type is asked for.
    apart_types: tuple[str, ...] = ()


def on_board() -> ColumnElement[bool]:
    """Results a board lists: every visible or flagged one (hidden ones only behind their own filter)."""
    return EvaluationResult.visibility != ResultVisibility.HIDDEN


def _current_results(board: BoardFilter, order_value: OrderValue) -> Select[Any]:
    ranked = not board.partial and not board.hidden
    rank = func.rank().over(order_by=order_value.desc().nulls_last()) if ranked else None
    columns: list[Any] = [
        EvaluationResult.id.label("result_id"),
        RewardModel.hub_id.label("model"),
        RewardModel.display_name,
        RewardModel.hub_repo,
        EvaluationResult.model_type,
        EvaluationResult.benchmark,
        EvaluationResult.score,
        EvaluationResult.score_low,
        EvaluationResult.score_high,
        EvaluationResult.interval_status,
        EvaluationResult.complete,
        EvaluationResult.published_score,
        EvaluationResult.published_formula,
        RewardModel.parameter_count.label("parameters"),
        RewardModel.active_parameter_count.label("stored_active_parameters"),
        EvaluationResult.source,
        EvaluationResult.source_detail,
        EvaluationResult.revision,
        EvaluationResult.scoring_version,
        EvaluationResult.created_at,
        EvaluationResult.visibility,
        EvaluationResult.visibility_reason,
        EvaluationResult.visibility_link,
        (rank if rank is not None else cast(null(), Integer)).label("rank"),
    ]
    statement = (
        select(*columns)
        .join(RewardModel, RewardModel.id == EvaluationResult.reward_model_id)
        .where(
            EvaluationResult.benchmark == board.benchmark,
            EvaluationResult.is_current.is_(True),
            EvaluationResult.visibility == ResultVisibility.HIDDEN if board.hidden else on_board(),
        )
    )
    if not board.hidden:
        statement = statement.where(EvaluationResult.complete.is_(not board.partial))
    if board.apart_types:
        statement = statement.where(EvaluationResult.model_type.not_in(board.apart_types))
    return statement


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(board: BoardFilter, columns: Any) -> list[ColumnElement[bool]]:
    """The board's filters over ``columns`` (a subquery's ``.c``): model type, search, source."""
    return board_conditions(
        board,
        model_type=columns.model_type,
        model=columns.model,
        display_name=columns.display_name,
        source=columns.source,
    )


def board_conditions(
    board: BoardFilter, *, model_type: Any, model: Any, display_name: Any, source: Any
) -> list[ColumnElement[bool]]:
    """The view's filters (model type, search in the id and name, source) over the given columns."""
    conditions: list[ColumnElement[bool]] = []
    if board.model_type:
        conditions.append(model_type == board.model_type)
    if board.search:
        pattern = f"%{_escape_like(board.search)}%"
        conditions.append(or_(model.ilike(pattern, escape="\\"), display_name.ilike(pattern, escape="\\")))
    if board.source is not None:
        conditions.append(source == board.source)
    return conditions


def leaderboard_rows(
    session: Session,
    board: BoardFilter,
    *,
    sort: str,
    sort_section: str | None,
    descending: bool,
    offset: int,
    limit: int,
) -> Sequence[RowMapping]:
    """One page of current results of a benchmark, ranked by Score, filtered and sorted.

    ``sort`` is a key of ``PLAIN_SORT_COLUMNS``, or "section" to sort by the value of ``sort_section``.
    Ranks are over the whole board, before the filters.
    """
    base = _current_results(board, EvaluationResult.score)
    if sort_section is not None:
        value = aliased(SectionScore, name="sorted_section")
        base = base.add_columns(value.value.label("section")).outerjoin(
            value, and_(value.result_id == EvaluationResult.id, value.section == sort_section)
        )
    ranked = base.subquery()
    column = ranked.c[PLAIN_SORT_COLUMNS.get(sort, sort)]
    ordering = column.desc().nulls_last() if descending else column.asc().nulls_last()
    statement = (
        select(ranked)
        .where(*_filters(board, ranked.c))
        .order_by(ordering, ranked.c.model, ranked.c.model_type)
        .offset(offset)
        .limit(limit)
    )
    return session.execute(statement).mappings().all()


@dataclass(frozen=True, slots=True)
class ListedCounts:
    total: int  # current results matching the board's filters (of the list asked for)
    partial: int  # current partial results of the benchmark (listed apart)
    hidden: int  # current results maintainers hid (listed apart)


def count_listed(session: Session, board: BoardFilter) -> ListedCounts:
    """The board's total (of its partial or hidden list when asked for) and the lists apart, in one query."""
    query = (
        select(
            EvaluationResult.complete,
            EvaluationResult.visibility,
            RewardModel.hub_id.label("model"),
            RewardModel.display_name,
            EvaluationResult.model_type,
            EvaluationResult.source,
        )
        .join(RewardModel, RewardModel.id == EvaluationResult.reward_model_id)
        .where(EvaluationResult.benchmark == board.benchmark, EvaluationResult.is_current.is_(True))
    )
    if board.apart_types:
        query = query.where(EvaluationResult.model_type.not_in(board.apart_types))
    members = query.subquery()
    hidden = members.c.visibility == ResultVisibility.HIDDEN
    listed = hidden if board.hidden else and_(~hidden, members.c.complete.is_(not board.partial))
    statement = select(
        func.count().filter(listed, *_filters(board, members.c)),
        func.count().filter(members.c.complete.is_(False), ~hidden),
        func.count().filter(hidden),
    ).select_from(members)
    total, partial, hidden_count = session.execute(statement).one()
    return ListedCounts(int(total or 0), int(partial or 0), int(hidden_count or 0))


@dataclass(frozen=True, slots=True)
class SectionValue:
    value: float
    low: float | None
    high: float | None


def section_values(session: Session, result_ids: Sequence[int]) -> dict[int, dict[str, SectionValue]]:
    """The section values (with their intervals) of some results: result id -> {section: value}."""
    values: dict[int, dict[str, SectionValue]] = {result_id: {} for result_id in result_ids}
    if result_ids:
        statement = select(
            SectionScore.result_id,
            SectionScore.section,
            SectionScore.value,
            SectionScore.low,
            SectionScore.high,
        ).where(SectionScore.result_id.in_(result_ids))
        for result_id, section, value, low, high in session.execute(statement):
            values[result_id][section] = SectionValue(value, low, high)
    return values


def ranked_score_bounds(session: Session, benchmark: str) -> list[tuple[int, float, float, float]]:
    """(result id, Score, low, high) of every ranked result of a benchmark; low = high = Score without an
    interval."""
    statement = select(
        EvaluationResult.id,
        EvaluationResult.score,
        func.coalesce(EvaluationResult.score_low, EvaluationResult.score),
        func.coalesce(EvaluationResult.score_high, EvaluationResult.score),
    ).where(
        EvaluationResult.benchmark == benchmark,
        EvaluationResult.is_current.is_(True),
        EvaluationResult.complete.is_(True),
        EvaluationResult.score.is_not(None),
        on_board(),
    )
    rows = session.execute(statement).all()
    return [(row[0], float(row[1] or 0.0), float(row[2]), float(row[3])) for row in rows]


def section_ranking(session: Session, *, benchmark: str, section: str) -> Sequence[RowMapping]:
    """Ranked current results on one section's stored value (results without it are left out)."""
    value = aliased(SectionScore, name="ranked_section")
    statement = (
        _current_results(BoardFilter(benchmark), value.value)
        .add_columns(value.value.label("value"), value.low.label("low"), value.high.label("high"))
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


def data_version(session: Session) -> tuple[int, int, int, int, int]:
    """(results, max result id, models, max model id, last audit line): changes when a result or model is
    added or removed, and with every logged change of state (a result hidden, flagged or superseded)."""
    results = select(func.count(EvaluationResult.id), func.coalesce(func.max(EvaluationResult.id), 0))
    models = select(func.count(RewardModel.id), func.coalesce(func.max(RewardModel.id), 0))
    result_count, result_max = session.execute(results).one()
    model_count, model_max = session.execute(models).one()
    audit_max = session.execute(select(func.coalesce(func.max(AuditEvent.id), 0))).scalar_one()
    return int(result_count), int(result_max), int(model_count), int(model_max), int(audit_max)


def has_any_result(session: Session) -> bool:
    return session.scalar(select(EvaluationResult.id).limit(1)) is not None
