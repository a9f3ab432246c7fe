"""A CSRF-protected form page: the token for the form and the cookie that must come back with it."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from app.config import Settings
from app.http.csrf import CSRF_COOKIE, CSRF_FIELD, sign_csrf_nonce, valid_csrf_token
from app.templating import templates


def form_page(
    request: Request,
    settings: Settings,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    no_store: bool = True,
) -> HTMLResponse:
    token = request.cookies.get(CSRF_COOKIE)
    if not valid_csrf_token(settings, token):
        token = sign_csrf_nonce(settings, secrets.token_urlsafe(24))
    full = {"csrf_token": token, "csrf_field": CSRF_FIELD, **context}
    response = templates.TemplateResponse(request, template, full, status_code=status_code)
    secure = request.url.scheme == "https"
    response.set_cookie(CSRF_COOKIE, token or "", httponly=True, samesite="strict", secure=secure, path="/")
    if no_store:
        response.headers["Cache-Control"] = "no-store"
    return response


def expired_form(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "status_code": 403,
            "message": "The form expired or came from another site. Reload the page and try again.",
        },
        status_code=403,
    )
