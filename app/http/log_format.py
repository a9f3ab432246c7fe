"""How log lines look: one JSON object a line (``LOG_FORMAT=json``) or text for a terminal, with the request
id on every record logged while a request is answered, and the records that carry request lines.

``configure_logging`` puts one handler on the root logger (stderr, the configured format, the request id
filter); in JSON uvicorn's own lines go through it too. A JSON line has time (UTC, ms), level, logger,
message, request_id (inside a request), the record's ``extra=`` fields and the exception, if any.

The request log (``app.http.request_log``) hands its lines over in batches, as one ``RequestLinesRecord``
each: the formatters here write it as one line per request, with that request's own time, level and id.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any, NamedTuple, TextIO

from app.config import Settings

NO_REQUEST = "-"
HANDLER_NAME = "rewardboard"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id (``-`` outside a request) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class RequestLine(NamedTuple):
    """One answered request, as the request log keeps it until its batch is written."""

    created: float  # time.time() when the answer was done
    level: int
    method: str
    route: str  # the route template
    status: int
    seconds: float  # from the request's start to its answer's end
    request_id: str

    @property
    def duration_ms(self) -> float:
        """What the log writes: milliseconds, to 0.1 ms (halves up)."""
        return _tenths_of_ms(self.seconds) / 10

    @property
    def message(self) -> str:
        return f"{self.method} {self.route} {self.status} {self.duration_ms:.1f} ms"


class _TextOfLines:
    """A batch's message for any other formatter: its lines as text, made only when asked for."""

    def __init__(self, lines: Sequence[RequestLine]) -> None:
        self.lines = lines

    def __str__(self) -> str:
        return "\n".join(f"[{line.request_id}] {line.message}" for line in self.lines)


class RequestLinesRecord(logging.LogRecord):
    """A batch of request lines; its level is the highest of theirs."""

    def __init__(self, name: str, lines: Sequence[RequestLine]) -> None:
        level = max(line.level for line in lines)
        super().__init__(name, level, __file__, 0, _TextOfLines(lines), None, None)
        self.lines = lines


_encode_entry = json.JSONEncoder(default=str, ensure_ascii=False).encode
# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is written out.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
_MILLISECONDS = [f"{ms:03d}" for ms in range(1000)]
# A duration's text, the same as repr() and "%.1f" of duration_ms, kept made up to 1 s.
_DURATIONS_KEPT = 10_000
_DURATIONS = [f"{tenths // 10}.{tenths % 10}" for tenths in range(_DURATIONS_KEPT)]
_HEADS_LIMIT = 1024
_line_heads: dict[tuple[str, int, str, str], tuple[str, str]] = {}


def _tenths_of_ms(seconds: float) -> int:
    return int(seconds * 10_000 + 0.5)


def _duration_text(seconds: float) -> str:
    tenths = _tenths_of_ms(seconds)
    return _DURATIONS[tenths] if tenths < _DURATIONS_KEPT else f"{tenths // 10}.{tenths % 10}"


def _line_head(logger: str, level: int, method: str, route: str) -> tuple[str, str]:
    """The parts of a request line that only depend on its logger, level, method and route: from
    ``"level"`` to the message's route, and the method and route fields (kept for the next lines)."""
    message_start = json.dumps(f"{method} {route} ")[:-1]  # still open: status and duration follow
    level_name = logging.getLevelName(level)
    head = (
        f'"level": "{level_name}", "logger": {json.dumps(logger)}, "message": {message_start}',
        f'"method": {json.dumps(method)}, "route": {json.dumps(route)}, ',
    )
    if len(_line_heads) < _HEADS_LIMIT:
        _line_heads[(logger, level, method, route)] = head
    return head


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # one strftime a second, not one a line
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{_MILLISECONDS[int((created - second) * 1000)]}Z"

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record, RequestLinesRecord):
            return "\n".join(self._request_line(record.name, line) for line in record.lines)
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
        return _encode_entry(entry)

    def _request_line(self, logger: str, line: RequestLine) -> str:
        """The object ``format`` would write for a record with the line's fields as ``extra=``, put
        together directly: it is written for every request. The texts a line shares with others (the
        logger, method and route) are quoted once; a request id is letters, digits and ``._:-`` only."""
        created, level, method, route, status, seconds, rid = line
        head = _line_heads.get((logger, level, method, route)) or _line_head(logger, level, method, route)
        second = int(created)
        if second != self._second:
            self._time(created)
        duration = _duration_text(seconds)
        return (
            f'{{"time": "{self._second_text}.{_MILLISECONDS[int((created - second) * 1000)]}Z", '
            f'{head[0]}{status} {duration} ms", "request_id": "{rid}", {head[1]}"status": {status}, '
            f'"duration_ms": {duration}}}'
        )


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if not isinstance(record, RequestLinesRecord):
            return super().format(record)
        return "\n".join(
            f"{self._time(line.created)} {logging.getLevelName(line.level)} {record.name} "
            f"[{line.request_id}] {line.message}"
            for line in record.lines
        )

    def _time(self, created: float) -> str:
        return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(created))},{int(created % 1 * 1000):03d}"


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
    same request, without the id) is turned off, with no handler for uvicorn to find.
    """
    root = logging.getLogger()
    handler = next((found for found in root.handlers if found.get_name() == HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        handler.set_name(HANDLER_NAME)
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    json_lines = settings.resolved_log_format == "json"
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root.setLevel(settings.log_level)
    if json_lines:
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            uvicorn_logger = logging.getLogger(name)
            uvicorn_logger.handlers.clear()
            uvicorn_logger.propagate = True
    if settings.request_log:
        # Off, not just quiet: uvicorn builds each access line's arguments (client, quoted path) whenever
        # its logger has a handler anywhere up the tree, before the level is looked at.
        access = logging.getLogger("uvicorn.access")
        access.handlers.clear()
        access.propagate = False
        access.setLevel(logging.WARNING)
