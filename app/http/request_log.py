"""The request log: one line per request (method, route template, status, duration in ms, request id),
the request id on every line logged while the request is answered, and the request's latency in the
metrics (pure ASGI middleware, outermost).

The id comes from the client's ``X-Request-ID`` when it is short and made of safe characters (letters,
digits, ``.``, ``_``, ``:``, ``-``; at most 64), else it is made: 16 hex digits, a random half drawn once
per process (again in a forked child) and a counter (``new_request_id``), unique without a system call a
request. It goes back in the answer's ``X-Request-ID``. It lives in a context variable that the request's
threads (``run_in_threadpool``) inherit; ``app.http.log_format`` puts it on every record and writes the
lines.

While a request is answered, its line costs a tuple. The lines are handed on in batches
(``RequestLines``): each batch's latencies go to the metrics histogram and its lines to logging as one
record, at most ``BATCH_DELAY_S`` after the first line of the batch, at once when ``BATCH_SIZE`` have
gathered or a line is a 5xx (a warning), before /metrics answers, and when the process exits. Done one
request at a time, between the requests' own work, a ``logging`` record and a histogram observation
cost about 10% of the cached leaderboard's CPU time; in a batch, a small part of that.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import os
import re
import time
import weakref

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.log_format import RequestLine, RequestLinesRecord, request_id
from app.http.metrics import RouteTemplates, method_label, status_class
from app.http.security_headers import with_security_headers
from app.services.operations.metrics import RequestLatency

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
BATCH_SIZE = 100
BATCH_DELAY_S = 0.2

log = logging.getLogger("rewardboard.request")


class _RequestIds:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = os.urandom(4).hex()
        self.counter = itertools.count(int.from_bytes(os.urandom(4)))


_request_ids = _RequestIds()
os.register_at_fork(after_in_child=_request_ids.reset)


def new_request_id() -> str:
    """A request id this process has not made before (for 2**32 requests), and no other process is
    likely to make."""
    return f"{_request_ids.prefix}{next(_request_ids.counter) & 0xFFFFFFFF:08x}"


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The client's X-Request-ID when it is safe to log and echo; None otherwise."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            return value.decode("ascii") if _SAFE_REQUEST_ID.fullmatch(value) else None
    return None


class RequestLines:
    """Answered requests waiting for the metrics and the log; added to from the event loop's thread."""

    def __init__(
        self,
        logger: logging.Logger = log,
        *,
        metrics: RequestLatency | None = None,
        log_lines: bool = True,
        batch_size: int = BATCH_SIZE,
        delay_s: float = BATCH_DELAY_S,
    ) -> None:
        self.logger = logger
        self.metrics = metrics
        self.log_lines = log_lines
        self.batch_size = batch_size
        self.delay_s = delay_s
        self._lines: list[RequestLine] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        _every_buffer.add(self)

    def add(self, line: RequestLine) -> None:
        lines = self._lines
        lines.append(line)
        if line.level >= logging.WARNING or len(lines) >= self.batch_size:
            self.flush()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if self._timer is None or self._timer_loop is not loop:  # a stopped loop's timer never fires
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_later(self.delay_s, self.flush)
            self._timer_loop = loop

    def flush(self) -> None:
        """Observe and log every waiting line now (in the event loop's thread, or at exit)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_loop = None
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        if self.metrics is not None:
            self.metrics.observe_many(
                (method_label(line.method), line.route, status_class(line.status), line.seconds)
                for line in lines
            )
        if self.log_lines:
            logged = [line for line in lines if self.logger.isEnabledFor(line.level)]
            if logged:
                self.logger.handle(RequestLinesRecord(self.logger.name, logged))


_every_buffer: weakref.WeakSet[RequestLines] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for lines in list(_every_buffer):
        lines.flush()


class RequestLogMiddleware:
    """Sets the request id, echoes it, and adds the request's line to ``lines`` when it is answered; with
    ``security_headers``, it also adds those (``app.http.security_headers``) in the same pass, in place of
    a layer of their own."""

    def __init__(self, app: ASGIApp, lines: RequestLines, *, security_headers: bool = False) -> None:
        self.app = app
        self.lines = lines
        self.routes = RouteTemplates()
        self.security_headers = security_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope["headers"]) or new_request_id()
        token = request_id.set(rid)
        id_header = (REQUEST_ID_HEADER, rid.encode("ascii"))
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
                headers = with_security_headers(headers) if self.security_headers else list(headers)
                headers.append(id_header)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            level = logging.WARNING if status >= 500 else logging.INFO
            line = (time.time(), level, scope["method"], self.routes.template(scope), status, seconds, rid)
            self.lines.add(tuple.__new__(RequestLine, line))  # without NamedTuple's Python-level __new__
            request_id.reset(token)
