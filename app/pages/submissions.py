"""Submission pages: the /submit form (CSRF-protected), the /queue and one submission's status page."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.api.deps import SessionDep, SettingsDep
from app.api.routes.submissions import FactoryDep, HubDep, SenderDep
from app.config import Settings
from app.errors import NotFoundError
from app.services import submissions as service
from app.services.validation import SubmissionRequest
from app.templating import templates

router = APIRouter(include_in_schema=False)

CSRF_COOKIE = "rewardboard_csrf"
CSRF_FIELD = "csrf_token"


def _sign(settings: Settings, nonce: str) -> str:
    mac = hmac.new(settings.secret_key.encode(), nonce.encode(), hashlib.sha256).hexdigest()
    return f"{nonce}.{mac}"


def _valid_token(settings: Settings, token: str | None) -> bool:
    if not token or "." not in token:
        return False
    nonce = token.split(".", 1)[0]
    return hmac.compare_digest(_sign(settings, nonce), token)


def _csrf_ok(request: Request, settings: Settings, form_token: str) -> bool:
    """Synchronizer token: the form field must equal the signed cookie, and a sent Origin must be ours."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        return False
    cookie = request.cookies.get(CSRF_COOKIE)
    return _valid_token(settings, cookie) and hmac.compare_digest(cookie or "", form_token)


def _form_page(
    request: Request,
    settings: Settings,
    *,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    token = request.cookies.get(CSRF_COOKIE)
    if not _valid_token(settings, token):
        token = _sign(settings, secrets.token_urlsafe(24))
    context = {
        "active_nav": "Submit",
        "csrf_token": token,
        "csrf_field": CSRF_FIELD,
        "values": {"revision": "main", "model_type": "classifier", "chat_template": "auto", **(values or {})},
        **extra,
    }
    response = templates.TemplateResponse(request, "submit.html", context, status_code=status_code)
    secure = request.url.scheme == "https"
    response.set_cookie(CSRF_COOKIE, token or "", httponly=True, samesite="strict", secure=secure, path="/")
    return response


@router.get("/submit", response_class=HTMLResponse)
def submit_form(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The submission form."""
    return _form_page(request, settings)


@router.post("/submit", response_model=None)
def submit_post(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    hub: HubDep,
    factory: FactoryDep,
    send: SenderDep,
    model: Annotated[str, Form()] = "",
    revision: Annotated[str, Form()] = "main",
    model_type: Annotated[str, Form()] = "classifier",
    reference_model: Annotated[str, Form()] = "",
    chat_template: Annotated[str, Form()] = "auto",
    benchmark: Annotated[str, Form()] = "rewardbench-v1",
    action: Annotated[str, Form()] = "submit",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Check or submit the form."""
    if not _csrf_ok(request, settings, csrf_token):
        return templates.TemplateResponse(
            request,
            "error.html",
            {
                "status_code": 403,
                "message": "The form expired or came from another site. Reload the page and try again.",
            },
            status_code=403,
        )
    values = {
        "model": model.strip(),
        "revision": revision.strip() or "main",
        "model_type": model_type,
        "reference_model": reference_model.strip() or None,
        "chat_template": chat_template,
        "benchmark": benchmark,
    }
    try:
        body = SubmissionRequest.model_validate(values)
    except ValidationError as error:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
        return _form_page(request, settings, values=values, status_code=422, error="; ".join(problems))
    if action == "validate":
        report = service.check_submission(session, settings, hub, body)
        return _form_page(
            request, settings, values=values, checks=report.checks, checked=True, all_ok=report.ok
        )
    try:
        outcome = service.submit(factory, settings, hub, body, send)
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
    return RedirectResponse(outcome.submission.url, status_code=303)


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
    """One submission's status, progress and failure reason."""
    view = service.describe(session, submission_id)
    if view is None:
        raise NotFoundError(f"Submission {submission_id} does not exist.")
    context = {"active_nav": "Queue", "submission": view, "duration": service.format_duration}
    return templates.TemplateResponse(request, "submission.html", context)
