"""Refuse paths and query strings holding NUL, other control characters or bytes that are not UTF-8.

Such text would reach the database (PostgreSQL refuses NUL in strings) or the logs; it is never a valid
model id, search or parameter here. A bad path answers 404 (no such page), a bad query string 422.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.error_responses import error_response

_CONTROL = frozenset(range(0x20)) | {0x7F}


def clean_text_bytes(data: bytes) -> bool:
    """True when ``data`` is UTF-8 without control characters."""
    if any(byte in _CONTROL for byte in data):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def clean_text(text: str) -> bool:
    """True when ``text`` has no control characters and no lone surrogates."""
    return clean_text_bytes(text.encode("utf-8", errors="replace")) and not any(
        "\ud800" <= char <= "\udfff" for char in text
    )


class RequestGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", errors="replace")
        path_ok = clean_text_bytes(unquote_to_bytes(raw_path.split(b"?", 1)[0])) and clean_text(scope["path"])
        if not path_ok:
            message = "Page not found: the address holds characters that are not allowed."
            response = error_response(scope["path"], 404, message)
            await response(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if query and not clean_text_bytes(unquote_to_bytes(query.replace(b"+", b" "))):
            response = error_response(
                scope["path"], 422, "The query string holds control characters or bytes that are not UTF-8."
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
