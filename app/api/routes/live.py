"""Live status of submissions and of the queue: JSON, and the same as server-sent events.

The event routes are async and take no request session: each poll of a stream reads in a short session of
its own, so an open stream holds no database connection between events.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool

from app.api.deps import SessionDep, SessionFactoryDep
from app.services.presentation import live

router = APIRouter(tags=["submissions"])
SubmissionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EVENTS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
        "description": "server-sent events: `status` (the JSON status, whenever it changes) and `end`",
    },
    503: {"description": "too many live views open; poll the JSON status instead (see Retry-After)"},
}


def _gauge(request: Request) -> live.StreamGauge:
    gauge: live.StreamGauge = request.app.state.live_streams
    return gauge


def _poll_seconds(request: Request) -> float:
    return float(getattr(request.app.state, "live_poll_seconds", live.POLL_SECONDS))


@router.get("/submissions/{submission_id}/status", response_model=live.LiveStatus, responses={404: {}})
def submission_status(submission_id: SubmissionId, session: SessionDep) -> live.LiveStatus:
    """Where a submission is, in numbers and words: queue position and ETA, examples scored of the total
    with the subset being scored, then a link to its result, or the failure's reason and what to do."""
    return live.submission_status(session, submission_id)


@router.get(
    "/submissions/{submission_id}/events",
    status_code=200,
    response_class=live.EventStreamResponse,
    responses=EVENTS,
)
async def submission_events(
    submission_id: SubmissionId, request: Request, sessions: SessionFactoryDep
) -> live.EventStreamResponse:
    """The submission's status as server-sent events until it finishes (reconnect to follow further)."""
    read = partial(live.submission_status, submission_id=submission_id)
    first = await run_in_threadpool(live.read_with, sessions, read)  # 404 before anything is streamed
    gauge = _gauge(request)
    gauge.enter()
    stream = live.event_stream(request, sessions, read, first, poll_seconds=_poll_seconds(request))
    return live.EventStreamResponse(stream, gauge)


@router.get("/queue", response_model=live.QueueStatus)
def queue(session: SessionDep) -> live.QueueStatus:
    """What runs, what waits (positions and ETAs) and what finished lately."""
    return live.queue_status(session)


@router.get("/queue/events", status_code=200, response_class=live.EventStreamResponse, responses=EVENTS)
async def queue_events(request: Request, sessions: SessionFactoryDep) -> live.EventStreamResponse:
    """The queue as server-sent events while anything runs or waits; an idle queue gets one event."""
    first = await run_in_threadpool(live.read_with, sessions, live.queue_status)
    gauge = _gauge(request)
    gauge.enter()
    stream = live.event_stream(
        request, sessions, live.queue_status, first, poll_seconds=_poll_seconds(request)
    )
    return live.EventStreamResponse(stream, gauge)
