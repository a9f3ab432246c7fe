"""The public changelog page and the form to report a result."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import SessionDep, SettingsDep
from app.db.repositories import operations as operations_repo
from app.errors import DomainError, NotFoundError
from app.http.csrf import csrf_ok
from app.pages.forms import expired_form, form_page
from app.pages.rendering import html_response, render_html
from app.services.intake.client_limits import submitter_of
from app.services.operations import reports
from app.services.operations.audit import changelog

router = APIRouter(include_in_schema=False)
PER_PAGE = 100


@router.get("/changelog", response_class=HTMLResponse)
def changelog_page(
    session: SessionDep,
    model: Annotated[str | None, Query(max_length=200)] = None,
    org: Annotated[str | None, Query(max_length=96)] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """Every maintainer action and change of a result's state, newest first."""
    entries = changelog(session, limit=PER_PAGE, before_id=before, model=model, organisation=org)
    older = entries[-1].id if len(entries) == PER_PAGE else None
    params = "".join(f"&{key}={value}" for key, value in (("model", model), ("org", org)) if value)
    body = render_html(
        "changelog.html",
        {
            "active_nav": "Changelog",
            "entries": entries,
            "model": model,
            "org": org,
            "older_url": f"/changelog?before={older}{params}" if older else None,
        },
    )
    return html_response(body)


def _report_context(session: SessionDep, result_id: int) -> dict[str, object]:
    result = operations_repo.result_with_model(session, result_id)
    if result is None:
        raise NotFoundError(f"There is no result {result_id}.")
    return {
        "active_nav": None,
        "result": result,
        "model": result.reward_model.hub_id,
        "reasons": reports.REASONS,
    }


@router.get("/report", response_class=HTMLResponse)
def report_form(
    request: Request, settings: SettingsDep, session: SessionDep, result: Annotated[int, Query(ge=1)]
) -> HTMLResponse:
    """Report a problem with a result to the maintainers."""
    return form_page(request, settings, "report.html", _report_context(session, result))


@router.post("/report", response_model=None)
def report_post(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    result: Annotated[int, Form(ge=1)],
    reason: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not csrf_ok(request, settings, csrf_token):
        return expired_form(request)
    context = _report_context(session, result)
    try:
        reports.submit_report(session, submitter_of(request), result, reason=reason, text=text)
    except DomainError as error:
        if isinstance(error, NotFoundError):
            raise
        context |= {"error": error.message, "values": {"reason": reason, "text": text}}
        return form_page(request, settings, "report.html", context, status_code=error.status_code)
    return RedirectResponse(f"/report/sent?result={result}", status_code=303)


@router.get("/report/sent", response_class=HTMLResponse)
def report_sent(session: SessionDep, result: Annotated[int, Query(ge=1)]) -> HTMLResponse:
    found = operations_repo.result_with_model(session, result)
    model = found.reward_model.hub_id if found is not None else None
    return html_response(render_html("report_sent.html", {"active_nav": None, "model": model}))
