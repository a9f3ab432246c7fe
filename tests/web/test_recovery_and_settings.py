"""A lost SQLite file is used again once it is back, and PostgreSQL connections the server cut are replaced,
without a restart; unsafe settings refuse to start."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, make_url, text

from app.commands.database import upgrade
from app.config import DEFAULT_SECRET_KEY, ConfigurationError, Settings
from app.db.session import make_engine, session_scope
from app.http.csrf import CSRF_COOKIE, sign_csrf_nonce
from app.main import create_app
from tests.conftest import engine_url
from tests.web.factories import make_result

MODEL = "recovery-org/rm"


def embedded_database(data_dir: Path) -> Path:
    database = data_dir / "rewardboard.db"
    engine = make_engine(f"sqlite:///{database.as_posix()}")
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            make_result(session, MODEL, 0.7)
    finally:
        engine.dispose()
    return database


def test_sqlite_file_moved_away_and_back_is_used_again_without_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    database = embedded_database(data_dir)
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        assert client.get(f"/api/v1/models/{MODEL}").status_code == 200
        assert client.get(f"/models/{MODEL}").status_code == 200

        database.rename(tmp_path / "moved-away.db")
        away = client.get(f"/api/v1/models/{MODEL}")
        assert away.status_code == 503, away.text
        assert "database" in away.json()["detail"] and away.headers["Retry-After"]
        page = client.get(f"/models/{MODEL}")
        assert page.status_code == 503 and "text/html" in page.headers["content-type"]
        assert not database.exists(), "an empty database was created in place of the lost one"

        (tmp_path / "moved-away.db").rename(database)
        assert client.get(f"/api/v1/models/{MODEL}").status_code == 200
        assert client.get(f"/models/{MODEL}").status_code == 200

        # Restored from a copy (another file at the same path): the stale connections are replaced too.
        shutil.copy(database, tmp_path / "backup.db")
        database.unlink()
        shutil.copy(tmp_path / "backup.db", database)
        for _ in range(3):
            assert client.get(f"/api/v1/models/{MODEL}").status_code == 200


def _cut_connections(admin: Engine, application_name: str) -> int:
    """Terminate every server process serving ``application_name``; wait until they are gone."""
    with admin.connect() as connection:
        cut = connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": application_name},
        ).all()
        connection.commit()
        deadline = time.monotonic() + 10
        while True:
            left = connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": application_name},
            ).scalar_one()
            connection.commit()  # a transaction sees one snapshot of pg_stat_activity
            if left == 0:
                return len(cut)
            assert time.monotonic() < deadline, f"{left} connections still open after pg_terminate_backend"
            time.sleep(0.05)


@pytest.mark.postgres
def test_postgres_connections_cut_by_the_server_are_replaced_without_a_restart(
    postgres_clean_engine: Engine, tmp_path: Path
) -> None:
    with session_scope(postgres_clean_engine) as session:
        make_result(session, MODEL, 0.7)
    name = "rewardboard-recovery-test"
    url = make_url(engine_url(postgres_clean_engine)).update_query_dict({"application_name": name})
    settings = Settings(
        database_url=url.render_as_string(hide_password=False),
        data_dir=tmp_path,
        secret_key="test-only-secret",
    )
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            assert client.get(f"/api/v1/models/{MODEL}").status_code == 200
        assert (
            _cut_connections(postgres_clean_engine, name) >= 1
        )  # the pooled connections, as a restart would

        for _ in range(3):
            response = client.get(f"/api/v1/models/{MODEL}")
            assert response.status_code == 200, response.text
        assert client.get(f"/models/{MODEL}").status_code == 200


POSTGRES_URL = "postgresql+psycopg://rewardboard@db.invalid/rewardboard"


@pytest.mark.parametrize(
    "settings",
    [
        Settings(database_url=POSTGRES_URL),
        Settings(environment="production"),
        Settings(database_url=POSTGRES_URL, environment="production", secret_key=DEFAULT_SECRET_KEY),
    ],
)
def test_the_default_secret_key_is_refused_outside_development(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app(settings)


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),  # the embedded SQLite default is development
        Settings(database_url=POSTGRES_URL, environment="development"),
        Settings(database_url=POSTGRES_URL, secret_key="a-long-random-production-secret"),
    ],
)
def test_development_or_a_real_secret_starts(settings: Settings) -> None:
    create_app(settings)


def test_a_token_signed_with_the_default_key_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    embedded_database(data_dir)
    settings = Settings(data_dir=data_dir, secret_key="the-real-secret-of-this-site")
    with TestClient(create_app(settings)) as client:
        forged = sign_csrf_nonce(Settings(secret_key=DEFAULT_SECRET_KEY), "attacker-nonce")
        client.cookies.set(CSRF_COOKIE, forged)
        response = client.post("/submit", data={"model": "org/name", "csrf_token": forged})
        assert response.status_code == 403


def test_serve_refuses_the_default_secret_key_in_words(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("SECRET_KEY", "ENVIRONMENT")}
    env["DATABASE_URL"] = POSTGRES_URL
    command = [sys.executable, "-m", "app.cli", "serve", "--port", "1"]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "SECRET_KEY is the built-in development value" in done.stderr
