"""Queries of the submission intake: limit locks, recent counts per key, and case-insensitive model lookups.

Hub ids are case-insensitive, so every comparison of a model id or namespace here folds case. The counts
leave out cancelled submissions and failures that were not the model's fault, as the namespace quota always
has.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.db.models import RewardModel, Submission, SubmissionLimitLock, SubmissionStatus
from app.db.repositories.submissions import DUPLICATE_STATUSES, INFRASTRUCTURE_FAILURES


def lock_limit_keys(session: Session, keys: Iterable[str]) -> None:
    """Hold the limit locks of ``keys`` until the transaction ends; call it first in the transaction.

    The rows are created if new and locked in key order, so two transactions never wait on each other in a
    cycle. On PostgreSQL they are row locks (FOR UPDATE); on SQLite the first statement is a write, so the
    transaction holds the database's write lock from its start and every count after it is current.
    """
    ordered = sorted(set(keys))
    if not ordered:
        return
    rows = [{"key": key} for key in ordered]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(SubmissionLimitLock).values(rows).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(SubmissionLimitLock).values(rows).on_conflict_do_nothing())
    else:  # pragma: no cover - only PostgreSQL and SQLite are supported
        raise NotImplementedError(dialect)
    statement = (
        select(SubmissionLimitLock.key)
        .where(SubmissionLimitLock.key.in_(ordered))
        .order_by(SubmissionLimitLock.key)
        .with_for_update()
    )
    session.execute(statement).all()


def _counted(since: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        Submission.created_at >= since,
        Submission.status != SubmissionStatus.CANCELLED,
        or_(
            Submission.status != SubmissionStatus.FAILED,
            Submission.failure_kind.is_(None),
            Submission.failure_kind.not_in(INFRASTRUCTURE_FAILURES),
        ),
    )


def recent_for_namespace(session: Session, *, namespace: str, since: datetime) -> tuple[int, datetime | None]:
    """Submissions since ``since`` of models under ``namespace/`` in any casing; the oldest one's time."""
    statement = (
        select(func.count(Submission.id), func.min(Submission.created_at))
        .join(RewardModel, RewardModel.id == Submission.reward_model_id)
        .where(
            func.lower(RewardModel.hub_id).startswith(namespace.lower() + "/", autoescape=True),
            *_counted(since),
        )
    )
    count, oldest = session.execute(statement).one()
    return int(count or 0), oldest


def recent_for_client(
    session: Session, *, address: str | None, user: str | None, since: datetime
) -> tuple[int, datetime | None]:
    """Submissions since ``since`` from this address or this signed-in user; the oldest one's time."""
    who: list[ColumnElement[bool]] = []
    if address:
        who.append(Submission.client_address == address)
    if user:
        who.append(func.lower(Submission.submitter) == user.lower())
    if not who:
        return 0, None
    statement = select(func.count(Submission.id), func.min(Submission.created_at)).where(
        or_(*who), *_counted(since)
    )
    count, oldest = session.execute(statement).one()
    return int(count or 0), oldest


def stored_hub_id(session: Session, hub_id: str) -> str | None:
    """The id a model is stored under when it is known here in any casing (the oldest row wins)."""
    statement = (
        select(RewardModel.hub_id)
        .where(func.lower(RewardModel.hub_id) == hub_id.lower())
        .order_by(RewardModel.id)
        .limit(1)
    )
    return session.scalar(statement)


def find_duplicate(session: Session, *, hub_id: str, commit: str, config_key: str) -> Submission | None:
    """A queued, running or succeeded submission of this model (any casing), commit and configuration."""
    statement = (
        select(Submission)
        .join(RewardModel, RewardModel.id == Submission.reward_model_id)
        .where(
            func.lower(RewardModel.hub_id) == hub_id.lower(),
            Submission.resolved_commit == commit,
            Submission.config_key == config_key,
            Submission.status.in_(DUPLICATE_STATUSES),
        )
        .order_by(Submission.id)
        .limit(1)
    )
    return session.scalars(statement).first()
