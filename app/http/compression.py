"""Gzip for pages, JSON, CSV, SVG, scripts and styles when the client accepts it (pure ASGI, buffered).

An answer that already has a Content-Encoding (the cached leaderboard bodies, compressed once when they are
built) goes out as it is; static files are compressed once per version (their ETag); server-sent event
streams pass through unbuffered. A compressed answer's ETag is
made weak (the same representation, another encoding), so If-None-Match with it still gets a 304.
"""

from __future__ import annotations

import gzip
from collections import OrderedDict

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIN_SIZE = 512  # smaller bodies gain nothing worth the header
COMPRESSIBLE = (
    "text/",
    "application/json",
    "application/javascript",
    "application/atom+xml",
    "image/svg+xml",
)
EVENT_STREAM = "text/event-stream"


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding value allows gzip (named, or ``*``, with a non-zero q)."""
    for part in (accept_encoding or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        quality = params.strip().removeprefix("q=").strip() if params.strip().startswith("q=") else "1"
        try:
            return float(quality) > 0
        except ValueError:
            return False
    return False


def gzip_bytes(body: bytes) -> bytes:
    """The body gzipped, the same bytes for the same input (no timestamp)."""
    return gzip.compress(body, compresslevel=6, mtime=0)


def weak_etag(etag: str) -> str:
    return etag if etag.startswith("W/") else "W/" + etag


def _compressible(headers: Headers) -> bool:
    content_type = headers.get("content-type", "")
    return (
        content_type.startswith(COMPRESSIBLE)
        and not content_type.startswith(EVENT_STREAM)
        and "content-encoding" not in headers
    )


STATIC_PREFIX = "/static/"
STATIC_ENTRIES = 64


class GzipMiddleware:
    def __init__(self, app: ASGIApp, *, min_size: int = MIN_SIZE) -> None:
        self.app = app
        self.min_size = min_size
        self._static: OrderedDict[tuple[str, str], bytes] = OrderedDict()  # (path, ETag) -> gzipped

    def _compressed(self, path: str, etag: str | None, body: bytes) -> bytes:
        if etag is None or not path.startswith(STATIC_PREFIX):
            return gzip_bytes(body)
        key = (path, etag)
        packed = self._static.get(key)
        if packed is None:
            packed = self._static[key] = gzip_bytes(body)
            while len(self._static) > STATIC_ENTRIES:
                self._static.popitem(last=False)
        return packed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wants_gzip = accepts_gzip(Headers(scope=scope).get("accept-encoding"))
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffered_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if not _compressible(Headers(raw=message["headers"])):
                    await send(message)
                    return
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await _finish(start, b"".join(chunks))

        async def _finish(message: Message, body: bytes) -> None:
            headers = MutableHeaders(scope=message)
            headers.add_vary_header("Accept-Encoding")
            if wants_gzip and len(body) >= self.min_size:
                body = self._compressed(scope["path"], headers.get("etag"), body)
                headers["content-encoding"] = "gzip"
                headers["content-length"] = str(len(body))
                if "etag" in headers:
                    headers["etag"] = weak_etag(headers["etag"])
            await send(message)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered_send)


def precompressed(
    accept_encoding: str | None, plain: bytes, gzipped: bytes, etag: str
) -> tuple[bytes, dict[str, str]]:
    """The body and headers for an answer kept in both encodings: gzipped when the client accepts it."""
    headers = {"Vary": "Accept-Encoding"}
    if accepts_gzip(accept_encoding) and len(plain) >= MIN_SIZE:
        return gzipped, {**headers, "Content-Encoding": "gzip", "ETag": weak_etag(etag)}
    return plain, {**headers, "ETag": etag}
