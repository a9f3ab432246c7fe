"""The /admin pages: sign-in with the operator token, and one page for the queue, the reports inbox,
moderation, deletion on request, namespace policies and re-runs; every form is CSRF-protected and goes
through the same services as the admin API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from app.api.admin_auth import ADMIN_SESSION_KEY, current_maintainer, maintainer_access
from app.api.deps import SessionDep, SettingsDep
from app.api.routes.submissions import FactoryDep, SenderDep
from app.config import Settings
from app.db.models import ReportStatus, ResultVisibility
from app.db.repositories import operations as operations_repo
from app.errors import DomainError
from app.http.csrf import csrf_ok
from app.pages.forms import expired_form, form_page
from app.services.intake.submissions import Send
from app.services.operations import moderation, namespaces, queue_admin, reports
from app.services.operations.audit import changelog
from app.services.operations.maintainers import Actor
from worker.engine.benchmarks import BENCHMARKS

router = APIRouter(prefix="/admin", include_in_schema=False)
Fields = dict[str, str]


@router.get("", response_class=HTMLResponse)
def admin_page(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    done: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    """The maintainers' page, or the sign-in form."""
    actor = current_maintainer(request)
    if actor is None:
        return _sign_in_page(request, settings)
    context = {
        "active_nav": None,
        "actor": actor,
        "queue": queue_admin.queue_entries(session),
        "reports": reports.inbox(session),
        "open_reports": operations_repo.open_report_count(session),
        "namespaces": namespaces.list_policies(session),
        "recent": changelog(session, limit=20),
        "benchmarks": list(BENCHMARKS),
        "flash": done,
        "error": error,
    }
    return form_page(request, settings, "admin.html", context)


def _sign_in_page(
    request: Request, settings: Settings, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    context = {
        "active_nav": None,
        "error": error,
        "token_configured": maintainer_access(request).token_configured,
        "sign_in_available": settings.oauth_enabled,
    }
    return form_page(request, settings, "admin_sign_in.html", context, status_code=status_code)


@router.post("/sign-in", response_model=None)
def sign_in(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Sign this browser in with the operator token (kept as a signed mark in the session cookie)."""
    if not csrf_ok(request, settings, csrf_token):
        return expired_form(request)
    access = maintainer_access(request)
    if not access.token_matches(token.strip()):
        return _sign_in_page(request, settings, error="That is not the operator token.", status_code=401)
    request.session[ADMIN_SESSION_KEY] = access.session_mark()
    return RedirectResponse("/admin", status_code=303)


@router.post("/sign-out", response_model=None)
def sign_out(request: Request, settings: SettingsDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    if not csrf_ok(request, settings, csrf_token):
        return expired_form(request)
    request.session.pop(ADMIN_SESSION_KEY, None)
    return RedirectResponse("/admin", status_code=303)


def _number(fields: Fields, name: str) -> int:
    value = fields.get(name, "").strip().lstrip("#")
    if not value.isdigit() or not 0 < int(value) < 2**31:
        raise DomainError(f"{name.replace('_', ' ')} must be a number (an id shown on this page)", 422)
    return int(value)


class _Context:
    def __init__(
        self, actor: Actor, session: Session, factory: sessionmaker[Session], send: Send, settings: Settings
    ) -> None:
        self.actor, self.session, self.factory, self.send, self.settings = (
            actor,
            session,
            factory,
            send,
            settings,
        )


def _visibility(to: ResultVisibility) -> Callable[[_Context, Fields], str]:
    def act(context: _Context, fields: Fields) -> str:
        result_id = _number(fields, "result_id")
        link = fields.get("link", "").strip() or None
        if link is not None and not link.startswith(("https://", "http://")):
            raise DomainError("The link must be an http(s) address.", 422)
        moderation.change_visibility(
            context.session, context.actor, result_id, to, reason=fields.get("reason", ""), link=link
        )
        return f"Result {result_id} is {to.value}."

    return act


def _supersede(context: _Context, fields: Fields) -> str:
    result_id, by = _number(fields, "result_id"), _number(fields, "by_result_id")
    moderation.supersede(
        context.session, context.actor, result_id, by_result_id=by, reason=fields.get("reason", "")
    )
    return f"Result {result_id} is superseded by result {by}."


def _cancel(context: _Context, fields: Fields) -> str:
    submission_id = _number(fields, "submission_id")
    queue_admin.cancel(context.factory, context.actor, submission_id, reason=fields.get("reason", ""))
    return f"Submission {submission_id} is cancelled."


def _retry(context: _Context, fields: Fields) -> str:
    submission_id = _number(fields, "submission_id")
    queue_admin.retry(context.factory, context.send, context.settings, context.actor, submission_id)
    return f"Submission {submission_id} is queued again."


def _move_up(context: _Context, fields: Fields) -> str:
    submission_id = _number(fields, "submission_id")
    queue_admin.move_up(context.factory, context.actor, submission_id)
    return f"Submission {submission_id} runs next."


def _delete_model(context: _Context, fields: Fields) -> str:
    model = fields.get("model", "").strip()
    if fields.get("confirm", "").strip() != model:
        raise DomainError("Type the model id a second time to confirm the deletion.", 422)
    counts = moderation.delete_model(context.session, context.actor, model, reason=fields.get("reason", ""))
    return f"{model} is deleted ({counts['results']} results, {counts['submissions']} submissions)."


def _namespace(context: _Context, fields: Fields) -> str:
    quota = fields.get("submission_quota", "").strip()
    if quota and not quota.isdigit():
        raise DomainError("The quota is a number of submissions, or empty for the default.", 422)
    name = fields.get("namespace", "").strip()
    namespaces.set_policy(
        context.session,
        context.actor,
        name,
        opted_out=fields.get("opted_out") == "on",
        submission_quota=int(quota) if quota else None,
        note=fields.get("note", "").strip() or None,
    )
    return f"The policy of {name} is saved."


def _rerun(context: _Context, fields: Fields) -> str:
    benchmark = fields.get("benchmark", "").strip() or None
    report = queue_admin.rerun_stale(
        context.factory, context.send, context.settings, context.actor, benchmark=benchmark
    )
    return f"{len(report.queued)} re-run(s) queued; {len(report.already_waiting)} already waiting."


def _close_report(status: ReportStatus) -> Callable[[_Context, Fields], str]:
    def act(context: _Context, fields: Fields) -> str:
        report_id = _number(fields, "report_id")
        reports.close_report(
            context.session, context.actor, report_id, status=status, resolution=fields.get("resolution", "")
        )
        return f"Report {report_id} is {status.value}."

    return act


ACTIONS: dict[str, Callable[[_Context, Fields], str]] = {
    "hide": _visibility(ResultVisibility.HIDDEN),
    "flag": _visibility(ResultVisibility.FLAGGED),
    "unhide": _visibility(ResultVisibility.VISIBLE),
    "supersede": _supersede,
    "cancel": _cancel,
    "retry": _retry,
    "move-up": _move_up,
    "delete-model": _delete_model,
    "namespace": _namespace,
    "rerun-stale": _rerun,
    "resolve-report": _close_report(ReportStatus.RESOLVED),
    "dismiss-report": _close_report(ReportStatus.DISMISSED),
}


@router.post("/actions/{action}", response_model=None)
async def admin_action(
    action: str,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    factory: FactoryDep,
    send: SenderDep,
) -> Response:
    """Carry out one form's action, then back to /admin with what happened (or why not)."""
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if not csrf_ok(request, settings, fields.get("csrf_token", "")):
        return expired_form(request)
    actor = current_maintainer(request)
    if actor is None:
        return _sign_in_page(request, settings, error="Sign in first.", status_code=401)
    handler = ACTIONS.get(action)
    if handler is None:
        return RedirectResponse("/admin?error=" + quote(f"There is no action {action}."), status_code=303)
    try:
        message = await run_in_threadpool(handler, _Context(actor, session, factory, send, settings), fields)
    except DomainError as error:
        await run_in_threadpool(session.rollback)
        return RedirectResponse("/admin?error=" + quote(error.message), status_code=303)
    return RedirectResponse("/admin?done=" + quote(message), status_code=303)
