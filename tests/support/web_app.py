"""The web app as tests use it: on given settings, its leaderboard cache probing the data version on every
request (so a change shows in the next answer)."""

from __future__ import annotations

from fastapi import FastAPI

from app.config import Settings
from app.main import create_app


def board_app(settings: Settings) -> FastAPI:
    application = create_app(settings)
    application.state.leaderboard_cache.version_probe_seconds = 0.0
    return application
