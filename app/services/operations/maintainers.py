"""Who may run the board: the operator token (``ADMIN_TOKEN``, for scripts and the embedded default) and
the maintainers list (Hugging Face user names, signed in through the existing sign-in).

A request is a maintainer's when it carries ``Authorization: Bearer <ADMIN_TOKEN>``, or when its session
belongs to a signed-in user on ``MAINTAINERS``, or to a browser that signed in to /admin with the token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config import Settings

OPERATOR = "operator"
MIN_TOKEN_LENGTH = 32
# Values people paste from examples; refused like a short token.
WELL_KNOWN_TOKENS = frozenset({"change-me", "changeme", "admin", "secret", "dev-only-change-me"})


class AccessDenied(Exception):
    """Not a maintainer: ``status_code`` 401 (no or wrong credentials) or 403 (signed in, not on the list)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does a maintainer action: a maintainer's Hub name, or ``operator`` for the token."""

    name: str
    via: str  # "token", "session" or "admin-session"


def check_admin_token(settings: Settings) -> None:
    """Refuse an operator token anyone could guess, as the secret key's default is refused."""
    from app.config import ConfigurationError

    token = settings.resolved_admin_token()
    if not token:
        return
    source = "ADMIN_TOKEN" if settings.admin_token else "the admin token file"
    if token.lower() in WELL_KNOWN_TOKENS or token == settings.secret_key:
        raise ConfigurationError(
            f"{source} is a well-known value or equals SECRET_KEY. Set it to a long random string "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(
            f"{source} is {len(token)} characters; an operator token needs at least {MIN_TOKEN_LENGTH}. "
            "Use `python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
        )


def ensure_embedded_token(settings: Settings) -> Path | None:
    """In the embedded default without a token, write one to ``data/admin-token`` (owner-only) and say where.

    Returns the file when this call made it; None when a token was configured or the file already exists.
    """
    if not settings.is_development or settings.admin_token or settings.admin_token_file:
        return None
    path = settings.data_dir / "admin-token"
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    return path


class MaintainerAccess:
    """Decides whether a request's credentials make it a maintainer's."""

    def __init__(self, token: str, maintainers: list[str], secret_key: str) -> None:
        self._token = token
        self._maintainers = frozenset(name.strip().lower() for name in maintainers if name.strip())
        self._secret_key = secret_key

    @classmethod
    def from_settings(cls, settings: Settings) -> MaintainerAccess:
        return cls(settings.resolved_admin_token(), settings.maintainers, settings.secret_key)

    @property
    def token_configured(self) -> bool:
        return bool(self._token)

    def is_maintainer(self, user: str | None) -> bool:
        return bool(user) and user is not None and user.lower() in self._maintainers

    def token_matches(self, presented: str) -> bool:
        return bool(self._token) and hmac.compare_digest(presented.encode(), self._token.encode())

    def session_mark(self) -> str:
        """What an /admin sign-in with the token keeps in the session: changes when the token changes."""
        message = b"admin:" + self._token.encode()
        return hmac.new(self._secret_key.encode(), message, hashlib.sha256).hexdigest()

    def actor(
        self, *, authorization: str | None, session_user: str | None, session_mark: str | None
    ) -> Actor:
        """The maintainer behind these credentials, or AccessDenied saying what is missing."""
        if authorization:
            scheme, _, presented = authorization.partition(" ")
            if scheme.lower() != "bearer" or not presented.strip():
                raise AccessDenied("Send the operator token as `Authorization: Bearer <token>`.", 401)
            if not self.token_matches(presented.strip()):
                raise AccessDenied("The operator token is not valid.", 401)
            return Actor(OPERATOR, "token")
        if session_mark and self._token and hmac.compare_digest(session_mark, self.session_mark()):
            return Actor(OPERATOR, "admin-session")
        if session_user:
            if self.is_maintainer(session_user):
                return Actor(session_user, "session")
            raise AccessDenied(f"{session_user} is not a maintainer of this board.", 403)
        raise AccessDenied(
            "This needs a maintainer: send the operator token (`Authorization: Bearer <token>`) or sign in "
            "as a maintainer.",
            401,
        )
