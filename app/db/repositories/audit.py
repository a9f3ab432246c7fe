"""The audit log's table: lines are added, and read newest first; never changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.db.models import AuditEvent


def add_event(session: Session, **values: Any) -> AuditEvent:
    event = AuditEvent(**values)
    session.add(event)
    session.flush()
    return event


def list_events(
    session: Session,
    *,
    limit: int,
    before_id: int | None = None,
    model: str | None = None,
    organisation: str | None = None,
    actions: Sequence[str] = (),
    benchmark: str | None = None,
    since: datetime | None = None,
) -> list[AuditEvent]:
    """Newest first; ``before_id`` pages on; ``organisation`` matches models under ``org/``."""
    statement = select(AuditEvent)
    if before_id is not None:
        statement = statement.where(AuditEvent.id < before_id)
    if model is not None:
        statement = statement.where(func.lower(AuditEvent.model) == model.lower())
    if organisation is not None:
        prefix = organisation.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
        statement = statement.where(func.lower(AuditEvent.model).like(prefix, escape="\\"))
    if actions:
        statement = statement.where(AuditEvent.action.in_(list(actions)))
    if benchmark is not None:
        statement = statement.where(or_(AuditEvent.benchmark == benchmark, AuditEvent.benchmark.is_(None)))
    if since is not None:
        statement = statement.where(AuditEvent.created_at >= since)
    return list(session.scalars(statement.order_by(AuditEvent.id.desc()).limit(limit)))
