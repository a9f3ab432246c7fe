"""The migrations are the schema: models and migrations agree, and upgrade/downgrade run on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from app.commands.database import downgrade, upgrade
from app.db.base import Base
from app.db.session import make_engine


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_models_match_migrations_sqlite(sqlite_engine: Engine) -> None:
    assert _diff(sqlite_engine) == []


@pytest.mark.postgres
def test_models_match_migrations_postgres(postgres_engine: Engine) -> None:
    assert _diff(postgres_engine) == []


@pytest.mark.postgres
def test_upgrade_downgrade_upgrade_postgres(postgres_schema_url: str) -> None:
    engine = make_engine(postgres_schema_url)
    try:
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert _diff(engine) == []
    finally:
        engine.dispose()
