"""/healthz, /readyz and the worker heartbeat behind it, on SQLite and PostgreSQL.

- /healthz answers without a database;
- /readyz is 200 with the database, the broker and a fresh heartbeat, and 503 (Retry-After, the failing part
  named in words) with the broker stopped (a redis-server of our own, killed; a port nothing listens on; the
  embedded broker's file missing), with no heartbeat, a stale one, or the database unreachable;
- the worker's heartbeat thread writes, refreshes and removes its row; a real Celery worker writes one
  with its node name and queues when it is ready and removes it when it stops.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import WorkerHeartbeat
from app.db.session import unit_of_work
from tests.operations.health_factories import (
    TEST_SECRET,
    add_submission,
    beat,
    client_for,
    embedded_broker,
    free_port,
)
from worker.heartbeat import WorkerHeartbeat as HeartbeatThread

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_worker(db_session_factory: sessionmaker[Session]) -> None:
    beat(db_session_factory, "celery@gpu-1", queues=("evaluations-16g", "evaluations-4g"))


def test_healthz_answers_without_database_or_broker(tmp_path: Path) -> None:
    missing = f"sqlite:///{(tmp_path / 'no-such.db').as_posix()}"
    with client_for(missing, tmp_path, broker_url=f"redis://127.0.0.1:{free_port()}/0") as client:
        answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.usefixtures("fresh_worker")
def test_readyz_is_ready_with_database_broker_and_a_fresh_heartbeat(db_url: str, tmp_path: Path) -> None:
    with client_for(db_url, tmp_path) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "broker": True,
        "worker": True,
    }
    workers = body["checks"]["worker"]["workers"]
    assert [w["worker"] for w in workers] == ["celery@gpu-1"]
    assert workers[0]["queues"] == ["evaluations-16g", "evaluations-4g"]
    assert workers[0]["age_s"] < 60


@pytest.mark.usefixtures("fresh_worker")
def test_readyz_is_503_when_nothing_listens_at_the_broker(db_url: str, tmp_path: Path) -> None:
    with client_for(db_url, tmp_path, broker_url=f"redis://127.0.0.1:{free_port()}/0") as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "10"
    body = answer.json()
    assert body["status"] == "not ready"
    assert body["detail"].startswith("The broker cannot be reached")
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True and body["checks"]["worker"]["ok"] is True


class RedisServer:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not self._answers():
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError("redis-server did not start")
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.mark.usefixtures("fresh_worker")
def test_readyz_turns_503_when_the_broker_is_stopped(
    db_url: str, tmp_path: Path, redis_server: RedisServer
) -> None:
    with client_for(db_url, tmp_path, broker_url=redis_server.url) as client:
        assert client.get("/readyz").status_code == 200
        redis_server.stop()
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert "Retry-After" in answer.headers
    body = answer.json()
    assert body["detail"].startswith("The broker cannot be reached")
    assert [name for name, check in body["checks"].items() if not check["ok"]] == ["broker"]


@pytest.mark.usefixtures("fresh_worker")
def test_readyz_is_503_when_the_embedded_broker_has_no_database(db_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "broker.db"
    with client_for(db_url, tmp_path, broker_url=f"sqla+sqlite:///{missing.as_posix()}") as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert "does not exist" in answer.json()["checks"]["broker"]["detail"]
    assert not missing.exists()  # the probe never creates it


def test_readyz_is_503_without_any_heartbeat(db_url: str, tmp_path: Path) -> None:
    with client_for(db_url, tmp_path) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["detail"] == "No worker has written a heartbeat: is a worker running?"


def test_readyz_is_503_when_the_last_heartbeat_is_older_than_the_limit(
    db_url: str, tmp_path: Path, db_session_factory: sessionmaker[Session]
) -> None:
    beat(db_session_factory, "celery@stuck", age_s=600)
    with client_for(db_url, tmp_path, ready_heartbeat_max_age_s=120) as client:
        stale = client.get("/readyz")
    with client_for(db_url, tmp_path, ready_heartbeat_max_age_s=900) as client:
        within = client.get("/readyz")
    assert stale.status_code == 503
    worker = stale.json()["checks"]["worker"]
    assert worker["last_worker"] == "celery@stuck" and 599 <= worker["last_age_s"] < 660
    assert "No worker heartbeat within 120 s; the last, from celery@stuck" in stale.json()["detail"]
    assert within.status_code == 200


def test_readyz_names_queues_that_wait_with_no_live_worker(
    db_url: str, tmp_path: Path, db_session_factory: sessionmaker[Session]
) -> None:
    beat(db_session_factory, "celery@small", queues=("evaluations-4g",))
    with unit_of_work(db_session_factory) as session:
        add_submission(session, "org/big", queue="evaluations-80g")
        add_submission(session, "org/small", queue="evaluations-4g")
    with client_for(db_url, tmp_path) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json()["checks"]["worker"]["queues_without_worker"] == ["evaluations-80g"]


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    missing = f"sqlite:///{(tmp_path / 'moved-away.db').as_posix()}"
    with client_for(missing, tmp_path) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["database"]["ok"] is False and checks["database"]["detail"].startswith(
        "The database cannot be reached"
    )
    assert checks["worker"]["ok"] is False and checks["broker"]["ok"] is True


@pytest.mark.postgres
def test_readyz_is_503_when_postgres_refuses(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    with client_for(url, tmp_path) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["database"]["detail"].startswith("The database cannot be reached")


def rows(factory: sessionmaker[Session]) -> dict[str, WorkerHeartbeat]:
    with factory() as session:
        return {row.worker: row for row in session.query(WorkerHeartbeat)}


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return value


def test_the_heartbeat_thread_writes_refreshes_and_removes_its_row(
    db_session_factory: sessionmaker[Session],
) -> None:
    beat(db_session_factory, "celery@long-gone", age_s=3 * 24 * 3600)
    thread = HeartbeatThread(
        db_session_factory, worker="celery@w1", queues=["evaluations-4g"], interval_s=0.05
    )
    thread.start()
    try:
        first = wait_for(lambda: rows(db_session_factory).get("celery@w1"), 10, "the first heartbeat")
        assert first.queues == "evaluations-4g"
        assert "celery@long-gone" not in rows(db_session_factory)  # pruned when the worker started
        wait_for(
            lambda: rows(db_session_factory)["celery@w1"].seen_at > first.seen_at, 10, "a later heartbeat"
        )
        assert rows(db_session_factory)["celery@w1"].started_at == first.started_at
    finally:
        thread.stop()
    assert "celery@w1" not in rows(db_session_factory)


@pytest.mark.slow
def test_a_celery_worker_writes_its_heartbeat_and_removes_it_on_shutdown(
    db_url: str, db_session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "BROKER_URL": embedded_broker(tmp_path),
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": TEST_SECRET,
        "WORKER_HEARTBEAT_S": "0.5",
        "WORKER_MEMORY_GB": "16",  # no GPU detection (no torch import) in this test
        "WORKER_GPUS": "1",
    }
    command = [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--pool", "solo"]
    command += ["-n", "heartbeat-test@%h", "--loglevel", "WARNING"]
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        row = wait_for(
            lambda: next(
                (r for name, r in rows(db_session_factory).items() if name.startswith("heartbeat-test@")),
                None,
            ),
            90,
            "the worker's heartbeat",
        )
        assert row.worker == f"heartbeat-test@{socket.gethostname()}"
        assert "evaluations-16g" in row.queues.split(",")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        log.close()
    assert not any(name.startswith("heartbeat-test@") for name in rows(db_session_factory)), (
        tmp_path / "worker.log"
    ).read_text(errors="replace")[-3000:]
