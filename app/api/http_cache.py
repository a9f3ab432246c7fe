"""ETag and Cache-Control for GET responses, with 304 on a matching If-None-Match (pure ASGI, buffered;
server-sent event streams pass through unbuffered)."""

from __future__ import annotations

import hashlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CACHE_CONTROL = "public, max-age=10"
PAGE_CACHE_CONTROL = "no-cache"
EVENT_STREAM = "text/event-stream"
# Files streamed from disk with their own ETag (data snapshots): never buffered in memory here.
STREAMED_FILES = ("application/vnd.apache.parquet",)


def make_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag.removeprefix("W/") in candidates


class ETagMiddleware:
    """Adds an ETag (a hash of the body, unless the route set one) and a Cache-Control to 200 GET answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if_none_match = Headers(scope=scope).get("if-none-match")
        cache_control = API_CACHE_CONTROL if scope["path"].startswith("/api/") else PAGE_CACHE_CONTROL
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffered_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = Headers(raw=message["headers"]).get("content-type", "")
                if content_type.startswith(STREAMED_FILES):
                    MutableHeaders(scope=message).setdefault("cache-control", cache_control)
                streaming = content_type.startswith((EVENT_STREAM, *STREAMED_FILES))
                if message["status"] != 200 or streaming:
                    await send(message)  # event streams and files go out as they come, never buffered
                    return
                start = message
                return
            if start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await _finish(start, b"".join(chunks))

        async def _finish(message: Message, body: bytes) -> None:
            headers = MutableHeaders(scope=message)
            etag = headers.get("etag") or make_etag(body)
            headers["etag"] = etag
            headers.setdefault("cache-control", cache_control)
            if etag_matches(if_none_match, etag):
                del headers["content-length"]
                if "content-type" in headers:
                    del headers["content-type"]
                await send({**message, "status": 304, "headers": headers.raw})
                await send({"type": "http.response.body", "body": b""})
                return
            await send(message)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered_send)
