"""The JSON API, version 1."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.routes import (
    admin,
    admin_endpoints,
    admin_snapshots,
    benchmark,
    changelog,
    compare,
    leaderboard,
    live,
    models,
    plots,
    series,
    snapshots,
    submissions,
)

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(leaderboard.router)
api_router.include_router(models.router)
api_router.include_router(benchmark.router)
api_router.include_router(live.router)
api_router.include_router(submissions.router)
api_router.include_router(plots.router)
api_router.include_router(compare.router)
api_router.include_router(series.router)
api_router.include_router(snapshots.router)
api_router.include_router(admin_snapshots.router)
api_router.include_router(changelog.router)
api_router.include_router(admin.router)
api_router.include_router(admin_endpoints.router)
