"""GET /api/v1/leaderboard: JSON or CSV, served from the in-process cache while the data is unchanged."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import LeaderboardCacheDep, SessionFactoryDep, query_model, query_openapi
from app.http.compression import precompressed
from app.schemas.leaderboard import LeaderboardApiQuery, LeaderboardPage
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
    openapi_extra=query_openapi(LeaderboardApiQuery),
)
async def get_leaderboard(
    request: Request,
    cache: LeaderboardCacheDep,
    sessions: SessionFactoryDep,
    query: Annotated[LeaderboardApiQuery, Depends(query_model(LeaderboardApiQuery))],
) -> Response:
    """A benchmark's board: one row per model and type, its current result; JSON or CSV."""
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
