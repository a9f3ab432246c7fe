"""The web application: JSON API under /api/v1, server-rendered pages, static files, error handlers."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.api.docs import install_docs
from app.api.http_cache import ETagMiddleware
from app.api.router import api_router
from app.api.routes import health
from app.auth.hf_oauth import install_sign_in
from app.config import Settings, get_settings
from app.db.session import PoolOptions, engine_for, session_factory
from app.errors import install_error_handlers
from app.http.body_limit import BodySizeLimitMiddleware
from app.http.compression import GzipMiddleware
from app.http.head_requests import HeadAsGetMiddleware
from app.http.log_format import configure_logging
from app.http.request_guard import RequestGuardMiddleware
from app.http.request_log import RequestLines, RequestLogMiddleware
from app.http.security_headers import SecurityHeadersMiddleware
from app.http.server_errors import ServerErrorMiddleware
from app.pages.router import pages_router
from app.schemas.leaderboard import LEADERBOARD_RULE
from app.services.intake.client_limits import check_limiter
from app.services.intake.hub_gate import HubGate
from app.services.operations.health import ReadinessProbe
from app.services.operations.maintainers import MaintainerAccess
from app.services.operations.metrics import Metrics
from app.services.presentation.leaderboard_cache import LeaderboardCache
from app.services.presentation.live import StreamGauge
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
parameters, 413 for a body over the size limit, 429 (with `Retry-After`) past a submission or check
limit, 503 (with `Retry-After`) while the Hub or the database cannot answer, 500 for anything unexpected.
GET answers carry an `ETag`; send it back in `If-None-Match` for a 304. Every GET route answers HEAD.
Answers are gzipped when `Accept-Encoding` allows it (their ETag is then weak).

**Parameters.** `parameters` is the count stored at submission (the Hub's safetensors metadata) and
`active_parameters` a mixture of experts' count per token; without a stored count, `parameters_from_name` is
the size the model's name states; `parameters_source` says which (`hub`, `name`, or null).

**Intervals.** Evaluated results carry 95% bootstrap intervals of the Score and each section
(`score_interval`, `section_intervals`); `rank_ub` is the rank upper bound (results whose intervals overlap
share it); `interval_note` says why a row has none. **Plots** at `/api/v1/plots/{name}`, **comparisons** at
`/api/v1/compare`, a submission's live **status** at `/api/v1/submissions/{id}/status` and the same as
server-sent events at `/api/v1/submissions/{id}/events` (the queue: `/api/v1/queue`, `/api/v1/queue/events`).
""".replace("RULE", LEADERBOARD_RULE)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_safe_to_serve()
    configure_logging(settings)
    app = FastAPI(title="RewardBoard", version="1", description=DESCRIPTION, docs_url=None, redoc_url=None)
    app.state.settings = settings
    engine = engine_for(
        settings.resolved_database_url(), PoolOptions.from_settings(settings), create_sqlite_file=False
    )
    app.state.session_factory = session_factory(engine)
    app.state.leaderboard_cache = LeaderboardCache(ttl_seconds=settings.leaderboard_cache_seconds)
    app.state.live_streams = StreamGauge()
    app.state.hub_gate = HubGate(
        slots=settings.hub_concurrency, wait_s=settings.hub_queue_wait_s, deadline_s=settings.hub_deadline_s
    )
    app.state.check_limiter = check_limiter(settings)
    app.state.readiness = ReadinessProbe.from_settings(settings, app.state.session_factory)
    app.state.metrics = (
        Metrics.from_settings(settings, app.state.session_factory, app.state.hub_gate)
        if settings.metrics_enabled
        else None
    )
    app.state.maintainer_access = MaintainerAccess.from_settings(settings)
    install_error_handlers(app)
    # Middlewares, innermost first (each add_middleware wraps the ones before it).
    app.add_middleware(ETagMiddleware)
    app.add_middleware(GzipMiddleware)
    install_sign_in(app, settings)
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(RequestGuardMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    app.add_middleware(ServerErrorMiddleware)
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    # Outermost: the request id, log line and latency (as the client sees it) around everything, and the
    # security headers in the same layer (each layer costs every request a little, on every await).
    request_metrics = app.state.metrics.requests if app.state.metrics is not None else None
    app.state.request_lines = None
    if settings.request_log or request_metrics is not None:
        app.state.request_lines = RequestLines(metrics=request_metrics, log_lines=settings.request_log)
        app.add_middleware(RequestLogMiddleware, lines=app.state.request_lines, security_headers=True)
        app.router.on_shutdown.append(app.state.request_lines.flush)
    else:
        app.add_middleware(SecurityHeadersMiddleware)
    install_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(health.router)
    app.include_router(api_router)
    app.include_router(pages_router)
    return app


def __getattr__(name: str) -> FastAPI:
    """``app.main:app`` for ASGI servers, built from the environment when first asked for."""
    if name == "app":
        return create_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
