"""Domain errors carry their HTTP status; one handler renders JSON under /api and a page elsewhere."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.http.error_responses import error_response, is_api_path


class DomainError(Exception):
    status_code = 400

    def __init__(
        self, message: str, status_code: int | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})
        if status_code is not None:
            self.status_code = status_code


class NotFoundError(DomainError):
    status_code = 404


class TryAgainLaterError(DomainError):
    """Refused for now (429 too many requests, 503 busy); ``retry_after_s`` says when to come back."""

    def __init__(self, message: str, *, status_code: int, retry_after_s: int) -> None:
        super().__init__(message, status_code, headers={"Retry-After": str(max(retry_after_s, 1))})
        self.retry_after_s = max(retry_after_s, 1)


def _is_api(request: Request) -> bool:
    return is_api_path(request.url.path)


def _render(
    request: Request, status_code: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return error_response(request.url.path, status_code, message, headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(
            str(item) for item in error.get("loc", ()) if item not in ("query", "path", "body")
        )
        parts.append(f"{location}: {error.get('msg', 'invalid')}" if location else str(error.get("msg")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """JSON {"detail": "..."} under /api, an error page elsewhere; expected failures are never 500s."""

    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        return _render(request, exc.status_code, exc.message, exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if _is_api(request) or exc.status_code not in (404, 405):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return _render(
            request,
            exc.status_code,
            "Page not found." if exc.status_code == 404 else str(exc.detail),
            exc.headers,
        )

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _render(request, 422, _validation_message(exc))

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
