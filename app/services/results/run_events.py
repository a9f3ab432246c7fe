"""What the end of a run tells others, written in the run's own transaction: the public audit log (a result
published, the result it replaced on the board, a run that failed for good; actor "service") and the
submitter's webhook (a delivery queued here, sent by the caller after the commit)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.db.models import EvaluationResult
from app.db.repositories import results as results_repo
from app.services.intake.run_spec import RunSpec
from app.services.operations.audit import SERVICE, record_event
from app.services.operations.notifications import queue_delivery, queue_for_result


def shown_before(session: Session, spec: RunSpec) -> EvaluationResult | None:
    """The result the board shows for the run's model, benchmark and kind before its result is stored.

    Takes the model row's lock first (``record_result`` takes it too), so a concurrent run of the same model
    cannot change the current result between this read and the store."""
    results_repo.lock_reward_model_by_id(session, spec.reward_model_id)
    return results_repo.current_result(
        session,
        reward_model_id=spec.reward_model_id,
        benchmark=spec.config.benchmark,
        model_type=spec.config.model_type,
    )


def result_stored(
    session: Session, spec: RunSpec, result: EvaluationResult, previous: EvaluationResult | None
) -> list[int | None]:
    """Log the stored result and, when it took the board's place of another, that one's supersession;
    queue the webhooks (this submission's "finished", the replaced result's "superseded")."""
    record_event(
        session,
        actor=SERVICE,
        action="result_published",
        subject="result",
        subject_id=result.id,
        model=spec.hub_id,
        benchmark=result.benchmark,
        detail={
            "result_id": result.id,
            "submission_id": spec.submission_id,
            "model_type": result.model_type,
            "score": result.score,
            "complete": result.complete,
            "current": result.is_current,
            "commit": spec.commit,
        },
    )
    deliveries = [queue_delivery(session, spec.submission_id, "finished")]
    if previous is not None and previous.id != result.id and result.is_current:
        reason = (
            f"Result {result.id}, a newer run of the same model, benchmark and model type, is shown instead."
        )
        record_event(
            session,
            actor=SERVICE,
            action="result_superseded",
            subject="result",
            subject_id=previous.id,
            model=spec.hub_id,
            benchmark=previous.benchmark,
            reason=reason,
            detail={"by_result_id": result.id, "model_type": previous.model_type, "score": previous.score},
        )
        deliveries.append(queue_for_result(session, previous, "superseded", reason=reason))
    return deliveries


def run_failed(session: Session, spec: RunSpec, kind: str, message: str) -> list[int | None]:
    """Log a run that failed for good, with its failure in words; queue the submission's "failed"."""
    record_event(
        session,
        actor=SERVICE,
        action="result_failed",
        subject="submission",
        subject_id=spec.submission_id,
        model=spec.hub_id,
        benchmark=spec.config.benchmark,
        reason=message,
        detail={
            "failure_kind": kind,
            "model_type": spec.config.model_type,
            "submission_id": spec.submission_id,
        },
    )
    return [queue_delivery(session, spec.submission_id, "failed")]
