"""Domain errors carry their HTTP status; one handler renders JSON under /api and a page elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    return "; ".join(_error_text(error, exc.body) for error in exc.errors()) or "invalid request"


def _error_text(error: Mapping[str, Any], body: Any) -> str:
    where, kind = tuple(error.get("loc", ())), error.get("type")
    if kind == "json_invalid":
        return _json_error_message(error, body)
    if where == ("body",) and kind == "missing":
        return "the request body is empty: send a JSON object"
    if where == ("body",) and kind in ("model_attributes_type", "model_type", "dict_type"):
        return "the request body must be a JSON object"
    location = ".".join(str(item) for item in where if item not in ("query", "path", "body"))
    return f"{location}: {error.get('msg', 'invalid')}" if location else str(error.get("msg"))


def _json_error_message(error: Mapping[str, Any], body: Any) -> str:
    """Where the body stops being JSON, as line and column, and what the parser expected there."""
    reason = str(error.get("ctx", {}).get("error") or "malformed")
    position = error.get("loc", ())[-1]
    if not isinstance(body, str) or not isinstance(position, int):
        return f"the request body is not valid JSON ({reason})"
    line = body.count("\n", 0, position) + 1
    column = position - body.rfind("\n", 0, position)
    return f"the request body is not valid JSON (line {line}, column {column}: {reason})"


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
