"""GET /api/v1/leaderboard: JSON or CSV, served from the in-process cache while the data is unchanged."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import LeaderboardCacheDep, SessionFactoryDep, SettingsDep, query_model, query_openapi
from app.http.compression import precompressed
from app.schemas.leaderboard import LeaderboardPage
from app.schemas.snapshots import SnapshotBoardApiQuery
from app.services.operations.snapshot_board import board_at_bytes
from app.services.presentation.leaderboard import leaderboard_csv_bytes, leaderboard_json
from app.services.presentation.leaderboard_cache import cached_body

router = APIRouter(tags=["leaderboard"])

CSV_RESPONSE: dict[str, Any] = {
    "content": {"text/csv": {"schema": {"type": "string"}}},
    "description": "with format=csv",
}
CSV_DISPOSITION = 'attachment; filename="rewardboard-leaderboard.csv"'


@router.get(
    "/leaderboard",
    response_model=LeaderboardPage,
    responses={200: CSV_RESPONSE},
    openapi_extra=query_openapi(SnapshotBoardApiQuery),
)
async def get_leaderboard(
    request: Request,
    cache: LeaderboardCacheDep,
    sessions: SessionFactoryDep,
    settings: SettingsDep,
    query: Annotated[SnapshotBoardApiQuery, Depends(query_model(SnapshotBoardApiQuery))],
) -> Response:
    """A benchmark's board: one row per model and type, its current result; JSON or CSV. With
    ``snapshot=YYYY-MM-DD`` (or ``latest``): the board as it was in that day's data snapshot, with the
    snapshot it was read from under ``snapshot``."""
    if query.snapshot is not None:
        body = await run_in_threadpool(board_at_bytes, sessions, settings, query, query.snapshot)
        if query.format == "csv":
            return Response(body, media_type="text/csv", headers={"Content-Disposition": CSV_DISPOSITION})
        return Response(body, media_type="application/json")
    # Async on purpose: a cache hit needs no database and no worker thread; a miss builds in one.
    key = (query.format, *query.cache_key())
    build = partial(leaderboard_csv_bytes if query.format == "csv" else leaderboard_json, query=query)
    cached = cache.lookup(key)
    if cached is None:
        cached = await run_in_threadpool(cached_body, sessions, cache, key, build)
    body, headers = precompressed(
        request.headers.get("accept-encoding"), cached.body, cached.gzipped, cached.etag
    )
    if query.format == "csv":
        return Response(
            body, media_type="text/csv", headers={**headers, "Content-Disposition": CSV_DISPOSITION}
        )
    return Response(body, media_type="application/json", headers=headers)
