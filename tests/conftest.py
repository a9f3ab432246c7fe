"""Shared database fixtures, built by our own Alembic migrations.

- ``sqlite_engine``: a fresh migrated SQLite file per test.
- ``postgres_engine`` (module scope; mark its users ``postgres``): a fresh schema in the database named
  by ``TEST_POSTGRES_URL``, migrated once per test module and dropped afterwards; skipped with a reason
  when the variable is unset. ``postgres_clean_engine`` empties its tables before each test.
- ``db_engine``: parametrized over both (the PostgreSQL case carries the ``postgres`` mark), so one test
  runs on each. ``db_url``, ``db_session_factory`` and ``db_session`` build on it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from app.commands.database import upgrade
from app.db.base import Base
from app.db.session import make_engine

POSTGRES_ENV = "TEST_POSTGRES_URL"


def engine_url(engine: Engine) -> str:
    """The URL an app or a subprocess can use to reach the same database (and schema)."""
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'rewardboard-test.db').as_posix()}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def postgres_base_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    return url


@pytest.fixture(scope="module")
def postgres_schema_url() -> Iterator[str]:
    """A fresh, empty schema for this test module; the URL puts it first on the search_path."""
    base = postgres_base_url()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def postgres_engine(postgres_schema_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_schema_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_clean_engine(postgres_engine: Engine) -> Engine:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with postgres_engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return postgres_engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "postgres_clean_engine"
    engine: Engine = request.getfixturevalue(name)
    return engine


@pytest.fixture
def db_url(db_engine: Engine) -> str:
    return engine_url(db_engine)


@pytest.fixture
def db_session_factory(db_engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=db_engine, expire_on_commit=False)


@pytest.fixture
def db_session(db_session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = db_session_factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
