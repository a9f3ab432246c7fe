"""One way to answer an error: JSON ``{"detail": ...}`` under /api, the error page elsewhere."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import HTMLResponse, JSONResponse, Response


def is_api_path(path: str) -> bool:
    return path.startswith("/api/") or path == "/openapi.json"


def error_response(
    path: str, status_code: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    if is_api_path(path):
        return JSONResponse({"detail": message}, status_code=status_code, headers=headers)
    from app.templating import templates

    body = templates.get_template("error.html").render(status_code=status_code, message=message)
    return HTMLResponse(body, status_code=status_code, headers=headers)
