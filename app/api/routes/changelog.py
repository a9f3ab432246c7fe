"""GET /api/v1/changelog (the public audit log) and POST /api/v1/results/{id}/reports (a visitor's report)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from app.api.deps import SessionDep
from app.schemas.admin import ChangelogPage, ReportRequest
from app.services.intake.client_limits import Submitter, submitter_of
from app.services.operations import reports
from app.services.operations.audit import ACTIONS, changelog
from app.services.operations.reports import ReportView

router = APIRouter(tags=["changelog"])


@router.get("/changelog", response_model=ChangelogPage)
def get_changelog(
    session: SessionDep,
    model: Annotated[str | None, Query(max_length=200, description="only lines about this model id")] = None,
    org: Annotated[str | None, Query(max_length=96, description="only models of this organisation")] = None,
    action: Annotated[
        list[str] | None, Query(description=f"only these actions: {', '.join(ACTIONS)}")
    ] = None,
    before: Annotated[int | None, Query(ge=1, description="lines older than this id (paging)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ChangelogPage:
    """Every maintainer action and change of a result's state, newest first: who, what, when, why."""
    entries = changelog(
        session, limit=limit, before_id=before, model=model, organisation=org, actions=action or ()
    )
    return ChangelogPage(
        entries=entries,
        next_before=entries[-1].id if len(entries) == limit else None,
    )


@router.post(
    "/results/{result_id}/reports",
    status_code=201,
    response_model=ReportView,
    responses={404: {"description": "unknown result"}, 429: {"description": "too many reports"}},
)
def report_result(
    result_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: ReportRequest,
    session: SessionDep,
    submitter: Annotated[Submitter, Depends(submitter_of)],
) -> ReportView:
    """Report a result to the maintainers (a reason and your words); at most 5 an hour per client."""
    return reports.submit_report(session, submitter, result_id, reason=body.reason, text=body.text)
