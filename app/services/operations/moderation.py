"""Maintainers' decisions about results and models: hide (off the board, with a public reason and an
optional link), flag (listed with a mark and the reason), show again, supersede by a newer result, and
delete a model with all its submissions and results on its author's request. Each writes its audit line
in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.db.models import EvaluationResult, ResultVisibility
from app.db.repositories import operations as repo
from app.db.repositories import results as results_repo
from app.errors import DomainError, NotFoundError
from app.services.operations.audit import record_event
from app.services.operations.maintainers import Actor
from app.services.operations.notifications import queue_for_result

MAX_REASON = 2000


class ModerationError(DomainError):
    status_code = 409


def _result(session: Session, result_id: int) -> EvaluationResult:
    result = repo.result_with_model(session, result_id)
    if result is None:
        raise NotFoundError(f"There is no result {result_id}.")
    return result


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise DomainError("Give a reason: it is shown to visitors beside the result.", 422)
    return text[:MAX_REASON]


def change_visibility(
    session: Session,
    actor: Actor,
    result_id: int,
    visibility: ResultVisibility,
    *,
    reason: str,
    link: str | None = None,
) -> EvaluationResult:
    """Hide, flag or show a result again (``visible``); the reason is public, and required except to show."""
    result = _result(session, result_id)
    if result.visibility == visibility:
        raise ModerationError(f"Result {result_id} is already {visibility.value}.")
    previous = result.visibility
    text = _reason(reason) if visibility != ResultVisibility.VISIBLE else reason.strip() or None
    now = datetime.now(UTC)
    repo.set_visibility(
        session,
        result_id,
        visibility=visibility,
        visibility_reason=text if visibility != ResultVisibility.VISIBLE else None,
        visibility_link=link if visibility != ResultVisibility.VISIBLE else None,
        visibility_changed_at=now,
    )
    shown_again = "result_unhidden" if previous == ResultVisibility.HIDDEN else "result_unflagged"
    action = {
        ResultVisibility.HIDDEN: "result_hidden",
        ResultVisibility.FLAGGED: "result_flagged",
        ResultVisibility.VISIBLE: shown_again,
    }[visibility]
    record_event(
        session,
        actor=actor.name,
        action=action,
        subject="result",
        subject_id=result_id,
        model=result.reward_model.hub_id,
        benchmark=result.benchmark,
        reason=text,
        link=link,
        detail={"model_type": result.model_type, "from": previous.value, "to": visibility.value},
        now=now,
    )
    if visibility != ResultVisibility.VISIBLE:
        # Sent by the reconciler's next pass (within its interval and grace), after this commit.
        queue_for_result(session, result, visibility.value, reason=text)
    session.refresh(result)
    return result


def supersede(
    session: Session, actor: Actor, result_id: int, *, by_result_id: int, reason: str
) -> EvaluationResult:
    """Replace a result on the board by a newer one of the same model, benchmark and type."""
    old, new = _result(session, result_id), _result(session, by_result_id)
    if result_id == by_result_id:
        raise ModerationError("A result cannot supersede itself.")
    same_scope = (old.reward_model_id, old.benchmark, old.model_type) == (
        new.reward_model_id,
        new.benchmark,
        new.model_type,
    )
    if not same_scope:
        raise ModerationError(
            f"Result {by_result_id} is not of the same model, benchmark and model type as result {result_id}."
        )
    if new.superseded_by_id is not None:
        raise ModerationError(f"Result {by_result_id} is itself superseded.")
    if old.superseded_by_id == by_result_id:
        raise ModerationError(f"Result {result_id} is already superseded by result {by_result_id}.")
    text = _reason(reason)
    repo.set_visibility(session, result_id, superseded_by_id=by_result_id)
    results_repo.refresh_current_result(
        session, reward_model_id=old.reward_model_id, benchmark=old.benchmark, model_type=old.model_type
    )
    record_event(
        session,
        actor=actor.name,
        action="result_superseded",
        subject="result",
        subject_id=result_id,
        model=old.reward_model.hub_id,
        benchmark=old.benchmark,
        reason=text,
        detail={"by_result_id": by_result_id, "model_type": old.model_type},
    )
    queue_for_result(session, old, "superseded", reason=text)
    session.refresh(old)
    return old


def delete_model(session: Session, actor: Actor, hub_id: str, *, reason: str) -> dict[str, int]:
    """Delete a model, its submissions and results (the author asked); the audit log keeps its name."""
    model = repo.model_by_hub_id(session, hub_id)
    if model is None:
        raise NotFoundError(f"There is no model {hub_id} on this board.")
    text = _reason(reason)
    submissions, results = repo.model_counts(session, model.id)
    name = model.hub_id
    repo.delete_model(session, model.id)
    counts = {"submissions": submissions, "results": results}
    record_event(
        session,
        actor=actor.name,
        action="model_deleted",
        subject="model",
        model=name,
        reason=text,
        detail=counts,
    )
    return counts
