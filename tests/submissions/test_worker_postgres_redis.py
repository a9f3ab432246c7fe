"""Submissions evaluated by real Celery worker processes, on PostgreSQL and Redis.

- a submission made through the API is evaluated and its result appears on the model page and, as a
  partial run (one row a subset), beside the leaderboard;
- a worker killed with SIGKILL mid-evaluation: a new worker finishes it, once, with no duplicate rows;
- the broker is down when a submission arrives: it is kept, and runs once the broker is back;
- a broker restart loses the queued message: the reconciler sends it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import EvaluationResult, ExampleResult, Submission, SubsetScore
from app.main import create_app
from tests.conftest import engine_url
from tests.submissions.conftest import (
    SPARE,
    Process,
    RedisServer,
    build_client,
    make_settings,
    redis_url_or_skip,
    submission_body,
    wait_until,
    worker_env,
)
from tests.support.hub_server import HubServer
from worker.broker import send_evaluation
from worker.reconciler import reconcile

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = redis_url_or_skip()
    redis.Redis.from_url(url).flushdb()  # no messages left over from an earlier run
    return url


@pytest.fixture
def pg_factory(postgres_clean_engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=postgres_clean_engine, expire_on_commit=False)


def pg_settings(engine: Engine, tmp_path: Path, broker_url: str) -> Settings:
    return make_settings(
        engine_url(engine), tmp_path / "data", broker_url=broker_url, eval_limit_per_subset=2
    )


@pytest.fixture
def api(hub: HubServer, tmp_path: Path) -> Iterator[Callable[[Settings], TestClient]]:
    clients: list[TestClient] = []

    def make(settings: Settings) -> TestClient:
        client = build_client(create_app(settings), hub, tmp_path / "cache", send=None)
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def submission_row(factory: sessionmaker[Session], submission_id: int) -> Submission:
    with factory() as session:
        row = session.get(Submission, submission_id)
        assert row is not None
        return row


def wait_for_status(
    factory: sessionmaker[Session], submission_id: int, workers: list[Process], timeout: float = 240
) -> Submission:
    def finished() -> Submission | None:
        row = submission_row(factory, submission_id)
        return row if row.status.value in ("succeeded", "failed") else None

    try:
        return wait_until(finished, timeout=timeout, what=f"submission {submission_id} to finish")  # type: ignore[no-any-return]
    except AssertionError:
        raise AssertionError("\n\n".join(worker.tail() for worker in workers)) from None


def result_counts(factory: sessionmaker[Session], submission_id: int) -> tuple[int, int, int]:
    with factory() as session:
        result_ids = list(
            session.scalars(
                select(EvaluationResult.id).where(EvaluationResult.submission_id == submission_id)
            )
        )
        pairs = session.scalar(
            select(func.count()).select_from(ExampleResult).where(ExampleResult.result_id.in_(result_ids))
        )
        subsets = session.scalar(
            select(func.count()).select_from(SubsetScore).where(SubsetScore.result_id.in_(result_ids))
        )
        return len(result_ids), int(pairs or 0), int(subsets or 0)


def test_submission_through_the_api_is_evaluated_and_shown(
    postgres_clean_engine: Engine,
    pg_factory: sessionmaker[Session],
    redis_url: str,
    hub: HubServer,
    tmp_path: Path,
    api: Callable[[Settings], TestClient],
    start_worker: Callable[[dict[str, str]], Process],
) -> None:
    settings = pg_settings(postgres_clean_engine, tmp_path, redis_url)
    worker = start_worker(worker_env(settings, hub, tmp_path))
    client = api(settings)
    model = SPARE[0]
    created = client.post("/api/v1/submissions", json=submission_body(model))
    assert created.status_code == 201, created.text
    submission_id = created.json()["submission"]["id"]
    assert created.json()["submission"]["sent_to_worker"] is True

    row = wait_for_status(pg_factory, submission_id, [worker])
    assert row.status.value == "succeeded", (row.failure_kind, row.failure_message, worker.tail())
    assert row.attempt == 1 and row.progress_done == row.progress_total > 0
    assert result_counts(pg_factory, submission_id) == (1, row.progress_total, 23)

    # The worker runs one row a subset (EVAL_LIMIT_PER_SUBSET): a partial result, listed apart, unranked.
    assert model not in str(client.get("/api/v1/leaderboard").json()["rows"])
    partial = client.get("/api/v1/leaderboard", params={"partial": True}).json()
    (row_of_model,) = [item for item in partial["rows"] if item["model"] == model]
    assert row_of_model["rank"] is None and row_of_model["complete"] is False
    assert row_of_model["source"] == "evaluated" and row_of_model["sections"]["Chat"] is not None
    detail = client.get(f"/api/v1/models/{model}")
    assert detail.status_code == 200 and model in detail.text
    assert model in client.get(f"/models/{model}").text
    status = client.get(f"/api/v1/submissions/{submission_id}").json()
    assert status["status"] == "succeeded" and status["queue_position"] is None
    assert client.get("/api/v1/submissions").json()["queue"]["estimate_is_default"] is False


def test_worker_killed_mid_evaluation_the_run_finishes_once(
    postgres_clean_engine: Engine,
    pg_factory: sessionmaker[Session],
    redis_url: str,
    hub: HubServer,
    tmp_path: Path,
    api: Callable[[Settings], TestClient],
    start_worker: Callable[[dict[str, str]], Process],
) -> None:
    settings = pg_settings(postgres_clean_engine, tmp_path, redis_url)
    slow = worker_env(settings, hub, tmp_path, EVAL_PROGRESS_DELAY_S="1.5", LEASE_SECONDS="4")
    first = start_worker(slow)
    client = api(settings)
    created = client.post("/api/v1/submissions", json=submission_body(SPARE[1]))
    assert created.status_code == 201, created.text
    submission_id = created.json()["submission"]["id"]

    def running_with_progress() -> bool:
        row = submission_row(pg_factory, submission_id)
        return row.status.value == "running" and row.progress_done > 0

    try:
        wait_until(running_with_progress, timeout=180, interval=0.2, what="the run to be half-way")
    except AssertionError:
        raise AssertionError(first.tail()) from None
    before = submission_row(pg_factory, submission_id)
    assert before.progress_done < before.progress_total
    page = client.get(f"/submissions/{submission_id}").text
    assert "running" in page and "examples scored" in page and "expected to finish in" in page
    assert f"/ {before.progress_total} examples" in client.get("/queue").text
    status = client.get(f"/api/v1/submissions/{submission_id}").json()
    assert status["status"] == "running" and status["eta_seconds"] is not None
    first.kill()
    assert result_counts(pg_factory, submission_id) == (0, 0, 0)

    second = start_worker({**slow, "EVAL_PROGRESS_DELAY_S": "0"})
    row = wait_for_status(pg_factory, submission_id, [first, second])
    assert row.status.value == "succeeded", (row.failure_kind, row.failure_message, second.tail())
    assert row.attempt == 2
    results, pairs, subsets = result_counts(pg_factory, submission_id)
    assert (results, pairs, subsets) == (1, row.progress_total, 23)
    with pg_factory() as session:
        assert session.scalar(select(func.count()).select_from(EvaluationResult)) == 1


def test_broker_down_keeps_the_submission_and_runs_it_when_back(
    postgres_clean_engine: Engine,
    pg_factory: sessionmaker[Session],
    hub: HubServer,
    tmp_path: Path,
    throwaway_redis: RedisServer,
    api: Callable[[Settings], TestClient],
    start_worker: Callable[[dict[str, str]], Process],
) -> None:
    settings = pg_settings(postgres_clean_engine, tmp_path, throwaway_redis.url)
    client = api(settings)
    created = client.post("/api/v1/submissions", json=submission_body(SPARE[2]))
    assert created.status_code == 201, created.text
    body = created.json()
    submission_id = body["submission"]["id"]
    assert body["submission"]["sent_to_worker"] is False
    assert "queued once it is back" in body["message"]
    row = submission_row(pg_factory, submission_id)
    assert (row.status.value, row.enqueued_at) == ("queued", None)
    assert "waiting for the task queue" in client.get("/queue").text

    throwaway_redis.start(tmp_path)
    report = reconcile(
        pg_factory,
        lambda sid, route: send_evaluation(settings, sid, route),
        settings=settings,
        dispatch_grace_s=0,
        stalled_queue_s=600,
    )
    assert report.sent == [submission_id]
    assert submission_row(pg_factory, submission_id).enqueued_at is not None
    worker = start_worker(worker_env(settings, hub, tmp_path))
    row = wait_for_status(pg_factory, submission_id, [worker])
    assert row.status.value == "succeeded", (row.failure_kind, row.failure_message, worker.tail())
    assert result_counts(pg_factory, submission_id)[0] == 1


def test_message_lost_by_a_broker_restart_is_sent_again(
    postgres_clean_engine: Engine,
    pg_factory: sessionmaker[Session],
    hub: HubServer,
    tmp_path: Path,
    throwaway_redis: RedisServer,
    api: Callable[[Settings], TestClient],
    start_worker: Callable[[dict[str, str]], Process],
) -> None:
    settings = pg_settings(postgres_clean_engine, tmp_path, throwaway_redis.url)
    throwaway_redis.start(tmp_path)
    client = api(settings)
    created = client.post("/api/v1/submissions", json=submission_body(SPARE[7]))
    assert created.status_code == 201 and created.json()["submission"]["sent_to_worker"] is True
    submission_id = created.json()["submission"]["id"]
    throwaway_redis.stop()  # no persistence: the message is gone
    throwaway_redis.start(tmp_path)
    worker = start_worker(worker_env(settings, hub, tmp_path, STALLED_QUEUE_S="3"))
    row = wait_for_status(pg_factory, submission_id, [worker])
    assert row.status.value == "succeeded", (row.failure_kind, row.failure_message, worker.tail())
    assert row.attempt == 1 and result_counts(pg_factory, submission_id)[0] == 1
