"""CSRF protection of the site's forms: a signed token in a cookie that the form must send back."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from fastapi import Request

from app.config import Settings

CSRF_COOKIE = "rewardboard_csrf"
CSRF_FIELD = "csrf_token"


def sign_csrf_nonce(settings: Settings, nonce: str) -> str:
    mac = hmac.new(settings.secret_key.encode(), nonce.encode(), hashlib.sha256).hexdigest()
    return f"{nonce}.{mac}"


def valid_csrf_token(settings: Settings, token: str | None) -> bool:
    if not token or "." not in token:
        return False
    nonce = token.split(".", 1)[0]
    return hmac.compare_digest(sign_csrf_nonce(settings, nonce), token)


def csrf_ok(request: Request, settings: Settings, form_token: str) -> bool:
    """Synchronizer token: the form field must equal the signed cookie, and a sent Origin must be ours."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        return False
    cookie = request.cookies.get(CSRF_COOKIE)
    return valid_csrf_token(settings, cookie) and hmac.compare_digest(cookie or "", form_token)
