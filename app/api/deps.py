"""Request dependencies: one database session per request, committed once at the end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.services.leaderboard import LeaderboardCache


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: commit when the route returns, roll back when it raises.

    This is the only commit point of a request; services and repositories flush, never commit.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_leaderboard_cache(request: Request) -> LeaderboardCache:
    cache: LeaderboardCache = request.app.state.leaderboard_cache
    return cache


LeaderboardCacheDep = Annotated[LeaderboardCache, Depends(get_leaderboard_cache)]
