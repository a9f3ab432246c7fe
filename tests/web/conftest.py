"""The web app on the test database, and factories for results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.services.results.seed import SEED_DIR, seed_if_empty
from tests.support.web_app import board_app

PUBLISHED = sorted((SEED_DIR / "published-eval-set").glob("*.json"))
BOARDS = sorted((SEED_DIR / "published-boards").glob("*.jsonl"))
BOARD_ROWS = sum(len(path.read_text(encoding="utf-8").splitlines()) for path in BOARDS)


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> FastAPI:
    return board_app(Settings(database_url=db_url, data_dir=tmp_path, secret_key="test-only-secret"))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def published_files(db_session_factory: sessionmaker[Session]) -> None:
    """The five published per-subset result files, imported (no board rows)."""
    from app.services.results.importer import import_results_file

    with db_session_factory.begin() as session:
        for path in PUBLISHED:
            import_results_file(session, path)


@pytest.fixture
def seeded(db_session_factory: sessionmaker[Session]) -> None:
    """What a fresh database starts with: both published boards and the five result files."""
    with db_session_factory.begin() as session:
        assert len(seed_if_empty(session)) == BOARD_ROWS + len(PUBLISHED)
