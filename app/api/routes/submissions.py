"""Submissions API: submit a model, dry-run the checks, follow a submission through the queue."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from app.api.admin_auth import current_maintainer
from app.api.deps import SessionDep, SettingsDep
from app.api.routes.admin_endpoints import require_endpoint_submitter
from app.config import Settings
from app.db.models import SubmissionStatus
from app.errors import DomainError, NotFoundError
from app.services.intake import submissions as service
from app.services.intake.client_limits import RequestLimiter, Submitter, submitter_of
from app.services.intake.hub import HubClient
from app.services.intake.hub_gate import Deadline, HubGate
from app.services.intake.validation import Check, SubmissionRequest, ValidationReport
from app.services.operations import notifications

router = APIRouter(prefix="/submissions", tags=["submissions"])


async def get_hub_client(settings: SettingsDep) -> HubClient:
    return HubClient(cache_dir=settings.resolved_weights_cache() / "hub", timeout=settings.hub_timeout_s)


async def get_hub_gate(request: Request) -> HubGate:
    gate: HubGate = request.app.state.hub_gate
    return gate


async def get_check_limiter(request: Request) -> RequestLimiter:
    limiter: RequestLimiter = request.app.state.check_limiter
    return limiter


async def get_submitter(request: Request) -> Submitter:
    """The client, marked as a maintainer (signed in on the list, or with the operator token) if one."""
    client = submitter_of(request)
    actor = current_maintainer(request)
    if actor is None:
        return client
    return replace(client, user=client.user or actor.name, maintainer=True)


def get_session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def get_sender(settings: SettingsDep) -> service.Send:
    from worker.broker import send_evaluation

    return lambda submission_id, route: send_evaluation(settings, submission_id, route)


SubmissionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
HubDep = Annotated[HubClient, Depends(get_hub_client)]
FactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
SenderDep = Annotated[service.Send, Depends(get_sender)]
GateDep = Annotated[HubGate, Depends(get_hub_gate)]
CheckLimiterDep = Annotated[RequestLimiter, Depends(get_check_limiter)]
SubmitterDep = Annotated[Submitter, Depends(get_submitter)]


async def admit_checks(settings: Settings, limiter: RequestLimiter, submitter: Submitter) -> None:
    """Before any Hub check: sign-in when required, and the client's limit on checks (429)."""
    if submitter.maintainer:
        return
    if settings.submit_requires_sign_in and submitter.user is None:
        raise DomainError("Sign in with Hugging Face (/auth/login) to check or submit a model.", 401)
    await limiter.hit(submitter.limit_keys())


class CheckRead(BaseModel):
    name: str
    ok: bool
    skipped: bool
    message: str


class WebhookDeliveryRead(BaseModel):
    id: int = Field(description="also the X-RewardBoard-Delivery header, the same on every try")
    event: str = Field(description="finished, failed, flagged, hidden or superseded")
    status: str = Field(description="pending (sending or waiting for its next try), delivered or failed")
    attempts: int
    response_status: int | None = Field(description="the receiver's last HTTP status, if it answered")
    last_error: str | None = Field(description="why the last try did not deliver, in words")
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


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
    settings: dict[str, Any]
    iteration_of: str | None
    queue: str | None
    benchmark: str
    benchmark_label: str
    extra_parts: list[str]
    max_length: int | None = Field(
        description="tokens a text keeps, or a judge's prompt and answer may use (None: its own context)"
    )
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
    webhook_host: str | None = Field(
        default=None, description="the host the outcome is POSTed to (never the URL's path or the secret)"
    )
    webhook_deliveries: list[WebhookDeliveryRead] | None = Field(
        default=None, description="GET /submissions/{id} only: its notifications, oldest first"
    )


class SubmitResponse(BaseModel):
    submission: SubmissionRead
    message: str
    webhook_secret: str | None = Field(
        default=None,
        description="the generated webhook secret (the HMAC-SHA256 key of X-RewardBoard-Signature): shown "
        "only in this answer, keep it; null when you gave one or asked for no webhook",
    )


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


def submission_read(
    view: service.SubmissionView, deliveries: list[notifications.DeliveryView] | None = None
) -> SubmissionRead:
    webhook_deliveries = (
        [WebhookDeliveryRead.model_validate(delivery, from_attributes=True) for delivery in deliveries]
        if deliveries is not None
        else None
    )
    return SubmissionRead(
        url=view.url, model_url=view.model_url, webhook_deliveries=webhook_deliveries, **_fields(view)
    )


def check_reads(checks: list[Check]) -> list[CheckRead]:
    return [CheckRead(name=c.name, ok=c.ok, skipped=c.skipped, message=c.message) for c in checks]


def rejection_response(error: service.SubmissionRejected) -> JSONResponse:
    return report_response(error.report, error.message, error.status_code)


def report_response(report: ValidationReport, message: str, status_code: int) -> JSONResponse:
    duplicate = f"/submissions/{report.duplicate_of}" if report.duplicate_of else None
    body = RejectionResponse(detail=message, checks=check_reads(report.checks), duplicate_url=duplicate)
    headers = {"Retry-After": str(report.retry_after_s)} if report.retry_after_s else None
    return JSONResponse(body.model_dump(), status_code=status_code, headers=headers)


_REJECTIONS: dict[int | str, dict[str, Any]] = {
    status: {"model": RejectionResponse, "description": text}
    for status, text in (
        (403, "the model's authors opted out, or a judge on an endpoint from a signed-in non-maintainer"),
        (409, "already submitted; duplicate_url links to it"),
        (422, "a check failed; detail says which and why"),
        (401, "sign-in is required to submit here, or a maintainer's for a judge on an endpoint"),
        (429, "too many submissions for this namespace or this client; see Retry-After"),
        (503, "the Hub could not be reached, is slow, or too many checks are running; see Retry-After"),
    )
}


@router.post("", status_code=201, response_model=SubmitResponse, responses=_REJECTIONS)
async def create_submission(
    request: Request,
    body: SubmissionRequest,
    settings: SettingsDep,
    hub: HubDep,
    factory: FactoryDep,
    send: SenderDep,
    gate: GateDep,
    limiter: CheckLimiterDep,
    submitter: SubmitterDep,
) -> Any:
    """Submit a model for evaluation: every check runs first; accepted submissions are queued. Judges on
    endpoints (GET /api/v1/admin/endpoints) are submitted by maintainers only."""
    require_endpoint_submitter(request, body.model_type)
    await admit_checks(settings, limiter, submitter)

    def job(deadline: Deadline) -> service.SubmitOutcome:
        return service.submit(factory, settings, hub, body, send, submitter=submitter, deadline=deadline)

    try:
        outcome = await gate.run(job)
    except service.SubmissionRejected as error:
        return rejection_response(error)
    message = (
        "Queued for evaluation."
        if outcome.sent_to_worker
        else "Accepted. The task queue is not reachable right now; it is queued once it is back."
    )
    content = SubmitResponse(
        submission=submission_read(outcome.submission), message=message, webhook_secret=outcome.webhook_secret
    )
    return JSONResponse(
        content.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/api/v1/submissions/{content.submission.id}"},
    )


@router.post(
    "/validate",
    response_model=ValidationResponse,
    responses={status: _REJECTIONS[status] for status in (401, 429, 503)},
)
async def validate_submission(
    request: Request,
    body: SubmissionRequest,
    settings: SettingsDep,
    hub: HubDep,
    factory: FactoryDep,
    gate: GateDep,
    limiter: CheckLimiterDep,
    submitter: SubmitterDep,
) -> Any:
    """Run every submission check without queuing anything. 503 when the Hub could not answer."""
    require_endpoint_submitter(request, body.model_type)
    await admit_checks(settings, limiter, submitter)

    def job(deadline: Deadline) -> ValidationReport:
        return service.check_submission(factory, settings, hub, body, submitter=submitter, deadline=deadline)

    report = await gate.run(job)
    unreachable = next((check for check in report.checks if check.http_status == 503 and not check.ok), None)
    if unreachable is not None:
        return report_response(report, unreachable.message, 503)
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
    """One submission: status, progress, failure reason, queue position and ETA, and its webhook's host and
    deliveries (never the secret)."""
    view = service.describe(session, submission_id)
    if view is None:
        raise NotFoundError(f"Submission {submission_id} does not exist.")
    deliveries = notifications.deliveries(session, submission_id) if view.webhook_host else None
    return submission_read(view, deliveries)


def _fields(view: service.SubmissionView) -> dict[str, Any]:
    names = SubmissionRead.model_fields.keys() - {"url", "model_url", "webhook_deliveries"}
    return {name: getattr(view, name) for name in names}
