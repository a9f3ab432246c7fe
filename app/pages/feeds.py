"""Atom feeds: per model, per organisation, per board, and the whole changelog (``/changelog.atom``).

Each answer is built from the audit log (``app.services.operations.feeds``); the ETag middleware gives it
an ETag and answers a matching If-None-Match with 304, so a feed reader polling an unchanged feed gets no
body.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from app.api.deps import SessionDep, SettingsDep
from app.config import Settings
from app.db.repositories import feeds as repo
from app.errors import NotFoundError
from app.services.operations import feeds
from worker.engine.benchmarks import BENCHMARKS, DEFAULT_BENCHMARK

router = APIRouter(include_in_schema=False)

NamePart = Annotated[str, Path(min_length=1, max_length=96)]
BenchmarkParam = Annotated[str, Query(max_length=50)]
MEDIA_TYPE = "application/atom+xml; charset=utf-8"


def _site(request: Request, settings: Settings) -> feeds.Site:
    base = settings.public_url or str(request.base_url)
    return feeds.Site(base=base.rstrip("/"))


def _atom(body: bytes) -> Response:
    return Response(body, media_type=MEDIA_TYPE)


@router.get("/models/{org}/{name}/feed.atom")
def model_feed(
    request: Request, session: SessionDep, settings: SettingsDep, org: NamePart, name: NamePart
) -> Response:
    """A model's results: published, failed, flagged, hidden, superseded."""
    hub_id = f"{org}/{name}"
    if not repo.model_known(session, hub_id):
        raise NotFoundError(f"There is no model {hub_id} on this board.")
    return _atom(feeds.model_feed(session, _site(request, settings), hub_id))


@router.get("/orgs/{org}/feed.atom")
def organisation_feed(
    request: Request, session: SessionDep, settings: SettingsDep, org: NamePart
) -> Response:
    """The results of every model of an organisation (the Hub namespace)."""
    if not repo.organisation_known(session, org):
        raise NotFoundError(f"No model of the organisation {org} is on this board.")
    return _atom(feeds.organisation_feed(session, _site(request, settings), org))


@router.get("/feed.atom")
def board_feed(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    benchmark: BenchmarkParam = DEFAULT_BENCHMARK,
) -> Response:
    """A benchmark's board: every result published, failed, flagged, hidden or superseded on it."""
    if benchmark not in BENCHMARKS:
        raise NotFoundError(f"There is no benchmark {benchmark}; choose one of {', '.join(BENCHMARKS)}.")
    return _atom(feeds.board_feed(session, _site(request, settings), benchmark))


@router.get("/changelog.atom")
def changelog_feed(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Every line of the public audit log, newest first."""
    return _atom(feeds.changelog_feed(session, _site(request, settings)))
