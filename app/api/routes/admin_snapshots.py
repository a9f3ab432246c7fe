"""POST /api/v1/admin/snapshots: a maintainer makes today's snapshot now (of one benchmark, or of each)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.api.admin_auth import MaintainerDep
from app.api.deps import SessionFactoryDep, SettingsDep
from app.db.session import unit_of_work
from app.schemas.query import BenchmarkId
from app.schemas.snapshots import SnapshotsMade
from app.services.operations.snapshots import make_and_prune, manifest_of, remove_directories
from worker.engine.benchmarks import BENCHMARKS

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post(
    "/snapshots",
    response_model=SnapshotsMade,
    status_code=201,
    responses={
        401: {"description": "no maintainer's sign-in or operator token"},
        403: {"description": "signed in, but not a maintainer"},
        409: {"description": "a snapshot of that benchmark is being made right now"},
        507: {"description": "the disk is full; the previous snapshot is kept"},
    },
)
def make_snapshots_now(
    request: Request,
    sessions: SessionFactoryDep,
    settings: SettingsDep,
    maintainer: MaintainerDep,
    benchmark: Annotated[BenchmarkId | None, Query(description="one benchmark; default: each")] = None,
) -> SnapshotsMade:
    """Make (or, made earlier today, replace) today's snapshot; older ones past SNAPSHOT_KEEP_DAYS go."""
    made = []
    expired = []
    # The request's one unit of work, closed here: expired files go only once their rows' deletion is
    # committed (SessionDep would commit after the response, and after any background task).
    with unit_of_work(sessions) as session:
        for benchmark_id in [benchmark] if benchmark else list(BENCHMARKS):
            outcome = make_and_prune(session, settings, benchmark_id, created_by=maintainer.name)
            made.append(manifest_of(outcome.snapshot, str(request.base_url)))
            expired += outcome.expired
    remove_directories(expired)
    return SnapshotsMade(snapshots=made, expired=[f"{path.parent.name}/{path.name}" for path in expired])
