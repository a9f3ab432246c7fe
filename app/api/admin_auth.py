"""The maintainer dependency of the admin API and the /admin pages (app.services.operations.maintainers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.errors import DomainError
from app.services.intake.client_limits import SESSION_USER_KEY
from app.services.operations.maintainers import AccessDenied, Actor, MaintainerAccess

ADMIN_SESSION_KEY = "admin"


class NotAMaintainerError(DomainError):
    """401 (with a Bearer challenge) or 403: the request is not a maintainer's."""

    def __init__(self, denied: AccessDenied) -> None:
        challenge = {"WWW-Authenticate": 'Bearer realm="rewardboard-admin"'}
        headers = challenge if denied.status_code == 401 else {}
        super().__init__(denied.message, denied.status_code, headers=headers)


def maintainer_access(request: Request) -> MaintainerAccess:
    access: MaintainerAccess = request.app.state.maintainer_access
    return access


def session_user(request: Request) -> str | None:
    if "session" not in request.scope:
        return None
    signed_in = request.session.get(SESSION_USER_KEY)
    if isinstance(signed_in, dict) and isinstance(signed_in.get("name"), str):
        name: str = signed_in["name"]
        return name
    return None


def current_maintainer(request: Request) -> Actor | None:
    """The maintainer behind this request, or None (for pages that show more to maintainers)."""
    try:
        return require_maintainer(request)
    except NotAMaintainerError:
        return None


def require_maintainer(request: Request) -> Actor:
    mark = request.session.get(ADMIN_SESSION_KEY) if "session" in request.scope else None
    try:
        return maintainer_access(request).actor(
            authorization=request.headers.get("authorization"),
            session_user=session_user(request),
            session_mark=mark if isinstance(mark, str) else None,
        )
    except AccessDenied as denied:
        raise NotAMaintainerError(denied) from None


MaintainerDep = Annotated[Actor, Depends(require_maintainer)]
