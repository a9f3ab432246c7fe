"""Submissions API: submit a model, dry-run the checks, follow a submission through the queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from app.api.deps import SessionDep, SettingsDep
from app.db.models import SubmissionStatus
from app.errors import NotFoundError
from app.services import submissions as service
from app.services.hub import HubClient
from app.services.validation import Check, SubmissionRequest, ValidationReport

router = APIRouter(prefix="/submissions", tags=["submissions"])


def get_hub_client(settings: SettingsDep) -> HubClient:
    return HubClient(cache_dir=settings.resolved_weights_cache() / "hub")


def get_session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def get_sender(settings: SettingsDep) -> service.Send:
    from worker.broker import send_evaluation

    return lambda submission_id: send_evaluation(settings, submission_id)


SubmissionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
HubDep = Annotated[HubClient, Depends(get_hub_client)]
FactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
SenderDep = Annotated[service.Send, Depends(get_sender)]


class CheckRead(BaseModel):
    name: str
    ok: bool
    skipped: bool
    message: str


class SubmissionRead(BaseModel):
    id: int
    url: str
    model: str
    model_url: str
    requested_revision: str
    commit: str | None
    model_type: str
    model_type_label: str
    chat_template: str
    benchmark: str
    benchmark_label: str
    extra_parts: list[str]
    partial: bool
    status: str
    failure_kind: str | None
    failure_message: str | None
    progress_done: int
    progress_total: int
    attempt: int
    has_chat_template: bool | None
    sent_to_worker: bool
    queue_position: int | None
    eta_seconds: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class SubmitResponse(BaseModel):
    submission: SubmissionRead
    message: str


class ValidationResponse(BaseModel):
    ok: bool
    model: str
    commit: str | None
    checks: list[CheckRead]


class RejectionResponse(BaseModel):
    detail: str
    checks: list[CheckRead]
    duplicate_url: str | None = None


class QueueRead(BaseModel):
    running: int
    waiting: int
    typical_run_seconds: int
    estimate_is_default: bool


class SubmissionList(BaseModel):
    items: list[SubmissionRead]
    queue: QueueRead


def submission_read(view: service.SubmissionView) -> SubmissionRead:
    return SubmissionRead(url=view.url, model_url=view.model_url, **_fields(view))


def check_reads(checks: list[Check]) -> list[CheckRead]:
    return [CheckRead(name=c.name, ok=c.ok, skipped=c.skipped, message=c.message) for c in checks]


def rejection_response(error: service.SubmissionRejected) -> JSONResponse:
    duplicate = f"/submissions/{error.report.duplicate_of}" if error.report.duplicate_of else None
    body = RejectionResponse(
        detail=error.message, checks=check_reads(error.report.checks), duplicate_url=duplicate
    )
    headers = {"Retry-After": str(error.report.retry_after_s)} if error.report.retry_after_s else None
    return JSONResponse(body.model_dump(), status_code=error.status_code, headers=headers)


_REJECTIONS: dict[int | str, dict[str, Any]] = {
    status: {"model": RejectionResponse, "description": text}
    for status, text in (
        (403, "the model's authors opted out"),
        (409, "already submitted; duplicate_url links to it"),
        (422, "a check failed; detail says which and why"),
        (429, "too many submissions for this namespace; see Retry-After"),
        (503, "the Hub could not be reached; try again"),
    )
}


@router.post("", status_code=201, response_model=SubmitResponse, responses=_REJECTIONS)
def create_submission(
    body: SubmissionRequest, settings: SettingsDep, hub: HubDep, factory: FactoryDep, send: SenderDep
) -> Any:
    """Submit a model for evaluation: every check runs first; accepted submissions are queued."""
    try:
        outcome = service.submit(factory, settings, hub, body, send)
    except service.SubmissionRejected as error:
        return rejection_response(error)
    message = (
        "Queued for evaluation."
        if outcome.sent_to_worker
        else "Accepted. The task queue is not reachable right now; it is queued once it is back."
    )
    content = SubmitResponse(submission=submission_read(outcome.submission), message=message)
    return JSONResponse(
        content.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/api/v1/submissions/{content.submission.id}"},
    )


@router.post("/validate", response_model=ValidationResponse)
def validate_submission(
    body: SubmissionRequest, session: SessionDep, settings: SettingsDep, hub: HubDep
) -> ValidationResponse:
    """Run every submission check without queuing anything."""
    report: ValidationReport = service.check_submission(session, settings, hub, body)
    commit = report.model.sha if report.model else None
    return ValidationResponse(
        ok=report.ok, model=body.model, commit=commit, checks=check_reads(report.checks)
    )


@router.get("", response_model=SubmissionList)
def list_submissions(
    session: SessionDep,
    status: Annotated[SubmissionStatus | None, Query(description="only this status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SubmissionList:
    """Submissions, newest first, with queue positions and ETAs (estimates: one worker, median run time)."""
    views = service.list_submissions(session, status=status, limit=limit)
    overview = service.queue_overview(session, recent=0)
    queue = QueueRead(
        running=len(overview.running),
        waiting=len(overview.waiting),
        typical_run_seconds=overview.typical_run_seconds,
        estimate_is_default=overview.estimate_is_default,
    )
    return SubmissionList(items=[submission_read(view) for view in views], queue=queue)


@router.get(
    "/{submission_id}", response_model=SubmissionRead, responses={404: {"description": "no such submission"}}
)
def get_submission(submission_id: SubmissionId, session: SessionDep) -> SubmissionRead:
    """One submission: status, progress, failure reason, queue position and ETA."""
    view = service.describe(session, submission_id)
    if view is None:
        raise NotFoundError(f"Submission {submission_id} does not exist.")
    return submission_read(view)


def _fields(view: service.SubmissionView) -> dict[str, Any]:
    names = SubmissionRead.model_fields.keys() - {"url", "model_url"}
    return {name: getattr(view, name) for name in names}
