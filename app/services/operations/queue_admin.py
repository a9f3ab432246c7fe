"""Maintainers' work on the queue: cancel, retry, move up, and re-run every result whose scoring version
is stale. Each opens its own unit of work and sends to the broker only after it committed (as submitting
does); the reconciler sends whatever a down broker kept back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import Submission, SubmissionStatus
from app.db.repositories import operations as repo
from app.db.repositories import submissions as submissions_repo
from app.db.session import unit_of_work
from app.errors import NotFoundError
from app.services.intake.submissions import Send, dispatch
from app.services.operations.audit import record_event
from app.services.operations.maintainers import Actor
from app.services.operations.moderation import ModerationError
from worker.engine.benchmarks import BENCHMARKS, get_benchmark

Factory = sessionmaker[Session]
CANCELLABLE = (*repo.WAITING, SubmissionStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    id: int
    model: str
    benchmark: str
    model_type: str
    status: str
    queue: str | None
    priority: int
    created_at: datetime
    progress_done: int
    progress_total: int


@dataclass(slots=True)
class RerunReport:
    queued: list[int] = field(default_factory=list)  # new submission ids
    already_waiting: list[int] = field(default_factory=list)  # result ids with a re-run on its way


def queue_entries(session: Session) -> list[QueueEntry]:
    return [
        QueueEntry(
            id=item.id,
            model=item.reward_model.hub_id,
            benchmark=item.benchmark,
            model_type=item.model_type,
            status=item.status.value,
            queue=item.queue,
            priority=item.priority,
            created_at=item.created_at,
            progress_done=item.progress_done,
            progress_total=item.progress_total,
        )
        for item in repo.queue_listing(session)
    ]


def _submission(session: Session, submission_id: int) -> Submission:
    submission = repo.submission_with_model(session, submission_id, lock=True)
    if submission is None:
        raise NotFoundError(f"There is no submission {submission_id}.")
    return submission


def _log(session: Session, actor: Actor, action: str, submission: Submission, reason: str | None) -> None:
    record_event(
        session,
        actor=actor.name,
        action=action,
        subject="submission",
        subject_id=submission.id,
        model=submission.reward_model.hub_id,
        benchmark=submission.benchmark,
        reason=reason or None,
        detail={"model_type": submission.model_type, "status": submission.status.value},
    )


def cancel(factory: Factory, actor: Actor, submission_id: int, *, reason: str) -> None:
    """Stop a waiting or running submission; a running one's worker loses its lease and stops."""
    with unit_of_work(factory) as session:
        submission = _submission(session, submission_id)
        if submission.status not in CANCELLABLE:
            raise ModerationError(
                f"Submission {submission_id} is {submission.status.value}; only waiting or running ones can "
                "be cancelled."
            )
        _log(session, actor, "submission_cancelled", submission, reason)
        repo.update_submission(
            session,
            submission_id,
            status=SubmissionStatus.CANCELLED,
            failure_kind="cancelled",
            failure_message=_cancel_message(reason),
            finished_at=datetime.now(UTC),
            lease_owner=None,
            lease_expires_at=None,
        )


def retry(factory: Factory, send: Send, settings: Settings, actor: Actor, submission_id: int) -> bool:
    """Queue a failed or cancelled submission again (same commit and settings); True if it reached the
    broker now."""
    with unit_of_work(factory) as session:
        submission = _submission(session, submission_id)
        if submission.status not in repo.ENDED:
            raise ModerationError(
                f"Submission {submission_id} is {submission.status.value}; only failed or cancelled ones can "
                "be retried."
            )
        _log(session, actor, "submission_retried", submission, None)
        repo.update_submission(
            session,
            submission_id,
            status=SubmissionStatus.QUEUED,
            failure_kind=None,
            failure_message=None,
            finished_at=None,
            enqueued_at=None,
            progress_done=0,
            progress_total=0,
            progress_subset=None,
        )
    return dispatch(factory, send, submission_id, settings)


def move_up(factory: Factory, actor: Actor, submission_id: int) -> int:
    """Put a waiting submission first in its queue; returns its new priority."""
    with unit_of_work(factory) as session:
        submission = _submission(session, submission_id)
        if submission.status not in repo.WAITING:
            raise ModerationError(
                f"Submission {submission_id} is {submission.status.value}; only waiting ones can move up."
            )
        priority = repo.top_priority(session, submission.queue) + 1
        _log(session, actor, "submission_moved_up", submission, None)
        repo.update_submission(session, submission_id, priority=priority)
        return priority


def rerun_stale(
    factory: Factory, send: Send, settings: Settings, actor: Actor, *, benchmark: str | None = None
) -> RerunReport:
    """Queue a new run (same commit and settings) of every current result evaluated under an older scoring
    version; a result whose re-run is already waiting is left alone, so calling twice queues once."""
    report = RerunReport()
    benchmarks = [get_benchmark(benchmark).id] if benchmark else list(BENCHMARKS)
    with unit_of_work(factory) as session:
        for benchmark_id in benchmarks:
            version = get_benchmark(benchmark_id).current_scoring_version
            for result in repo.stale_results(session, benchmark=benchmark_id, scoring_version=version):
                origin = submissions_repo.get_submission(session, result.submission_id or 0)
                if origin is None:
                    continue
                if repo.waiting_rerun_of(
                    session,
                    reward_model_id=origin.reward_model_id,
                    commit=origin.resolved_commit,
                    config_key=origin.config_key,
                ):
                    report.already_waiting.append(result.id)
                    continue
                new = submissions_repo.add_submission(
                    session,
                    submissions_repo.NewSubmission(
                        reward_model_id=origin.reward_model_id,
                        requested_revision=origin.requested_revision,
                        resolved_commit=origin.resolved_commit or origin.requested_revision,
                        model_type=origin.model_type,
                        benchmark=origin.benchmark,
                        run_config=dict(origin.run_config),
                        config_key=origin.config_key,
                        has_chat_template=origin.has_chat_template,
                        submitter=actor.name,
                        queue=origin.queue,
                        memory_bytes=origin.memory_bytes,
                        iteration_of=origin.iteration_of,
                    ),
                )
                record_event(
                    session,
                    actor=actor.name,
                    action="stale_rerun",
                    subject="result",
                    subject_id=result.id,
                    model=result.reward_model.hub_id,
                    benchmark=benchmark_id,
                    reason=f"scored under {result.scoring_version}; the current version is {version}",
                    detail={"submission_id": new.id, "model_type": result.model_type},
                )
                report.queued.append(new.id)
    for submission_id in report.queued:
        dispatch(factory, send, submission_id, settings)
    return report


def _cancel_message(reason: str) -> str:
    reason = reason.strip()
    return f"Cancelled by a maintainer: {reason}" if reason else "Cancelled by a maintainer."
