"""Structured logs: one line per request, and a request id on every line logged while it is answered.

The id comes from the client's ``X-Request-ID`` when it is short and made of safe characters (letters,
digits, ``.``, ``_``, ``:``, ``-``; at most 64), else it is generated; it goes back in the answer's
``X-Request-ID``. It lives in a context variable, which the request's threads (``run_in_threadpool``)
inherit, and a logging filter puts it on every record. ``LOG_FORMAT=json`` writes one JSON object a line
(time, level, logger, message, request_id and the record's extra fields); ``text`` is for a terminal.
The request line's fields: method, route (the template, as in the metrics), status, duration_ms.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from typing import Any, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.http.metrics import open_route_slot, route_template

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
_HANDLER_NAME = "rewardboard"
NO_REQUEST = "-"

request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)
log = logging.getLogger("rewardboard.request")


def incoming_request_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The client's X-Request-ID when it is safe to log and echo; None otherwise."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            return value.decode("ascii") if _SAFE_REQUEST_ID.fullmatch(value) else None
    return None


def new_request_id() -> str:
    return os.urandom(8).hex()


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (``-`` outside a request) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is written out.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ms), level, logger, message, request_id, extra fields, exception."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # one strftime a second, not one a line
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", NO_REQUEST)
        if rid != NO_REQUEST:
            entry["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


def configure_logging(settings: Settings) -> None:
    """One handler on the root logger, in the configured format, adding request ids; safe to call again.

    In JSON, uvicorn's own lines go through it too; with the request log on, uvicorn's access log (the
    same request, without the id) is turned off.
    """
    root = logging.getLogger()
    handler = next((found for found in root.handlers if found.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        handler.set_name(_HANDLER_NAME)
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    json_lines = settings.resolved_log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root.setLevel(settings.log_level)
    if json_lines:
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            uvicorn_logger = logging.getLogger(name)
            uvicorn_logger.handlers.clear()
            uvicorn_logger.propagate = True
    if settings.request_log:
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
        log.setLevel(logging.INFO)


class RequestLogMiddleware:
    """Sets the request id, echoes it, and logs the request's line when it is answered (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope["headers"]) or new_request_id()
        token = request_id.set(rid)
        open_route_slot(scope)
        id_header = (REQUEST_ID_HEADER, rid.encode("ascii"))
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            method, route = scope["method"], route_template(scope)
            log.log(
                logging.WARNING if status >= 500 else logging.INFO,
                "%s %s %s %.1f ms",
                method,
                route,
                status,
                duration_ms,
                extra={"method": method, "route": route, "status": status, "duration_ms": duration_ms},
            )
            request_id.reset(token)
