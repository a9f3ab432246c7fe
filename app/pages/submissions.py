"""Submission pages: the /submit form (CSRF-protected), the /queue and one submission's status page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.api.admin_auth import current_maintainer
from app.api.deps import SessionDep, SettingsDep
from app.api.routes.admin_endpoints import require_endpoint_submitter
from app.api.routes.submissions import (
    CheckLimiterDep,
    FactoryDep,
    GateDep,
    HubDep,
    SenderDep,
    SubmitterDep,
    admit_checks,
)
from app.config import Settings
from app.db.session import unit_of_work
from app.errors import DomainError, NotFoundError
from app.http.csrf import csrf_ok
from app.pages.forms import expired_form, form_page
from app.services.intake import submissions as service
from app.services.intake.hub_gate import Deadline
from app.services.intake.validation import SubmissionRequest, ValidationReport
from app.services.operations.notifications import deliveries
from app.services.presentation.live import live_status
from app.templating import templates
from worker.engine.benchmarks import BENCHMARKS, DEFAULT_BENCHMARK
from worker.engine.kinds import DEFAULT_KIND, KINDS

router = APIRouter(include_in_schema=False)


def _form_page(
    request: Request,
    settings: Settings,
    *,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    user = request.session.get("user") if "session" in request.scope else None
    context = {
        "active_nav": "Submit",
        "kinds": kind_forms(maintainer=current_maintainer(request) is not None),
        "signed_in": user.get("name") if isinstance(user, dict) else None,
        "sign_in_available": settings.oauth_enabled,
        "sign_in_required": settings.submit_requires_sign_in,
        "values": {
            "revision": "main",
            "model_type": DEFAULT_KIND,
            "benchmark": DEFAULT_BENCHMARK,
            "settings": {},
            "extra_parts": [],
            **(values or {}),
        },
        "benchmarks": [
            (benchmark, [part for part in benchmark.parts if part.optional])
            for benchmark in BENCHMARKS.values()
        ],
        **extra,
    }
    return form_page(request, settings, "submit.html", context, status_code=status_code, no_store=False)


@router.get("/submit", response_class=HTMLResponse)
def submit_form(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The submission form."""
    return _form_page(request, settings)


@router.post("/submit", response_model=None)
async def submit_post(
    request: Request,
    settings: SettingsDep,
    hub: HubDep,
    factory: FactoryDep,
    send: SenderDep,
    gate: GateDep,
    limiter: CheckLimiterDep,
    submitter: SubmitterDep,
    model: Annotated[str, Form()] = "",
    revision: Annotated[str, Form()] = "main",
    model_type: Annotated[str, Form()] = DEFAULT_KIND,
    benchmark: Annotated[str, Form()] = DEFAULT_BENCHMARK,
    extra_parts: Annotated[list[str] | None, Form()] = None,
    iteration_of: Annotated[str, Form()] = "",
    max_length: Annotated[str, Form()] = "",
    webhook_url: Annotated[str, Form()] = "",
    webhook_secret: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "submit",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Check or submit the form. Only the chosen model type's settings (``<type>.<setting>``) are read."""
    if not csrf_ok(request, settings, csrf_token):
        return expired_form(request)
    form = await request.form()
    kind_values, problems = settings_from_form(model_type, form)
    values = {
        "model": model.strip(),
        "revision": revision.strip() or "main",
        "model_type": model_type,
        "settings": kind_values,
        "benchmark": benchmark,
        "extra_parts": list(extra_parts or []),
        "iteration_of": iteration_of.strip() or None,
        "max_length": max_length.strip() or None,
        "webhook_url": webhook_url.strip() or None,
        "webhook_secret": webhook_secret.strip() or None,
    }
    if problems:
        return _form_page(request, settings, values=values, status_code=422, error="; ".join(problems))
    try:
        body = SubmissionRequest.model_validate(values)
    except ValidationError as error:
        problems = [_problem(e) for e in error.errors()]
        return _form_page(request, settings, values=values, status_code=422, error="; ".join(problems))

    def check_only(deadline: Deadline) -> ValidationReport:
        return service.check_submission(factory, settings, hub, body, submitter=submitter, deadline=deadline)

    def record(deadline: Deadline) -> service.SubmitOutcome:
        return service.submit(factory, settings, hub, body, send, submitter=submitter, deadline=deadline)

    try:
        require_endpoint_submitter(request, body.model_type)
        await admit_checks(settings, limiter, submitter)
        if action == "validate":
            report = await gate.run(check_only)
            return _form_page(
                request, settings, values=values, checks=report.checks, checked=True, all_ok=report.ok
            )
        outcome = await gate.run(record)
    except DomainError as error:  # sign-in required, too many checks, the Hub slow or busy
        page = _form_page(
            request, settings, values=values, status_code=error.status_code, error=error.message
        )
        page.headers.update(error.headers)
        return page
    except service.SubmissionRejected as error:
        page = _form_page(
            request,
            settings,
            values=values,
            status_code=error.status_code,
            error=error.message,
            checks=error.report.checks,
            duplicate_url=f"/submissions/{error.report.duplicate_of}" if error.report.duplicate_of else None,
        )
        if error.report.retry_after_s:
            page.headers["Retry-After"] = str(error.report.retry_after_s)
        return page
    if outcome.webhook_secret is not None:
        # The generated secret is shown once, on this answer (never stored in a cookie or shown again).
        secret = outcome.webhook_secret
        return await run_in_threadpool(
            _submitted_with_secret, request, factory, outcome.submission.id, secret
        )
    return RedirectResponse(outcome.submission.url, status_code=303)


def _submitted_with_secret(
    request: Request, factory: sessionmaker[Session], submission_id: int, secret: str
) -> HTMLResponse:
    with unit_of_work(factory) as session:
        page = _submission_page(request, session, submission_id, webhook_secret=secret, status_code=201)
    page.headers["Cache-Control"] = "no-store"
    return page


def kind_forms(*, maintainer: bool = False) -> list[dict[str, Any]]:
    """Every evaluable model type with its settings as form fields (judges on endpoints: maintainers')."""
    return [
        {"key": key, "label": kind.label, "description": kind.description, "fields": kind.settings_fields()}
        for key, kind in KINDS.items()
        if kind.evaluable and (maintainer or not kind.runs_on_endpoint)
    ]


def settings_from_form(model_type: str, form: Any) -> tuple[dict[str, Any], list[str]]:
    """The chosen type's settings from ``<type>.<name>`` fields: unticked boxes are false, empty fields
    take the default; other types' fields are ignored."""
    kind = KINDS.get(model_type)
    if kind is None:
        return {}, []
    values: dict[str, Any] = {}
    problems: list[str] = []
    for field in kind.settings_fields():
        raw = form.get(f"{model_type}.{field.name}")
        if field.input == "checkbox":
            values[field.name] = raw in ("true", "on", "1")
            continue
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            continue
        if field.input == "number":
            try:
                values[field.name] = int(text)
            except ValueError:
                problems.append(f"{field.label}: {text!r} is not a whole number")
            continue
        values[field.name] = text
    return values, problems


def _problem(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep) -> HTMLResponse:
    """Running and waiting submissions with positions and ETAs, and recent results."""
    overview = service.queue_overview(session)
    context = {"active_nav": "Queue", "queue": overview, "duration": service.format_duration}
    return templates.TemplateResponse(request, "queue.html", context)


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(
    request: Request, session: SessionDep, submission_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> HTMLResponse:
    """One submission's status, progress and failure reason, and its webhook's deliveries."""
    return _submission_page(request, session, submission_id)


def _submission_page(
    request: Request,
    session: Session,
    submission_id: int,
    *,
    webhook_secret: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = service.describe(session, submission_id)
    if view is None:
        raise NotFoundError(f"Submission {submission_id} does not exist.")
    context = {
        "active_nav": "Queue",
        "submission": view,
        "live": live_status(session, view),
        "duration": service.format_duration,
        "deliveries": deliveries(session, submission_id) if view.webhook_host else [],
        "webhook_secret": webhook_secret,
    }
    return templates.TemplateResponse(request, "submission.html", context, status_code=status_code)
