"""Server-rendered pages (no JavaScript needed)."""

from __future__ import annotations

from fastapi import APIRouter

from app.pages import (
    about,
    admin,
    benchmark,
    changelog,
    compare,
    favicon,
    feeds,
    leaderboard,
    models,
    plots,
    series,
    submissions,
)

pages_router = APIRouter(include_in_schema=False)
pages_router.include_router(leaderboard.router)
pages_router.include_router(benchmark.router)
pages_router.include_router(models.router)
pages_router.include_router(feeds.router)
pages_router.include_router(about.router)
pages_router.include_router(submissions.router)
pages_router.include_router(plots.router)
pages_router.include_router(compare.router)
pages_router.include_router(series.router)
pages_router.include_router(favicon.router)
pages_router.include_router(changelog.router)
pages_router.include_router(admin.router)
