"""Maintainers' reads and writes: moderation of results, the queue, namespace policies and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from app.db.models import (
    EvaluationResult,
    NamespacePolicy,
    ReportStatus,
    ResultReport,
    ResultSource,
    RewardModel,
    Submission,
    SubmissionStatus,
)

WAITING = (SubmissionStatus.PENDING, SubmissionStatus.VALIDATING, SubmissionStatus.QUEUED)
ENDED = (SubmissionStatus.FAILED, SubmissionStatus.CANCELLED)


def result_with_model(session: Session, result_id: int) -> EvaluationResult | None:
    statement = (
        select(EvaluationResult)
        .options(joinedload(EvaluationResult.reward_model))
        .where(EvaluationResult.id == result_id)
    )
    return session.scalars(statement).first()


def set_visibility(session: Session, result_id: int, **values: Any) -> None:
    session.execute(update(EvaluationResult).where(EvaluationResult.id == result_id).values(**values))


def submission_with_model(session: Session, submission_id: int, *, lock: bool = False) -> Submission | None:
    statement = (
        select(Submission).options(joinedload(Submission.reward_model)).where(Submission.id == submission_id)
    )
    if lock:
        statement = statement.with_for_update(of=Submission)
    return session.scalars(statement).first()


def queue_listing(session: Session, *, limit: int = 200) -> list[Submission]:
    """Waiting and running submissions: running first, then in the order the workers take them."""
    running_first = case((Submission.status == SubmissionStatus.RUNNING, 0), else_=1)
    statement = (
        select(Submission)
        .options(joinedload(Submission.reward_model))
        .where(Submission.status.in_((*WAITING, SubmissionStatus.RUNNING)))
        .order_by(running_first, Submission.priority.desc(), Submission.created_at, Submission.id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def top_priority(session: Session, queue: str | None) -> int:
    statement = select(func.coalesce(func.max(Submission.priority), 0)).where(Submission.status.in_(WAITING))
    if queue is not None:
        statement = statement.where(Submission.queue == queue)
    return int(session.execute(statement).scalar_one())


def update_submission(session: Session, submission_id: int, **values: Any) -> None:
    session.execute(update(Submission).where(Submission.id == submission_id).values(**values))


def model_by_hub_id(session: Session, hub_id: str) -> RewardModel | None:
    statement = select(RewardModel).where(func.lower(RewardModel.hub_id) == hub_id.lower())
    return session.scalars(statement).first()


def model_counts(session: Session, reward_model_id: int) -> tuple[int, int]:
    """(submissions, results) of a model."""
    submissions = select(func.count(Submission.id)).where(Submission.reward_model_id == reward_model_id)
    results = select(func.count(EvaluationResult.id)).where(
        EvaluationResult.reward_model_id == reward_model_id
    )
    return int(session.execute(submissions).scalar_one()), int(session.execute(results).scalar_one())


def delete_model(session: Session, reward_model_id: int) -> None:
    """The model with its submissions and results (and their sections, subsets, examples and reports)."""
    session.execute(
        update(RewardModel).where(RewardModel.iteration_of_id == reward_model_id).values(iteration_of_id=None)
    )
    result_ids = select(EvaluationResult.id).where(EvaluationResult.reward_model_id == reward_model_id)
    session.execute(
        update(EvaluationResult)
        .where(EvaluationResult.superseded_by_id.in_(result_ids))
        .values(superseded_by_id=None)
    )
    session.execute(delete(EvaluationResult).where(EvaluationResult.reward_model_id == reward_model_id))
    session.execute(delete(Submission).where(Submission.reward_model_id == reward_model_id))
    session.execute(delete(RewardModel).where(RewardModel.id == reward_model_id))


def stale_results(session: Session, *, benchmark: str, scoring_version: str) -> list[EvaluationResult]:
    """Current results evaluated here under an older scoring version, with the submission that made them."""
    statement = (
        select(EvaluationResult)
        .options(joinedload(EvaluationResult.reward_model))
        .where(
            EvaluationResult.benchmark == benchmark,
            EvaluationResult.is_current.is_(True),
            EvaluationResult.source == ResultSource.EVALUATED,
            EvaluationResult.submission_id.is_not(None),
            EvaluationResult.scoring_version != scoring_version,
        )
        .order_by(EvaluationResult.id)
    )
    return list(session.scalars(statement))


def waiting_rerun_of(session: Session, *, reward_model_id: int, commit: str | None, config_key: str) -> bool:
    """A waiting or running submission of the same commit and settings exists (a re-run already queued)."""
    statement = select(Submission.id).where(
        Submission.reward_model_id == reward_model_id,
        Submission.config_key == config_key,
        Submission.status.in_((*WAITING, SubmissionStatus.RUNNING)),
        or_(Submission.resolved_commit == commit, Submission.resolved_commit.is_(None)),
    )
    return session.scalars(statement.limit(1)).first() is not None


def namespace_policy(session: Session, namespace: str) -> NamespacePolicy | None:
    return session.get(NamespacePolicy, namespace.lower())


def namespace_policies(session: Session) -> list[NamespacePolicy]:
    return list(session.scalars(select(NamespacePolicy).order_by(NamespacePolicy.namespace)))


def upsert_namespace_policy(session: Session, namespace: str, **values: Any) -> NamespacePolicy:
    policy = session.get(NamespacePolicy, namespace.lower())
    if policy is None:
        policy = NamespacePolicy(namespace=namespace.lower(), **values)
        session.add(policy)
    else:
        for key, value in values.items():
            setattr(policy, key, value)
    session.flush()
    return policy


def add_report(session: Session, report: ResultReport) -> ResultReport:
    session.add(report)
    session.flush()
    return report


def recent_reports(session: Session, *, address: str, user: str | None, since: datetime) -> int:
    clauses = [ResultReport.client_address == address]
    if user:
        clauses.append(func.lower(ResultReport.reporter) == user.lower())
    statement = select(func.count(ResultReport.id)).where(or_(*clauses), ResultReport.created_at >= since)
    return int(session.execute(statement).scalar_one())


def reports(session: Session, *, status: ReportStatus | None, limit: int = 200) -> list[ResultReport]:
    statement = select(ResultReport)
    if status is not None:
        statement = statement.where(ResultReport.status == status)
    statement = statement.order_by(ResultReport.created_at.desc(), ResultReport.id.desc()).limit(limit)
    return list(session.scalars(statement))


def report(session: Session, report_id: int) -> ResultReport | None:
    return session.get(ResultReport, report_id)


def open_report_count(session: Session) -> int:
    statement = select(func.count(ResultReport.id)).where(ResultReport.status == ReportStatus.OPEN)
    return int(session.execute(statement).scalar_one())
