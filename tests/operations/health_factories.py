"""Shared by the health, metrics and request log tests: apps on the test database, submissions, heartbeats."""

from __future__ import annotations

import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import Submission, SubmissionStatus
from app.db.repositories import operations_health as repo
from app.db.repositories.results import get_or_create_reward_model
from app.db.session import unit_of_work
from app.main import create_app

TEST_SECRET = "test-only-secret-key-for-health-checks"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def embedded_broker(directory: Path) -> str:
    """The embedded broker's URL, its database file made (a worker makes it when it starts)."""
    path = directory / "broker.db"
    sqlite3.connect(path).close()
    return f"sqla+sqlite:///{path.as_posix()}"


def settings_for(db_url: str, tmp_path: Path, **settings: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": tmp_path,
        "secret_key": TEST_SECRET,
        "ready_check_timeout_s": 2.0,
        **settings,
    }
    values.setdefault("broker_url", embedded_broker(tmp_path))
    return Settings(**values)


def client_for(db_url: str, tmp_path: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(settings_for(db_url, tmp_path, **settings)))


def beat(
    factory: sessionmaker[Session], worker: str, *, age_s: float = 0.0, queues: tuple[str, ...] = ()
) -> None:
    """A worker's heartbeat, ``age_s`` seconds old."""
    with unit_of_work(factory) as session:
        now = datetime.now(UTC) - timedelta(seconds=age_s)
        repo.record_heartbeat(session, worker=worker, queues=queues, now=now, starting=True)


def add_submission(
    session: Session,
    hub_id: str,
    *,
    status: SubmissionStatus = SubmissionStatus.QUEUED,
    queue: str | None = "evaluations-4g",
    model_type: str = "classifier",
    benchmark: str = "rewardbench-v1",
    failure_kind: str | None = None,
    run_seconds: float | None = None,
) -> Submission:
    """A submission row as the submit path and the worker leave it (``run_seconds``: started to finished)."""
    model = get_or_create_reward_model(session, hub_id=hub_id)
    finished = datetime.now(UTC)
    submission = Submission(
        reward_model_id=model.id,
        resolved_commit="0" * 40,
        model_type=model_type,
        benchmark=benchmark,
        status=status,
        queue=queue,
        failure_kind=failure_kind,
        started_at=None if run_seconds is None else finished - timedelta(seconds=run_seconds),
        finished_at=None if run_seconds is None else finished,
    )
    session.add(submission)
    session.flush()
    return submission
