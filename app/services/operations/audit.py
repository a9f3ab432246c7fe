"""The public audit log: every maintainer action and every change of a result's state, who, what, when, why.

Lines are written in the transaction of the change they describe (so a rolled-back change leaves no line)
and never changed afterwards. Actions are named in ``ACTIONS``; the changelog page, its JSON and the Atom
feeds read them back through ``changelog``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy.orm import Session

from app.db.models import AuditEvent
from app.db.repositories import audit as repo

SERVICE = "service"

# action -> what the changelog says of it (the subject follows).
ACTIONS: dict[str, str] = {
    "result_published": "result published",
    "result_superseded": "result superseded",
    "result_failed": "run failed",
    "result_hidden": "result hidden",
    "result_unhidden": "result shown again",
    "result_flagged": "result flagged",
    "result_unflagged": "flag removed",
    "submission_cancelled": "submission cancelled",
    "submission_retried": "submission queued again",
    "submission_moved_up": "submission moved up the queue",
    "model_deleted": "model and its results deleted",
    "namespace_updated": "namespace policy changed",
    "report_received": "report received",
    "report_resolved": "report resolved",
    "report_dismissed": "report dismissed",
    "stale_rerun": "stale result queued again",
    "snapshot_made": "data snapshot made",
}


@dataclass(frozen=True, slots=True)
class ChangelogEntry:
    id: int
    at: datetime
    actor: Annotated[
        str, Field(description="a maintainer's Hub name, operator, service, or the visitor who reported")
    ]
    action: str
    summary: str
    subject: str
    subject_id: str | None
    model: str | None
    benchmark: str | None
    reason: str | None
    link: str | None
    detail: dict[str, Any]


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    subject_id: str | int | None = None,
    model: str | None = None,
    benchmark: str | None = None,
    reason: str | None = None,
    link: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Add one line to the log in the caller's transaction (flushed, not committed)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    return repo.add_event(
        session,
        created_at=now or datetime.now(UTC),
        actor=actor,
        action=action,
        subject=subject,
        subject_id=None if subject_id is None else str(subject_id),
        model=model,
        benchmark=benchmark,
        reason=reason,
        link=link,
        detail=detail or {},
    )


def changelog(
    session: Session,
    *,
    limit: int = 50,
    before_id: int | None = None,
    model: str | None = None,
    organisation: str | None = None,
    actions: Sequence[str] = (),
    benchmark: str | None = None,
) -> list[ChangelogEntry]:
    """The newest lines first, filtered; page on with ``before_id`` (the last id seen)."""
    events = repo.list_events(
        session,
        limit=limit,
        before_id=before_id,
        model=model,
        organisation=organisation,
        actions=actions,
        benchmark=benchmark,
    )
    return [entry_of(event) for event in events]


def entry_of(event: AuditEvent) -> ChangelogEntry:
    at = event.created_at if event.created_at.tzinfo else event.created_at.replace(tzinfo=UTC)
    return ChangelogEntry(
        id=event.id,
        at=at,
        actor=event.actor,
        action=event.action,
        summary=ACTIONS.get(event.action, event.action.replace("_", " ")),
        subject=event.subject,
        subject_id=event.subject_id,
        model=event.model,
        benchmark=event.benchmark,
        reason=event.reason,
        link=event.link,
        detail=dict(event.detail or {}),
    )
