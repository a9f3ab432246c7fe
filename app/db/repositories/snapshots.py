"""Data snapshots: their rows (one per benchmark and date), and the result details and per-example rows a
snapshot copies beside the board's own columns. Functions flush through the session; the caller commits."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session

from app.db.models import DataSnapshot, EvaluationResult, ExampleResult, SubsetScore


@dataclass(frozen=True, slots=True)
class ResultDetail:
    """What a snapshot row holds of a result beyond the board's columns."""

    commit: str | None
    visibility: str
    visibility_reason: str | None
    visibility_link: str | None
    interval_status: str | None
    benchmark_version: str
    config: dict[str, Any]


def result_details(session: Session, result_ids: Sequence[int]) -> dict[int, ResultDetail]:
    details: dict[int, ResultDetail] = {}
    if not result_ids:
        return details
    statement = select(
        EvaluationResult.id,
        EvaluationResult.commit,
        EvaluationResult.visibility,
        EvaluationResult.visibility_reason,
        EvaluationResult.visibility_link,
        EvaluationResult.interval_status,
        EvaluationResult.benchmark_version,
        EvaluationResult.config,
    ).where(EvaluationResult.id.in_(result_ids))
    for row in session.execute(statement):
        details[row.id] = ResultDetail(
            commit=row.commit,
            visibility=str(row.visibility),
            visibility_reason=row.visibility_reason,
            visibility_link=row.visibility_link,
            interval_status=row.interval_status,
            benchmark_version=row.benchmark_version or "",
            config=dict(row.config or {}),
        )
    return details


def subset_values(session: Session, result_ids: Sequence[int]) -> dict[int, dict[str, float]]:
    """Result id -> {subset: value} for some results."""
    values: dict[int, dict[str, float]] = {result_id: {} for result_id in result_ids}
    if result_ids:
        statement = select(SubsetScore.result_id, SubsetScore.subset, SubsetScore.value).where(
            SubsetScore.result_id.in_(result_ids)
        )
        for result_id, subset, value in session.execute(statement):
            values[result_id][subset] = value
    return values


# (id, subset, example id, scores, num_correct, outcome) of one scored example.
ExampleRow = Row[int, str, str, list[float | None], int, float | None]


def example_rows(session: Session, result_id: int, *, batch_rows: int) -> Iterator[Sequence[ExampleRow]]:
    """One result's scored examples, ``batch_rows`` at a time (keyset pages by id), in id order.

    Each page is one query, so no more than a page is held at once however large the result is.
    """
    after = 0
    while True:
        statement = (
            select(
                ExampleResult.id,
                ExampleResult.subset,
                ExampleResult.example_id,
                ExampleResult.scores,
                ExampleResult.num_correct,
                ExampleResult.outcome,
            )
            .where(ExampleResult.result_id == result_id, ExampleResult.id > after)
            .order_by(ExampleResult.id)
            .limit(batch_rows)
        )
        rows = session.execute(statement).all()
        if not rows:
            return
        yield rows
        if len(rows) < batch_rows:
            return
        after = rows[-1].id


def find(session: Session, benchmark: str, snapshot_date: str) -> DataSnapshot | None:
    return session.scalars(
        select(DataSnapshot).where(
            DataSnapshot.benchmark == benchmark, DataSnapshot.snapshot_date == snapshot_date
        )
    ).one_or_none()


def newest(session: Session, benchmark: str) -> DataSnapshot | None:
    return session.scalars(
        select(DataSnapshot)
        .where(DataSnapshot.benchmark == benchmark)
        .order_by(DataSnapshot.snapshot_date.desc())
        .limit(1)
    ).first()


def listed(session: Session, benchmark: str | None = None) -> list[DataSnapshot]:
    """Snapshots newest first (one benchmark's, or all)."""
    statement = select(DataSnapshot).order_by(DataSnapshot.snapshot_date.desc(), DataSnapshot.benchmark)
    if benchmark is not None:
        statement = statement.where(DataSnapshot.benchmark == benchmark)
    return list(session.scalars(statement))


def save(
    session: Session,
    *,
    benchmark: str,
    snapshot_date: str,
    scoring_version: str,
    manifest: dict[str, Any],
    created_by: str,
    created_at: datetime,
) -> DataSnapshot:
    """The snapshot row of (benchmark, date), created or replaced, locked until the transaction ends."""
    row = session.scalars(
        select(DataSnapshot)
        .where(DataSnapshot.benchmark == benchmark, DataSnapshot.snapshot_date == snapshot_date)
        .with_for_update()
    ).one_or_none()
    if row is None:
        row = DataSnapshot(benchmark=benchmark, snapshot_date=snapshot_date)
        session.add(row)
    row.scoring_version = scoring_version
    row.manifest = manifest
    row.created_by = created_by
    row.created_at = created_at
    session.flush()
    return row


def older_than(session: Session, benchmark: str, cutoff_date: str) -> list[DataSnapshot]:
    """A benchmark's snapshots dated before ``cutoff_date`` (YYYY-MM-DD), oldest first."""
    return list(
        session.scalars(
            select(DataSnapshot)
            .where(DataSnapshot.benchmark == benchmark, DataSnapshot.snapshot_date < cutoff_date)
            .order_by(DataSnapshot.snapshot_date)
        )
    )


def remove(session: Session, snapshot_ids: Sequence[int]) -> None:
    if snapshot_ids:
        session.execute(delete(DataSnapshot).where(DataSnapshot.id.in_(snapshot_ids)))
        session.flush()
