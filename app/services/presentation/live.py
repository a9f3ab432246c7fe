"""Following a run: a submission's status in words (phase, progress, ETA, current subset, failure advice,
result link), the queue as a whole, and the server-sent event stream that pushes either when it changes.

A stream reads the status with a short session of its own per poll (no database connection is held
between events), sends it when it changed, a comment now and then to keep proxies from closing the
connection, and ends when the client goes away, when there is nothing left to follow (a finished
submission, an idle queue) or after ``STREAM_SECONDS``; the browser's EventSource reconnects by itself.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Literal

from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from app.db.models import SubmissionStatus
from app.db.repositories import results as results_repo
from app.db.repositories import submissions as submissions_repo
from app.errors import NotFoundError, TryAgainLaterError
from app.services.intake.submissions import SubmissionView, describe, format_duration, queue_overview
from app.services.results.failure_advice import advice_for
from app.templating import format_score, model_path

POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 25.0
RETRY_MS = 2000
MAX_STREAMS = 200  # per process; past it a client is told to come back (and the page polls instead)

Phase = Literal["queued", "loading", "scoring", "finishing", "succeeded", "failed", "cancelled"]


class LiveStatus(BaseModel):
    """One submission as it runs, with a sentence that says where it is."""

    id: int
    url: str
    model: str
    model_url: str
    status: str
    active: bool = Field(description="queued or running: more events will follow")
    phase: Phase
    headline: str = Field(description="where the run is, in words")
    queue_position: int | None
    queue_length: int | None
    eta_seconds: int | None
    eta_text: str | None
    progress_done: int
    progress_total: int
    progress_subset: str | None = Field(description="the subset most of the examples scored last are from")
    failure_kind: str | None
    failure_message: str | None
    advice: str | None = Field(description="for a failed run: what the submitter can do")
    result_url: str | None = Field(description="for a finished run: its result on the model page")
    score: float | None
    score_interval: list[float] | None


class QueueStatus(BaseModel):
    running: list[LiveStatus]
    waiting: list[LiveStatus]
    recent: list[LiveStatus]
    typical_run_seconds: int
    estimate_is_default: bool
    active: bool = Field(description="something is running or waiting: more events will follow")


_FINISHED: dict[str, Phase] = {
    SubmissionStatus.SUCCEEDED: "succeeded",
    SubmissionStatus.FAILED: "failed",
    SubmissionStatus.CANCELLED: "cancelled",
}


def _phase(view: SubmissionView) -> Phase:
    if view.status == SubmissionStatus.RUNNING:
        if not view.progress_total:
            return "loading"
        return "scoring" if view.progress_done < view.progress_total else "finishing"
    return _FINISHED.get(view.status, "queued")


def _headline(view: SubmissionView, phase: Phase, queue_length: int | None, score: str | None) -> str:
    eta = format_duration(view.eta_seconds)
    if phase == "queued":
        where = (
            f"Waiting: position {view.queue_position} of {queue_length} in the queue"
            if view.queue_position
            else "Waiting in the queue"
        )
        if not view.sent_to_worker:
            where += (
                " (the task queue cannot be reached right now; it is queued automatically once it is back)"
            )
        return f"{where}; expected to finish in {eta}."
    if phase == "loading":
        return f"Running: loading the model and the data; expected to finish in {eta}."
    if phase == "scoring":
        now = f"; now mostly {view.progress_subset}" if view.progress_subset else ""
        done, total = view.progress_done, view.progress_total
        return (
            f"Running: {done:,} of {total:,} examples scored{now}; about {eta.removeprefix('about ')} to go."
        )
    if phase == "finishing":
        return "Running: every example is scored; computing the result and its intervals."
    if phase == "succeeded":
        return f"Finished: Score {score}." if score else "Finished."
    if phase == "failed":
        return f"Failed: {view.failure_message or 'the run stopped'}"
    return "Cancelled."


def _rounded(seconds: int | None) -> int | None:
    """An estimate to 10 s: finer would only make every poll a change."""
    return None if seconds is None else int(round(seconds, -1))


def live_status(session: Session, view: SubmissionView, queue_length: int | None = None) -> LiveStatus:
    phase = _phase(view)
    result_url = score_text = None
    score: float | None = None
    interval: list[float] | None = None
    if phase == "succeeded":
        result = results_repo.result_by_submission(session, view.id)
        if result is not None:
            result_url = f"/models/{model_path(view.model)}?result={result.id}"
            score = result.score
            if result.score_low is not None and result.score_high is not None:
                interval = [result.score_low, result.score_high]
            score_text = format_score(score) + (
                f" (95% interval {format_score(interval[0])}–{format_score(interval[1])})" if interval else ""
            )
    if phase == "queued" and queue_length is None:
        queue_length = len(submissions_repo.queue_order(session))
    return LiveStatus(
        id=view.id,
        url=view.url,
        model=view.model,
        model_url="/models/" + model_path(view.model),
        status=view.status,
        active=view.active,
        phase=phase,
        headline=_headline(view, phase, queue_length, score_text),
        queue_position=view.queue_position,
        queue_length=queue_length if phase == "queued" else None,
        eta_seconds=_rounded(view.eta_seconds) if view.active else None,
        eta_text=format_duration(view.eta_seconds) if view.active else None,
        progress_done=view.progress_done,
        progress_total=view.progress_total,
        progress_subset=view.progress_subset if phase == "scoring" else None,
        failure_kind=view.failure_kind,
        failure_message=view.failure_message,
        advice=advice_for(view.failure_kind) if phase == "failed" else None,
        result_url=result_url,
        score=score,
        score_interval=interval,
    )


def submission_status(session: Session, submission_id: int) -> LiveStatus:
    view = describe(session, submission_id)
    if view is None:
        raise NotFoundError(f"Submission {submission_id} does not exist.")
    return live_status(session, view)


def queue_status(session: Session, *, recent: int = 20) -> QueueStatus:
    overview = queue_overview(session, recent=recent)
    length = len(overview.waiting)
    return QueueStatus(
        running=[live_status(session, view) for view in overview.running],
        waiting=[live_status(session, view, length) for view in overview.waiting],
        recent=[live_status(session, view) for view in overview.recent],
        typical_run_seconds=overview.typical_run_seconds,
        estimate_is_default=overview.estimate_is_default,
        active=bool(overview.running or overview.waiting),
    )


# Streams --------------------------------------------------------------------------------------------------


class StreamGauge:
    """How many event streams this process serves now; refuses one past ``limit``."""

    def __init__(self, limit: int = MAX_STREAMS) -> None:
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            if self.open >= self.limit:
                raise TryAgainLaterError(
                    "Too many live views are open right now; this page updates by polling instead.",
                    status_code=503,
                    retry_after_s=10,
                )
            self.open += 1

    def leave(self) -> None:
        with self._lock:
            self.open -= 1


def read_with(factory: sessionmaker[Session], read: Callable[[Session], BaseModel]) -> BaseModel:
    """One read in a session of its own, closed (its connection returned) before this returns."""
    with factory() as session:
        return read(session)


def _event(name: str, data: str, event_id: int | None = None) -> str:
    head = f"event: {name}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return head + "".join(f"data: {line}\n" for line in data.splitlines() or [""]) + "\n"


async def event_stream(
    request: Request,
    factory: sessionmaker[Session],
    read: Callable[[Session], BaseModel],
    first: BaseModel,
    *,
    poll_seconds: float = POLL_SECONDS,
    stream_seconds: float = STREAM_SECONDS,
) -> AsyncIterator[str]:
    """``status`` events (JSON) whenever the read changes; ``end`` when there is nothing left to follow."""
    started = sent_at = time.monotonic()
    count = 1
    last = first.model_dump_json()
    yield f"retry: {RETRY_MS}\n\n" + _event("status", last, count)
    current = first
    while getattr(current, "active", False):
        await asyncio.sleep(poll_seconds)
        if await request.is_disconnected():
            return
        current = await run_in_threadpool(read_with, factory, read)
        payload = current.model_dump_json()
        now = time.monotonic()
        if payload != last:
            count += 1
            last, sent_at = payload, now
            yield _event("status", payload, count)
        elif now - sent_at >= KEEPALIVE_SECONDS:
            sent_at = now
            yield ": still here\n\n"
        if now - started >= stream_seconds:
            return  # the client reconnects (retry) and gets a fresh stream
    yield _event("end", "{}")


class EventStreamResponse(StreamingResponse):
    """A text/event-stream answer that counts itself in a ``StreamGauge`` until it is over, however it
    ends (finished, client gone, cancelled)."""

    def __init__(self, content: AsyncIterator[str], gauge: StreamGauge) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.gauge = gauge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.gauge.leave()
