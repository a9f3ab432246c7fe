"""Queries for health and metrics: the database round trip, worker heartbeats, and the counts of queued,
running and finished submissions that /metrics reports. Functions flush; the caller's unit of work commits."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from app.db.models import Submission, SubmissionStatus, WorkerHeartbeat

QUEUES_COLUMN_LENGTH = 500


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def ping(session: Session) -> None:
    """One round trip to the database; raises when it cannot answer."""
    session.execute(text("SELECT 1")).scalar_one()


@dataclass(frozen=True, slots=True)
class Heartbeat:
    worker: str
    queues: tuple[str, ...]
    started_at: datetime
    seen_at: datetime


def record_heartbeat(
    session: Session, *, worker: str, queues: Sequence[str], now: datetime, starting: bool = False
) -> None:
    """The worker is alive now; ``starting`` also sets when it started (a new process, same node name)."""
    joined = ",".join(queues)[:QUEUES_COLUMN_LENGTH]
    row = session.get(WorkerHeartbeat, worker)
    if row is None:
        session.add(WorkerHeartbeat(worker=worker, queues=joined, started_at=now, seen_at=now))
    else:
        row.queues = joined
        row.seen_at = now
        if starting:
            row.started_at = now
    session.flush()


def forget_heartbeat(session: Session, *, worker: str) -> None:
    """A worker that stops cleanly leaves no heartbeat behind."""
    session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker == worker))
    session.flush()


def prune_heartbeats(session: Session, *, seen_before: datetime) -> int:
    """Forget workers not seen since ``seen_before`` (killed, or renamed by a new container)."""
    result = session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < seen_before))
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def heartbeats(session: Session) -> list[Heartbeat]:
    """Every worker's last heartbeat, the freshest first."""
    rows = session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.seen_at.desc()))
    return [
        Heartbeat(
            worker=row.worker,
            queues=tuple(name for name in row.queues.split(",") if name),
            started_at=_aware(row.started_at),
            seen_at=_aware(row.seen_at),
        )
        for row in rows
    ]


def queue_depths(session: Session) -> dict[str, int]:
    """Submissions waiting for a worker, per queue (a worker class)."""
    statement = (
        select(Submission.queue, func.count())
        .where(Submission.status == SubmissionStatus.QUEUED)
        .group_by(Submission.queue)
    )
    return {queue or "": int(count) for queue, count in session.execute(statement)}


def runs_by_state(session: Session) -> list[tuple[str, str, int]]:
    """(state, failure kind or "", submissions) for every state and failure kind that has any."""
    statement = select(Submission.status, Submission.failure_kind, func.count()).group_by(
        Submission.status, Submission.failure_kind
    )
    counts: dict[tuple[str, str], int] = {}
    for status, failure_kind, count in session.execute(statement):
        state = status.value if isinstance(status, SubmissionStatus) else str(status)
        key = (state, (failure_kind or "") if state == SubmissionStatus.FAILED.value else "")
        counts[key] = counts.get(key, 0) + int(count)
    return [(state, kind, count) for (state, kind), count in sorted(counts.items())]


def finished_run_durations(session: Session) -> Iterator[tuple[str, str, float]]:
    """(kind, benchmark, seconds from start to finish) of every run that succeeded, streamed."""
    statement = (
        select(Submission.model_type, Submission.benchmark, Submission.started_at, Submission.finished_at)
        .where(
            Submission.status == SubmissionStatus.SUCCEEDED,
            Submission.started_at.is_not(None),
            Submission.finished_at.is_not(None),
        )
        .execution_options(yield_per=1000)
    )
    for kind, benchmark, started, finished in session.execute(statement):
        if started is None or finished is None:
            continue
        seconds = (_aware(finished) - _aware(started)).total_seconds()
        if seconds >= 0:
            yield kind, benchmark, seconds
