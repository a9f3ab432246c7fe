"""GET /api/v1/leaderboard: JSON (cached per data version) or CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.api.deps import LeaderboardCacheDep, SessionDep
from app.schemas.leaderboard import LeaderboardApiQuery, LeaderboardPage
from app.services.leaderboard import cached_leaderboard_json, leaderboard_csv, leaderboard_page

router = APIRouter(tags=["leaderboard"])

CSV_RESPONSE: dict[str, Any] = {
    "content": {"text/csv": {"schema": {"type": "string"}}},
    "description": "with format=csv",
}


@router.get("/leaderboard", response_model=LeaderboardPage, responses={200: CSV_RESPONSE})
def get_leaderboard(
    session: SessionDep, cache: LeaderboardCacheDep, query: Annotated[LeaderboardApiQuery, Query()]
) -> Response:
    """One row per model: its most recent result evaluated here, else its most recent imported result."""
    if query.format == "csv":
        body = leaderboard_csv(leaderboard_page(session, query))
        disposition = 'attachment; filename="rewardboard-leaderboard.csv"'
        return Response(body, media_type="text/csv", headers={"Content-Disposition": disposition})
    cached = cached_leaderboard_json(session, cache, query)
    return Response(cached.body, media_type="application/json", headers={"ETag": cached.etag})
