"""Webhook deliveries: one row per (submission, event), claimed for a try by a conditional update.

A try is claimed by moving ``next_attempt_at`` past the try's own duration and counting it in ``attempts``,
only while the row is pending and due, so two senders (a redelivered message, the reconciler) never send
one row at once. The outcome is written only by the try that claimed it (fenced by ``attempts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload

from app.db.models import DeliveryStatus, Submission, WebhookDelivery


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: int
    submission_id: int
    event: str
    payload: dict[str, Any]
    attempt: int
    webhook_url: str | None
    webhook_secret: str | None


def insert_delivery(
    session: Session, *, submission_id: int, event: str, payload: dict[str, Any], now: datetime
) -> int | None:
    """A pending delivery due now; None when the submission already has one for this event."""
    insert_fn = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert_fn(WebhookDelivery)
        .values(
            submission_id=submission_id,
            event=event,
            payload=payload,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["submission_id", "event"])
        .returning(WebhookDelivery.id)
    )
    return session.execute(statement).scalar_one_or_none()


def submission_with_model(session: Session, submission_id: int) -> Submission | None:
    """The submission as stored now (fresh from the database, even if this session loaded it before)."""
    statement = (
        select(Submission)
        .options(joinedload(Submission.reward_model))
        .where(Submission.id == submission_id)
        .execution_options(populate_existing=True)
    )
    return session.scalars(statement).one_or_none()


def claim(
    session: Session, delivery_id: int, *, now: datetime, hold_until: datetime
) -> ClaimedDelivery | None:
    """Take a due, pending delivery for one try; None when it is delivered, failed, or not due (another try
    holds it or its next try is later)."""
    statement = (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
            or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
        )
        .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=hold_until)
        .returning(WebhookDelivery.attempts)
    )
    attempt = session.execute(statement).scalar_one_or_none()
    if attempt is None:
        return None
    row = session.execute(
        select(WebhookDelivery, Submission.webhook_url, Submission.webhook_secret)
        .join(Submission, Submission.id == WebhookDelivery.submission_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one()
    delivery, url, secret = row
    return ClaimedDelivery(
        id=delivery.id,
        submission_id=delivery.submission_id,
        event=delivery.event,
        payload=dict(delivery.payload or {}),
        attempt=attempt,
        webhook_url=url,
        webhook_secret=secret,
    )


def record_try(
    session: Session,
    delivery_id: int,
    *,
    attempt: int,
    status: DeliveryStatus,
    response_status: int | None,
    last_error: str | None,
    next_attempt_at: datetime | None,
    delivered_at: datetime | None,
) -> bool:
    """Store a try's outcome; False when another try claimed the row since (this outcome is dropped)."""
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.attempts == attempt,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
        .values(
            status=status,
            response_status=response_status,
            last_error=last_error,
            next_attempt_at=next_attempt_at,
            delivered_at=delivered_at,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def due(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Pending deliveries whose next try is due, oldest due first."""
    statement = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def for_submission(session: Session, submission_id: int) -> list[WebhookDelivery]:
    statement = (
        select(WebhookDelivery)
        .where(WebhookDelivery.submission_id == submission_id)
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
    )
    return list(session.scalars(statement))


def get_delivery(session: Session, delivery_id: int) -> WebhookDelivery | None:
    return session.get(WebhookDelivery, delivery_id)
