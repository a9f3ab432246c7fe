"""Render a template to an HTML response; helpers that build the links of a view."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import HTMLResponse

from app.schemas.leaderboard import TEXT_SORT_KEYS, LeaderboardQuery
from app.templating import templates


def render_html(name: str, context: Mapping[str, Any]) -> bytes:
    return templates.get_template(name).render(**context).encode()


def html_response(body: bytes, status_code: int = 200, etag: str | None = None) -> HTMLResponse:
    headers = {"ETag": etag} if etag else None
    return HTMLResponse(body, status_code=status_code, headers=headers)


def leaderboard_url(query: LeaderboardQuery, **changes: Any) -> str:
    """The URL of the leaderboard view ``query`` with some parameters changed; defaults are left out."""
    values = query.model_dump(mode="json") | changes
    defaults = LeaderboardQuery().model_dump(mode="json")
    params = {
        key: str(value).lower() if isinstance(value, bool) else value
        for key, value in values.items()
        if value not in (None, "") and value != defaults.get(key)
    }
    return "/" + ("?" + urlencode(params) if params else "")


def sort_url(query: LeaderboardQuery, key: str) -> str:
    """Sort by ``key``; on the column already sorted, flip the direction."""
    natural = "asc" if key in TEXT_SORT_KEYS else "desc"
    flipped = "asc" if query.direction == "desc" else "desc"
    order = flipped if query.sort == key else natural
    return leaderboard_url(query, sort=key, order=None if order == natural else order, page=1)


def page_url(base: str, params: Mapping[str, Any]) -> str:
    clean = {key: value for key, value in params.items() if value not in (None, "", False)}
    return base + ("?" + urlencode(clean) if clean else "")
