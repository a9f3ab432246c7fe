"""The web application: JSON API under /api/v1, server-rendered pages, static files, error handlers."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.api.docs import install_docs
from app.api.http_cache import ETagMiddleware
from app.api.router import api_router
from app.config import Settings, get_settings
from app.db.session import engine_for, session_factory
from app.errors import install_error_handlers
from app.pages.router import pages_router
from app.schemas.leaderboard import LEADERBOARD_RULE
from app.services.leaderboard_cache import LeaderboardCache
from app.templating import STATIC_DIR

DESCRIPTION = """
RewardBench v1 and RewardBench 2 results for reward models, in full precision (the pages show ×100 with
one decimal). Every route that reads results takes `benchmark=` (default `rewardbench-v1`);
`/api/v1/benchmarks` lists each benchmark's data, sections, subsets, weights and scoring versions.

**RULE** Every other result of a model (other revisions, configs, benchmarks, imports) stays available
under `/api/v1/models/{org}/{name}`; a board reads only the marked current results.

**Sources.** `source` is `evaluated` (run by this service) or `imported` (loaded from a published file,
named in `source_detail`). Sections and Score are always recomputed from the per-subset values by the
benchmark's definition; published leaderboard rows keep their printed Score in `published_score`.

Errors are JSON `{"detail": "..."}`: 404 for an unknown model, benchmark, section or subset, 422 for bad
parameters. GET answers carry an `ETag`; send it back in `If-None-Match` for a 304.
""".replace("RULE", LEADERBOARD_RULE)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="RewardBoard", version="1", description=DESCRIPTION, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.session_factory = session_factory(engine_for(settings.resolved_database_url()))
    app.state.leaderboard_cache = LeaderboardCache(ttl_seconds=settings.leaderboard_cache_seconds)
    install_error_handlers(app)
    app.add_middleware(ETagMiddleware)
    install_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api_router)
    app.include_router(pages_router)
    return app


app = create_app()
