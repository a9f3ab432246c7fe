"""The active-parameters migration: it adds the column, its downgrade removes it and keeps the totals."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text

from app.commands.database import downgrade, upgrade
from app.db.session import make_engine

BEFORE = "9d4e2b7a61c3"


def columns(engine: Engine) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns("reward_model")}


def round_trip(engine: Engine) -> None:
    upgrade(engine)
    assert "active_parameter_count" in columns(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO reward_model (hub_id, display_name, hub_repo, parameter_count, "
                "active_parameter_count, created_at) VALUES ('org/moe', 'org/moe', true, 14315784192, "
                "2689000000, CURRENT_TIMESTAMP)"
            )
        )
    downgrade(engine, BEFORE)
    assert "active_parameter_count" not in columns(engine)
    with engine.connect() as connection:
        total = connection.execute(text("SELECT parameter_count FROM reward_model")).scalar_one()
    assert total == 14315784192
    upgrade(engine)
    with engine.connect() as connection:
        active = connection.execute(text("SELECT active_parameter_count FROM reward_model")).scalar_one()
    assert active is None  # not known again until the model is submitted


def test_round_trip_sqlite(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        round_trip(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_round_trip_postgres(postgres_schema_url: str) -> None:
    engine = make_engine(postgres_schema_url)
    try:
        round_trip(engine)
    finally:
        engine.dispose()
