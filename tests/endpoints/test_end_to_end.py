"""A judge on an endpoint end to end: submitted by a maintainer, run by the worker's task against a stand-in
OpenAI-compatible server on a full-size RewardBench v1 (every subset with all its rows), stored, ranked on
the board with the API mark, its record naming the endpoint's snapshot; the key sent as a Bearer token and
nowhere in the database or the pages. An endpoint answering 500 or stalling fails the run typed, after
its retries, with nothing scored. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.api.routes.submissions import get_sender
from app.db.base import Base
from app.main import create_app
from tests.endpoints.conftest import (
    ADMIN_TOKEN,
    APP_SECRET,
    SECRET_KEY_VALUE,
    definition,
    expected_subset_values,
    pairwise_judge,
    write_full_v1,
)
from tests.endpoints.stand_in import REPORTED_MODEL, Reply, Script, StandInServer, stand_in
from worker.settings import WorkerSettings
from worker.tasks import run_submission

pytestmark = pytest.mark.slow

MODEL = "test-lab/judge-70b"
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SUBMISSION = {
    "model": MODEL,
    "model_type": "judge-pairwise-endpoint",
    "settings": {"endpoint": "test-judge", "max_new_tokens": 16, "seed": 5},
}


@pytest.fixture(scope="module")
def full_v1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_full_v1(tmp_path_factory.mktemp("data") / "rewardbench-v1-full.jsonl")


@contextmanager
def board(
    db_url: str, tmp_path: Path, dataset: Path, script: Script, **endpoint: Any
) -> Iterator[tuple[TestClient, WorkerSettings, StandInServer]]:
    """The web app and the worker's settings sharing one database and one registry, on a stand-in."""
    with stand_in(script) as server:
        values: dict[str, Any] = {
            "database_url": db_url,
            "data_dir": tmp_path / "data",
            "secret_key": APP_SECRET,
            "admin_token": ADMIN_TOKEN,
            "dataset_path": str(dataset),
            "judge_endpoints": {"test-judge": definition(server.url, max_concurrency=8, **endpoint)},
            "lease_seconds": 60,
        }
        app = create_app(WorkerSettings(**values))
        app.state.leaderboard_cache.version_probe_seconds = 0.0
        app.dependency_overrides[get_sender] = lambda: lambda submission_id, route: None
        with TestClient(app) as client:
            yield client, WorkerSettings(**values), server


def submit_and_run(client: TestClient, settings: WorkerSettings) -> dict[str, Any]:
    created = client.post("/api/v1/submissions", json=SUBMISSION, headers=OPERATOR)
    assert created.status_code == 201, created.text
    submission_id = created.json()["submission"]["id"]
    run_submission(submission_id, settings, owner="endpoint-test-worker")
    status: dict[str, Any] = client.get(f"/api/v1/submissions/{submission_id}").json()
    return status


def row_of(html: str, model: str) -> Tag:
    for row in BeautifulSoup(html, "html.parser").find_all("tr"):
        if isinstance(row, Tag) and model in row.get_text():
            return row
    raise AssertionError(f"{model} is not on the page")


def database_text(engine: Engine) -> str:
    """Every row of every table, as text."""
    with engine.connect() as connection:
        return "\n".join(
            repr(row) for table in Base.metadata.sorted_tables for row in connection.execute(select(table))
        )


@pytest.fixture
def worker_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # the task points HF_HOME at its cache


def test_an_endpoint_judge_is_evaluated_ranked_and_marked_api(
    db_url: str, db_engine: Engine, tmp_path: Path, full_v1: Path, worker_home: None
) -> None:
    with board(db_url, tmp_path, full_v1, pairwise_judge) as (client, settings, server):
        status = submit_and_run(client, settings)
        assert status["status"] == "succeeded", status
        assert status["progress_done"] == status["progress_total"] == 2985

        # Every request: greedy, seeded, one per example, the key as a Bearer token.
        requests = server.completion_requests()
        assert len(requests) == 2985
        assert {item.authorization for item in requests} == {f"Bearer {SECRET_KEY_VALUE}"}
        assert {(item.body["temperature"], item.body["seed"], item.body["model"]) for item in requests} == {
            (0, 5, "judge-70b")
        }

        # The scores are the stand-in's verdicts: each subset's value as scripted.
        (result,) = client.get(f"/api/v1/models/{MODEL}").json()["results"]
        values = {subset["subset"]: subset["value"] for subset in result["subsets"]}
        assert values == pytest.approx(expected_subset_values())
        generation = result["reproducibility"]["generation"]
        assert generation["backend"] == "endpoint" and generation["response_model"] == REPORTED_MODEL
        assert generation["endpoint"]["provider"] == "vLLM" and generation["endpoint"]["model"] == "judge-70b"
        assert (
            generation["requests"] == 2985 and generation["first_request_at"] <= generation["last_answer_at"]
        )
        assert result["config"]["kind_settings"]["served_model"] == "judge-70b"

        # Ranked on the board, with the API mark, as the published API rows are.
        rows = client.get("/api/v1/leaderboard", params={"per_page": 200}).json()["rows"]
        (row,) = [row for row in rows if row["model"] == MODEL]
        assert row["rank"] is not None and row["complete"] is True and row["hub_repo"] is False
        assert row["model_type"] == "judge-pairwise-endpoint"
        assert row_of(client.get("/", params={"per_page": 200}).text, MODEL).select_one(".badge-api")
        model_page = client.get(f"/models/{MODEL}").text
        assert "an API model: no repository on the Hub" in model_page and REPORTED_MODEL in model_page

        # The key is in no page, no answer and no row of the database.
        pages = [
            model_page,
            client.get("/").text,
            client.get(f"/submissions/{status['id']}").text,
            client.get(f"/api/v1/models/{MODEL}").text,
            client.get("/api/v1/admin/endpoints", headers=OPERATOR).text,
        ]
        assert all(SECRET_KEY_VALUE not in page for page in pages)
        assert SECRET_KEY_VALUE not in database_text(db_engine)


@pytest.mark.parametrize(
    ("failing", "kind", "words", "endpoint"),
    [
        (Reply(status=500, error="CUDA error"), "endpoint_unavailable", "HTTP 500: CUDA error", {}),
        (
            Reply("[[A]]", delay_s=30),
            "endpoint_unavailable",
            "did not answer within 0.5 s",
            {"timeout_s": 0.5},
        ),
        (Reply(status=429), "endpoint_rate_limited", "kept answering 429", {}),
    ],
    ids=["500", "stall", "429"],
)
def test_a_failing_endpoint_fails_the_run_typed_after_its_retries(
    db_url: str,
    tmp_path: Path,
    full_v1: Path,
    worker_home: None,
    failing: Reply,
    kind: str,
    words: str,
    endpoint: dict[str, Any],
) -> None:
    # The first 100 requests are answered; then every one fails: no score may come of the answered part.
    script: Callable[[dict[str, Any], int], Reply | str] = lambda body, index: (  # noqa: E731
        pairwise_judge(body, index) if index < 100 else failing
    )
    with board(db_url, tmp_path, full_v1, script, **endpoint) as (client, settings, server):
        status = submit_and_run(client, settings)
        assert status["status"] == "failed" and status["failure_kind"] == kind, status
        assert words in status["failure_message"] and "tried 3 times" in status["failure_message"]
        assert len(server.received) <= 100 + 8 * 3  # the run stopped: at most each request in flight retried
        assert client.get(f"/api/v1/models/{MODEL}").json()["results"] == []
        rows = client.get("/api/v1/leaderboard", params={"partial": "true", "per_page": 200}).json()["rows"]
        assert MODEL not in {row["model"] for row in rows}
        page = client.get(f"/submissions/{status['id']}").text
        assert "every request was retried with backoff" in page or "after every retry" in page
