"""The last line: an exception no handler took becomes a JSON 500 under /api (the error page elsewhere).

A database that cannot be reached (connection refused, file missing, pool exhausted) answers 503 with
Retry-After instead: the request may well work a few seconds later, and the pool checks connections before
use, so the service recovers by itself when the database is back.
"""

from __future__ import annotations

import logging

from sqlalchemy import exc as sa_exc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.error_responses import error_response

log = logging.getLogger(__name__)
DATABASE_RETRY_AFTER_S = 5


def _database_unavailable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return False


class ServerErrorMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if started:
                raise
            if _database_unavailable(error):
                log.warning("database unavailable for %s %s: %s", scope["method"], scope["path"], error)
                response = error_response(
                    scope["path"],
                    503,
                    "The database is busy or cannot be reached right now; please try again in a few seconds.",
                    headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
                )
            else:
                log.exception("unhandled error for %s %s", scope["method"], scope["path"])
                response = error_response(
                    scope["path"], 500, "Something went wrong on our side; the error was logged."
                )
            await response(scope, receive, send)
