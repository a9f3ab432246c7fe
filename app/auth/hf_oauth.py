"""Sign in with Hugging Face: OpenID Connect through Authlib's Starlette client.

Configured by HF_OAUTH_CLIENT_ID and HF_OAUTH_CLIENT_SECRET (HF_OAUTH_PROVIDER_URL names the provider,
the Hub by default; its discovery document gives every endpoint). The signed-in user lives in the signed
session cookie; submissions record the user's Hub name and count against the user's limit as well.
Without configuration none of this is installed and the service stays anonymous.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

from app.config import Settings
from app.http.csrf import csrf_ok
from app.http.error_responses import error_response
from app.services.intake.client_limits import SESSION_USER_KEY

SESSION_COOKIE = "rewardboard_session"
SESSION_MAX_AGE_S = 14 * 24 * 3600
PROVIDER = "huggingface"
AFTER_SIGN_IN = "/submit"

router = APIRouter(prefix="/auth", include_in_schema=False)


def install_sign_in(app: FastAPI, settings: Settings) -> None:
    """The session cookie (signed users, and /admin's sign-in with the operator token), and the /auth
    routes when Sign in with Hugging Face is configured."""
    # Lax: the provider's redirect back to /auth/callback is a cross-site navigation that must carry it.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_S,
        same_site="lax",
        https_only=not settings.is_development,
    )
    if not settings.oauth_enabled:
        return
    oauth = OAuth()
    oauth.register(
        name=PROVIDER,
        client_id=settings.hf_oauth_client_id,
        client_secret=settings.hf_oauth_client_secret,
        server_metadata_url=settings.hf_oauth_provider_url.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings.hf_oauth_scopes, "timeout": settings.hub_timeout_s},
    )
    app.state.oauth = oauth
    app.include_router(router)


def _client(request: Request) -> Any:
    return request.app.state.oauth.create_client(PROVIDER)


@router.get("/login")
async def login(request: Request) -> Response:
    """Send the visitor to the provider's sign-in page."""
    try:
        return await _client(request).authorize_redirect(request, str(request.url_for("auth_callback")))
    except OAuthError as error:
        return error_response(request.url.path, 502, f"Sign-in could not start: {error.description}.")
    except (OSError, httpx.HTTPError):
        return _provider_unreachable(request)


@router.get("/callback", name="auth_callback")
async def callback(request: Request) -> Response:
    """The provider sends the visitor back here with a code; exchange it and remember the user."""
    try:
        token = await _client(request).authorize_access_token(request)
        claims = token.get("userinfo") or await _client(request).userinfo(token=token)
    except OAuthError as error:
        message = error.description or error.error or "the provider refused"
        return error_response(request.url.path, 400, f"Sign-in failed: {message}. Please try again.")
    except (OSError, httpx.HTTPError):
        return _provider_unreachable(request)
    name = claims.get("preferred_username") or claims.get("name")
    if not isinstance(name, str) or not name:
        return error_response(request.url.path, 400, "Sign-in failed: the provider did not give a user name.")
    request.session[SESSION_USER_KEY] = {"name": name, "sub": str(claims.get("sub", ""))}
    return RedirectResponse(AFTER_SIGN_IN, status_code=303)


@router.post("/logout")
async def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    """Forget the signed-in user (a form post with the page's CSRF token)."""
    if not csrf_ok(request, request.app.state.settings, csrf_token):
        return error_response(request.url.path, 403, "The form expired. Reload the page and try again.")
    request.session.pop(SESSION_USER_KEY, None)
    return RedirectResponse(AFTER_SIGN_IN, status_code=303)


def _provider_unreachable(request: Request) -> Response:
    return error_response(
        request.url.path,
        503,
        "Hugging Face sign-in cannot be reached right now; please try again in a minute.",
        headers={"Retry-After": "60"},
    )
