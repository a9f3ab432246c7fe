"""The admin API (/api/v1/admin/...): the queue, moderation of results, deletion on request, namespace
policies, re-runs of stale results and the reports inbox. Every route needs a maintainer (401/403)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from app.api.admin_auth import MaintainerDep, require_maintainer
from app.api.deps import SessionDep, SettingsDep
from app.api.routes.submissions import FactoryDep, SenderDep, SubmissionId
from app.db.models import ReportStatus, ResultVisibility
from app.schemas.admin import (
    ActionResult,
    CancelRequest,
    CloseReportRequest,
    DeleteModelRequest,
    HideRequest,
    NamespaceRequest,
    RerunRequest,
    ResultState,
    ShowRequest,
    SupersedeRequest,
)
from app.services.operations import moderation, namespaces, queue_admin, reports
from app.services.operations.maintainers import Actor
from app.services.operations.namespaces import NamespaceView
from app.services.operations.queue_admin import QueueEntry
from app.services.operations.reports import ReportView

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_maintainer)])
ResultId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ReportId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DENIED: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or wrong operator token, and not signed in"},
    403: {"description": "signed in, but not on the maintainers list"},
    404: {"description": "unknown result, submission, model or report"},
    409: {"description": "the action does not apply in its present state (e.g. already hidden)"},
}
router.responses.update(DENIED)


def _state(result: Any) -> ResultState:
    return ResultState(
        result_id=result.id,
        model=result.reward_model.hub_id,
        benchmark=result.benchmark,
        model_type=result.model_type,
        visibility=result.visibility.value,
        visibility_reason=result.visibility_reason,
        visibility_link=result.visibility_link,
        is_current=result.is_current,
        superseded_by_id=result.superseded_by_id,
    )


def _visibility(
    session: SessionDep, actor: Actor, result_id: int, to: ResultVisibility, reason: str, link: str | None
) -> ResultState:
    return _state(moderation.change_visibility(session, actor, result_id, to, reason=reason, link=link))


@router.get("/whoami")
def whoami(actor: MaintainerDep) -> dict[str, str]:
    """Who the credentials make you: a maintainer's name, or operator."""
    return {"name": actor.name, "via": actor.via}


@router.post("/results/{result_id}/hide", response_model=ResultState)
def hide_result(
    result_id: ResultId, body: HideRequest, actor: MaintainerDep, session: SessionDep
) -> ResultState:
    """Take a result off the board, with a public reason (and a link); it stays on its model page, marked."""
    link = str(body.link) if body.link else None
    return _visibility(session, actor, result_id, ResultVisibility.HIDDEN, body.reason, link)


@router.post("/results/{result_id}/flag", response_model=ResultState)
def flag_result(
    result_id: ResultId, body: HideRequest, actor: MaintainerDep, session: SessionDep
) -> ResultState:
    """Keep a result on the board with a visible mark and the reason (e.g. under discussion)."""
    link = str(body.link) if body.link else None
    return _visibility(session, actor, result_id, ResultVisibility.FLAGGED, body.reason, link)


@router.post("/results/{result_id}/unhide", response_model=ResultState)
def unhide_result(
    result_id: ResultId, body: ShowRequest, actor: MaintainerDep, session: SessionDep
) -> ResultState:
    """Show a hidden or flagged result again, without a mark."""
    return _visibility(session, actor, result_id, ResultVisibility.VISIBLE, body.reason, None)


@router.post("/results/{result_id}/supersede", response_model=ResultState)
def supersede_result(
    result_id: ResultId, body: SupersedeRequest, actor: MaintainerDep, session: SessionDep
) -> ResultState:
    """Replace a result on the board by a newer one of the same model, benchmark and model type."""
    old = moderation.supersede(session, actor, result_id, by_result_id=body.by_result_id, reason=body.reason)
    return _state(old)


@router.get("/queue", response_model=list[QueueEntry])
def queue(session: SessionDep) -> list[QueueEntry]:
    """Running submissions, then waiting ones in the order the workers take them."""
    return queue_admin.queue_entries(session)


@router.post("/submissions/{submission_id}/cancel", response_model=ActionResult)
def cancel_submission(
    submission_id: SubmissionId, body: CancelRequest, actor: MaintainerDep, factory: FactoryDep
) -> ActionResult:
    """Stop a waiting or running submission (a running one's worker stops at its next heartbeat)."""
    queue_admin.cancel(factory, actor, submission_id, reason=body.reason)
    return ActionResult(message=f"Submission {submission_id} is cancelled.")


@router.post("/submissions/{submission_id}/retry", response_model=ActionResult)
def retry_submission(
    submission_id: SubmissionId,
    actor: MaintainerDep,
    factory: FactoryDep,
    send: SenderDep,
    settings: SettingsDep,
) -> ActionResult:
    """Queue a failed or cancelled submission again, with the same commit and settings."""
    sent = queue_admin.retry(factory, send, settings, actor, submission_id)
    where = "sent to the workers" if sent else "queued; the task queue is not reachable, it is sent once back"
    return ActionResult(message=f"Submission {submission_id} is {where}.", detail={"sent_to_worker": sent})


@router.post("/submissions/{submission_id}/move-up", response_model=ActionResult)
def move_up_submission(
    submission_id: SubmissionId, actor: MaintainerDep, factory: FactoryDep
) -> ActionResult:
    """Run a waiting submission next in its queue."""
    priority = queue_admin.move_up(factory, actor, submission_id)
    return ActionResult(message=f"Submission {submission_id} runs next.", detail={"priority": priority})


@router.post("/models/{org}/{name}/delete", response_model=ActionResult)
def delete_model(
    org: str, name: str, body: DeleteModelRequest, actor: MaintainerDep, session: SessionDep
) -> ActionResult:
    """Delete a model with every submission and result of it (its author asked); the log keeps its name."""
    counts = moderation.delete_model(session, actor, f"{org}/{name}", reason=body.reason)
    return ActionResult(message=f"{org}/{name} and its results are deleted.", detail=counts)


@router.get("/namespaces", response_model=list[NamespaceView])
def list_namespaces(session: SessionDep) -> list[NamespaceView]:
    """Namespaces with a maintainer's policy (opted out, or their own submission quota)."""
    return namespaces.list_policies(session)


@router.put("/namespaces/{namespace}", response_model=NamespaceView)
def set_namespace(
    namespace: Annotated[str, Path(max_length=96)],
    body: NamespaceRequest,
    actor: MaintainerDep,
    session: SessionDep,
) -> NamespaceView:
    """Opt a namespace out of the board, or give it its own submission quota."""
    view = namespaces.set_policy(
        session,
        actor,
        namespace,
        opted_out=body.opted_out,
        submission_quota=body.submission_quota,
        note=body.note,
    )
    return view


@router.post("/rerun-stale", response_model=ActionResult)
def rerun_stale(
    body: RerunRequest, actor: MaintainerDep, factory: FactoryDep, send: SenderDep, settings: SettingsDep
) -> ActionResult:
    """Queue a new run of every current result scored under an older scoring version (once each)."""
    report = queue_admin.rerun_stale(factory, send, settings, actor, benchmark=body.benchmark)
    return ActionResult(
        message=f"{len(report.queued)} re-run(s) queued; {len(report.already_waiting)} already waiting.",
        detail={"submission_ids": report.queued, "already_waiting_result_ids": report.already_waiting},
    )


@router.get("/reports", response_model=list[ReportView])
def list_reports(
    session: SessionDep,
    status: Annotated[
        ReportStatus | None, Query(description="open (default), resolved or dismissed")
    ] = ReportStatus.OPEN,
) -> list[ReportView]:
    """The reports inbox, newest first."""
    return reports.inbox(session, status=status)


@router.post("/reports/{report_id}/close", response_model=ReportView)
def close_report(
    report_id: ReportId, body: CloseReportRequest, actor: MaintainerDep, session: SessionDep
) -> ReportView:
    """Resolve (acted on) or dismiss an open report."""
    view = reports.close_report(
        session, actor, report_id, status=ReportStatus(body.status), resolution=body.resolution
    )
    return view
