"""GET /healthz (the process answers), /readyz (database, broker and a recent worker heartbeat) and
/metrics (Prometheus text format, not in the API description), at the root of the site."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.http.request_log import RequestLines
from app.services.operations.health import RETRY_AFTER_S, ReadinessProbe
from app.services.operations.metrics import Metrics

router = APIRouter(tags=["health"])
NO_STORE = {"Cache-Control": "no-store"}

READY_EXAMPLE: dict[str, Any] = {
    "status": "ready",
    "checks": {
        "database": {"ok": True, "detail": "The database answered in 0.8 ms.", "ms": 0.8},
        "broker": {"ok": True, "detail": "The broker answered in 1.1 ms.", "ms": 1.1},
        "worker": {
            "ok": True,
            "detail": "1 worker seen within 120 s, the latest 4 s ago.",
            "workers": [{"worker": "celery@gpu-1", "age_s": 4.0, "queues": ["evaluations-80g"]}],
            "queues_without_worker": [],
        },
    },
}
NOT_READY_EXAMPLE: dict[str, Any] = {
    "status": "not ready",
    "detail": "The broker cannot be reached: Error 111 connecting to redis:6379. Connection refused.",
    "checks": {"broker": {"ok": False, "detail": "The broker cannot be reached: ..."}},
}


@router.get(
    "/healthz",
    summary="Liveness: the web process answers",
    responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}},
)
async def healthz() -> Response:
    """Answers without touching the database or the broker (for a container's health check)."""
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


@router.get(
    "/readyz",
    summary="Readiness: submissions can be taken and run",
    responses={
        200: {"content": {"application/json": {"example": READY_EXAMPLE}}},
        503: {
            "description": "a part is failing: `detail` names it, in words; with Retry-After",
            "content": {"application/json": {"example": NOT_READY_EXAMPLE}},
        },
    },
)
async def readyz(request: Request) -> Response:
    """The database and the broker answer and a worker heartbeat is recent (READY_HEARTBEAT_MAX_AGE_S)."""
    probe: ReadinessProbe = request.app.state.readiness
    readiness = await probe.check()
    if readiness.ready:
        return JSONResponse(readiness.as_json(), headers=NO_STORE)
    headers = {**NO_STORE, "Retry-After": str(RETRY_AFTER_S)}
    return JSONResponse(readiness.as_json(), status_code=503, headers=headers)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format. This process's requests waiting in the request log's batch are counted
    first; the database counts are read in a worker thread."""
    exposition: Metrics | None = request.app.state.metrics
    if exposition is None:
        return JSONResponse({"detail": "Metrics are switched off here (METRICS_ENABLED=false)."}, 404)
    waiting: RequestLines | None = request.app.state.request_lines
    if waiting is not None:
        waiting.flush()
    body = await run_in_threadpool(exposition.render)
    return Response(body, media_type=exposition.content_type, headers=NO_STORE)
