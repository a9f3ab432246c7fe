"""Every query about submissions: creating them, the queue, dispatch bookkeeping and the run lease.

The lease is a conditional UPDATE: a run takes a submission only when it is queued or its lease has expired,
and ``attempt`` (incremented on each take) is the fencing token every later write of that run must match.
Functions flush through the session; the caller's unit of work commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Update, and_, func, or_, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.elements import ColumnElement

from app.db.models import RewardModel, Submission, SubmissionStatus
from app.db.repositories.results import get_or_create_reward_model

# Failures that were not the model's fault do not count against the submitter's quota.
INFRASTRUCTURE_FAILURES = ("hub_unreachable", "disk_full", "worker_lost", "internal_error", "timeout")
QUEUE_STATUSES = (SubmissionStatus.PENDING, SubmissionStatus.VALIDATING, SubmissionStatus.QUEUED)
DUPLICATE_STATUSES = (*QUEUE_STATUSES, SubmissionStatus.RUNNING, SubmissionStatus.SUCCEEDED)


@dataclass(frozen=True, slots=True)
class NewSubmission:
    reward_model_id: int
    requested_revision: str
    resolved_commit: str
    model_type: str
    benchmark: str
    run_config: dict[str, Any]
    config_key: str
    has_chat_template: bool | None
    submitter: str | None
    client_address: str | None = None
    queue: str | None = None
    memory_bytes: int | None = None
    iteration_of: str | None = None


def lock_reward_model(session: Session, *, hub_id: str) -> RewardModel:
    """The model row (created if new), locked until the transaction ends (PostgreSQL): concurrent
    submissions of one model take turns, so the duplicate check that follows sees the others' rows."""
    return get_or_create_reward_model(session, hub_id=hub_id)


def add_submission(session: Session, new: NewSubmission) -> Submission:
    """Insert a queued submission (not yet sent to the broker) for a model row the caller holds."""
    submission = Submission(
        reward_model_id=new.reward_model_id,
        requested_revision=new.requested_revision,
        resolved_commit=new.resolved_commit,
        model_type=new.model_type,
        benchmark=new.benchmark,
        run_config=new.run_config,
        config_key=new.config_key,
        has_chat_template=new.has_chat_template,
        submitter=new.submitter,
        client_address=new.client_address,
        queue=new.queue,
        memory_bytes=new.memory_bytes,
        iteration_of=new.iteration_of,
        status=SubmissionStatus.QUEUED,
    )
    session.add(submission)
    session.flush()
    return submission


def get_submission(session: Session, submission_id: int) -> Submission | None:
    statement = (
        select(Submission).options(joinedload(Submission.reward_model)).where(Submission.id == submission_id)
    )
    return session.scalars(statement).one_or_none()


def list_submissions(
    session: Session, *, statuses: Sequence[SubmissionStatus] | None = None, limit: int = 100
) -> list[Submission]:
    """Newest first."""
    statement = select(Submission).options(joinedload(Submission.reward_model))
    if statuses:
        statement = statement.where(Submission.status.in_(statuses))
    statement = statement.order_by(Submission.created_at.desc(), Submission.id.desc()).limit(limit)
    return list(session.scalars(statement))


def find_duplicate(session: Session, *, hub_id: str, commit: str, config_key: str) -> Submission | None:
    statement = (
        select(Submission)
        .join(RewardModel, RewardModel.id == Submission.reward_model_id)
        .where(
            RewardModel.hub_id == hub_id,
            Submission.resolved_commit == commit,
            Submission.config_key == config_key,
            Submission.status.in_(DUPLICATE_STATUSES),
        )
        .order_by(Submission.id)
        .limit(1)
    )
    return session.scalars(statement).first()


def recent_for_namespace(session: Session, *, namespace: str, since: datetime) -> tuple[int, datetime | None]:
    """How many submissions of models under ``namespace/`` were since ``since``; the oldest one's time."""
    statement = (
        select(func.count(Submission.id), func.min(Submission.created_at))
        .join(RewardModel, RewardModel.id == Submission.reward_model_id)
        .where(
            RewardModel.hub_id.startswith(namespace + "/", autoescape=True),
            Submission.created_at >= since,
            Submission.status != SubmissionStatus.CANCELLED,
            or_(
                Submission.status != SubmissionStatus.FAILED,
                Submission.failure_kind.is_(None),
                Submission.failure_kind.not_in(INFRASTRUCTURE_FAILURES),
            ),
        )
    )
    count, oldest = session.execute(statement).one()
    return int(count or 0), oldest


def queue_order(session: Session) -> list[int]:
    """Ids of submissions waiting for a worker, first to run first (moved up by a maintainer, then oldest)."""
    statement = (
        select(Submission.id)
        .where(Submission.status.in_(QUEUE_STATUSES))
        .order_by(Submission.priority.desc(), Submission.created_at, Submission.id)
    )
    return list(session.scalars(statement))


def running(session: Session) -> list[Submission]:
    statement = (
        select(Submission)
        .options(joinedload(Submission.reward_model))
        .where(Submission.status == SubmissionStatus.RUNNING)
        .order_by(Submission.id)
    )
    return list(session.scalars(statement))


def queued_configs(session: Session) -> list[Any]:
    """(id, run_config) of the submissions waiting for a worker."""
    statement = select(Submission.id, Submission.run_config).where(Submission.status.in_(QUEUE_STATUSES))
    return list(session.execute(statement))


def recent_run_durations(session: Session, *, limit: int = 20) -> list[tuple[float, dict[str, Any]]]:
    """Seconds from start to finish of the latest successful runs, with their run configuration."""
    statement = (
        select(Submission.started_at, Submission.finished_at, Submission.run_config)
        .where(
            Submission.status == SubmissionStatus.SUCCEEDED,
            Submission.started_at.is_not(None),
            Submission.finished_at.is_not(None),
        )
        .order_by(Submission.finished_at.desc())
        .limit(limit)
    )
    durations = []
    for started, finished, run_config in session.execute(statement):
        if started is None or finished is None:
            continue
        seconds = (finished - started).total_seconds()
        if seconds >= 0:
            durations.append((seconds, run_config or {}))
    return durations


def _updated_one(session: Session, statement: Update) -> bool:
    """Run a conditional UPDATE; True when it matched exactly the one row it targets."""
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


# Dispatch bookkeeping ------------------------------------------------------------------------------------


def mark_enqueued(session: Session, submission_id: int, *, now: datetime) -> bool:
    """Record that a message was sent, unless another dispatcher already did."""
    statement = (
        update(Submission)
        .where(
            Submission.id == submission_id,
            Submission.status == SubmissionStatus.QUEUED,
            Submission.enqueued_at.is_(None),
        )
        .values(enqueued_at=now)
    )
    return _updated_one(session, statement)


def unmark_enqueued(session: Session, submission_id: int, *, marked_at: datetime) -> None:
    """Undo ``mark_enqueued`` when sending failed, so the reconciler tries again."""
    statement = (
        update(Submission)
        .where(
            Submission.id == submission_id,
            Submission.status == SubmissionStatus.QUEUED,
            Submission.enqueued_at == marked_at,
        )
        .values(enqueued_at=None)
    )
    session.execute(statement)


def undelivered(session: Session, *, created_before: datetime) -> list[int]:
    """Queued submissions committed but never handed to the broker."""
    statement = (
        select(Submission.id)
        .where(
            Submission.status == SubmissionStatus.QUEUED,
            Submission.enqueued_at.is_(None),
            Submission.created_at < created_before,
        )
        .order_by(Submission.id)
    )
    return list(session.scalars(statement))


def expired_leases(session: Session, *, now: datetime) -> list[tuple[int, int]]:
    """(id, attempt) of runs whose worker stopped renewing its lease."""
    statement = (
        select(Submission.id, Submission.attempt)
        .where(Submission.status == SubmissionStatus.RUNNING, Submission.lease_expires_at < now)
        .order_by(Submission.id)
    )
    return [(row[0], row[1]) for row in session.execute(statement)]


def requeue_expired(session: Session, submission_id: int, *, attempt: int, now: datetime) -> bool:
    """Put a run whose lease expired back in the queue, to be dispatched again."""
    statement = (
        update(Submission)
        .where(
            Submission.id == submission_id,
            Submission.attempt == attempt,
            Submission.status == SubmissionStatus.RUNNING,
            Submission.lease_expires_at < now,
        )
        .values(status=SubmissionStatus.QUEUED, lease_owner=None, lease_expires_at=None, enqueued_at=None)
    )
    return _updated_one(session, statement)


def stalled_queue_head(session: Session, *, enqueued_before: datetime) -> int | None:
    """The oldest queued submission, when nothing runs and its message was sent long ago (a lost message)."""
    if session.scalar(select(func.count(Submission.id)).where(Submission.status == SubmissionStatus.RUNNING)):
        return None
    statement = (
        select(Submission.id)
        .where(Submission.status == SubmissionStatus.QUEUED, Submission.enqueued_at < enqueued_before)
        .order_by(Submission.priority.desc(), Submission.created_at, Submission.id)
        .limit(1)
    )
    return session.scalar(statement)


def reset_enqueued(session: Session, submission_id: int, *, enqueued_before: datetime) -> bool:
    statement = (
        update(Submission)
        .where(
            Submission.id == submission_id,
            Submission.status == SubmissionStatus.QUEUED,
            Submission.enqueued_at < enqueued_before,
        )
        .values(enqueued_at=None)
    )
    return _updated_one(session, statement)


# The run lease -------------------------------------------------------------------------------------------


def run_in_slot_of(session: Session, submission_id: int) -> int:
    """Which submission a worker's message for ``submission_id`` runs: that one, unless a maintainer moved
    a waiting submission of its queue above it; then the first of those (the one passed over keeps its
    place and runs in the moved one's own message, or the reconciler's re-send of a stalled head).
    """
    named = session.get(Submission, submission_id)
    if named is None or (named.priority == 0 and named.status != SubmissionStatus.QUEUED):
        return submission_id
    same_queue = Submission.queue.is_(None) if named.queue is None else Submission.queue == named.queue
    waiting = select(Submission.id).where(
        Submission.status == SubmissionStatus.QUEUED, same_queue, Submission.id != submission_id
    )
    if named.status == SubmissionStatus.QUEUED:
        waiting = waiting.where(Submission.priority > named.priority)
    else:
        # A moved-up submission that already ran: its message is a slot for one it was run before.
        waiting = waiting.where(
            Submission.enqueued_at.is_not(None),
            Submission.enqueued_at <= func.coalesce(named.enqueued_at, named.created_at),
        )
    ahead = session.scalars(
        waiting.order_by(Submission.priority.desc(), Submission.created_at, Submission.id).limit(1)
    ).first()
    return submission_id if ahead is None else ahead


def claim_run(
    session: Session, submission_id: int, *, owner: str, now: datetime, lease_seconds: int
) -> int | None:
    """Take the submission for one run; return the new attempt (the fencing token), or None if not ours."""
    statement = (
        update(Submission)
        .where(
            Submission.id == submission_id,
            or_(
                Submission.status == SubmissionStatus.QUEUED,
                and_(Submission.status == SubmissionStatus.RUNNING, Submission.lease_expires_at < now),
            ),
        )
        .values(
            status=SubmissionStatus.RUNNING,
            attempt=Submission.attempt + 1,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            started_at=now,
            progress_done=0,
            progress_total=0,
            progress_subset=None,
            failure_kind=None,
            failure_message=None,
        )
        .returning(Submission.attempt)
    )
    return session.execute(statement).scalar_one_or_none()


def _fenced(submission_id: int, attempt: int) -> tuple[ColumnElement[bool], ...]:
    return (
        Submission.id == submission_id,
        Submission.attempt == attempt,
        Submission.status == SubmissionStatus.RUNNING,
    )


def heartbeat(
    session: Session,
    submission_id: int,
    *,
    attempt: int,
    now: datetime,
    lease_seconds: int,
    done: int,
    total: int,
    subset: str | None = None,
) -> bool:
    """Extend the lease and store progress; False when the run no longer holds the submission."""
    statement = (
        update(Submission)
        .where(*_fenced(submission_id, attempt))
        .values(
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            progress_done=done,
            progress_total=total,
            progress_subset=subset,
        )
    )
    return _updated_one(session, statement)


def _end_run(session: Session, submission_id: int, attempt: int, **values: object) -> bool:
    """A fenced update that also releases the lease: only the run holding attempt ``attempt`` may end it."""
    statement = (
        update(Submission)
        .where(*_fenced(submission_id, attempt))
        .values(lease_owner=None, lease_expires_at=None, **values)
    )
    return _updated_one(session, statement)


def finish_succeeded(session: Session, submission_id: int, *, attempt: int, now: datetime) -> bool:
    return _end_run(
        session,
        submission_id,
        attempt,
        status=SubmissionStatus.SUCCEEDED,
        finished_at=now,
        progress_done=Submission.progress_total,
        progress_subset=None,
    )


def finish_failed(
    session: Session, submission_id: int, *, attempt: int, kind: str, message: str, now: datetime
) -> bool:
    return _end_run(
        session,
        submission_id,
        attempt,
        status=SubmissionStatus.FAILED,
        failure_kind=kind,
        failure_message=message,
        finished_at=now,
    )


def requeue_for_retry(
    session: Session, submission_id: int, *, attempt: int, kind: str, message: str, retry_at: datetime
) -> bool:
    """Give the submission back to the queue after a transient failure; the task sends the retry message."""
    return _end_run(
        session,
        submission_id,
        attempt,
        status=SubmissionStatus.QUEUED,
        failure_kind=kind,
        failure_message=message,
        enqueued_at=retry_at,
    )
