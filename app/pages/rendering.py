"""Render a template to an HTML response; helpers that build the links of a view."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Pager:
    """Links to the pages of a long list: previous, the first and last, a few around this one, next.

    ``links`` are (page number, URL) pairs in order; the current page has no URL, a gap has no number.
    """

    prev_url: str | None
    next_url: str | None
    links: list[tuple[int | None, str | None]]


def pager(current: int, pages: int, url_of: Callable[[int], str], *, around: int = 2) -> Pager | None:
    """The pager of page ``current`` of ``pages`` (None when there is only one page)."""
    if pages <= 1:
        return None
    shown = sorted({1, pages, *range(max(1, current - around), min(pages, current + around) + 1)})
    links: list[tuple[int | None, str | None]] = []
    for number in shown:
        if links and links[-1][0] is not None and number - (links[-1][0] or 0) > 1:
            links.append((None, None))
        links.append((number, None if number == current else url_of(number)))
    return Pager(
        prev_url=url_of(current - 1) if current > 1 else None,
        next_url=url_of(current + 1) if current < pages else None,
        links=links,
    )
