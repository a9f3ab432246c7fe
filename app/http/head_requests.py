"""HEAD on every GET route: the request runs as a GET and the answer goes out without its body.

Starlette adds HEAD to plain routes but FastAPI's API routes take only the methods they declare. The GET
answer keeps its headers (Content-Length included), as HTTP asks of a HEAD answer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        body_sent = False

        async def headers_only(message: Message) -> None:
            nonlocal body_sent
            if message["type"] != "http.response.body":
                await send(message)
                return
            if not body_sent and not message.get("more_body", False):
                body_sent = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        # A copy: the server keeps its own scope, so it still knows the request was a HEAD.
        await self.app({**scope, "method": "GET"}, receive, headers_only)
