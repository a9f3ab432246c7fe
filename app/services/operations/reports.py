"""Visitors' reports of a result: a reason from a short list and words of their own, limited per client,
kept in the maintainers' inbox until resolved (often by hiding or flagging the result) or dismissed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import Field
from sqlalchemy.orm import Session

from app.db.models import ReportStatus, ResultReport
from app.db.repositories import operations as repo
from app.errors import DomainError, NotFoundError, TryAgainLaterError
from app.services.intake.client_limits import Submitter
from app.services.operations.audit import record_event
from app.services.operations.maintainers import Actor
from app.services.operations.moderation import ModerationError

REASONS: dict[str, str] = {
    "wrong_score": "The numbers look wrong (a bug, a wrong template or setting)",
    "contamination": "The model was trained on the benchmark's data",
    "wrong_model": "The wrong model, revision or kind was evaluated",
    "author_removal": "I am the model's author and ask for its removal",
    "abuse": "Spam, abuse or an offensive name",
    "other": "Something else",
}
MAX_TEXT = 4000
REPORTS_PER_WINDOW = 5
WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ReportView:
    id: int
    result_id: int
    reason: str
    reason_text: str
    text: str
    reporter: Annotated[
        str | None, Field(description="the signed-in reporter, if any (addresses are never shown)")
    ]
    status: str
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None


def view(report: ResultReport) -> ReportView:
    return ReportView(
        id=report.id,
        result_id=report.result_id,
        reason=report.reason,
        reason_text=REASONS.get(report.reason, report.reason),
        text=report.text,
        reporter=report.reporter,
        status=report.status.value,
        created_at=report.created_at,
        resolved_at=report.resolved_at,
        resolved_by=report.resolved_by,
        resolution=report.resolution,
    )


def submit_report(
    session: Session, submitter: Submitter, result_id: int, *, reason: str, text: str
) -> ReportView:
    """Record a visitor's report; at most REPORTS_PER_WINDOW an hour per address and per signed-in user."""
    if reason not in REASONS:
        raise DomainError(f"reason must be one of {', '.join(REASONS)}", 422)
    words = text.strip()
    if reason == "other" and not words:
        raise DomainError("Say what is wrong: the reason 'other' needs a few words.", 422)
    if len(words) > MAX_TEXT:
        raise DomainError(f"The text has {len(words)} characters; at most {MAX_TEXT}.", 422)
    result = repo.result_with_model(session, result_id)
    if result is None:
        raise NotFoundError(f"There is no result {result_id}.")
    now = datetime.now(UTC)
    recent = repo.recent_reports(session, address=submitter.address, user=submitter.user, since=now - WINDOW)
    if recent >= REPORTS_PER_WINDOW:
        raise TryAgainLaterError(
            f"You have sent {recent} reports in the last hour (the limit is {REPORTS_PER_WINDOW}). "
            "Please try again later.",
            status_code=429,
            retry_after_s=int(WINDOW.total_seconds()),
        )
    report = repo.add_report(
        session,
        ResultReport(
            result_id=result_id,
            reason=reason,
            text=words,
            reporter=submitter.user,
            client_address=submitter.address,
            created_at=now,
        ),
    )
    record_event(
        session,
        actor=submitter.user or "visitor",
        action="report_received",
        subject="report",
        subject_id=report.id,
        model=result.reward_model.hub_id,
        benchmark=result.benchmark,
        reason=REASONS[reason],
        detail={"result_id": result_id},
        now=now,
    )
    return view(report)


def inbox(session: Session, *, status: ReportStatus | None = ReportStatus.OPEN) -> list[ReportView]:
    return [view(report) for report in repo.reports(session, status=status)]


def close_report(
    session: Session, actor: Actor, report_id: int, *, status: ReportStatus, resolution: str
) -> ReportView:
    """Resolve (acted on) or dismiss (no action) an open report, with words for the log."""
    report = repo.report(session, report_id)
    if report is None:
        raise NotFoundError(f"There is no report {report_id}.")
    if report.status != ReportStatus.OPEN:
        raise ModerationError(f"Report {report_id} is already {report.status.value}.")
    if status == ReportStatus.OPEN:
        raise DomainError("A report is closed as resolved or dismissed.", 422)
    result = repo.result_with_model(session, report.result_id)
    now = datetime.now(UTC)
    report.status = status
    report.resolved_at = now
    report.resolved_by = actor.name
    report.resolution = resolution.strip() or None
    session.flush()
    record_event(
        session,
        actor=actor.name,
        action="report_resolved" if status == ReportStatus.RESOLVED else "report_dismissed",
        subject="report",
        subject_id=report_id,
        model=result.reward_model.hub_id if result is not None else None,
        benchmark=result.benchmark if result is not None else None,
        reason=report.resolution,
        detail={"result_id": report.result_id},
        now=now,
    )
    return view(report)
