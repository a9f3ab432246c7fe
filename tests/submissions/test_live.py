"""Following a run: the status in words (JSON), and the server-sent event stream on a real server.

The stream is read with httpx from a uvicorn server in this process, so the test can change the
submission between events, see that no database connection is held between them, and see the stream end
when the run finishes or when the client goes away.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import Submission, SubmissionStatus
from app.db.repositories import submissions as repo
from app.db.session import unit_of_work
from app.main import create_app
from app.services.intake.run_spec import RunConfig, RunSpec
from app.services.results import runs
from tests.submissions.conftest import TEST_SECRET_KEY, free_port, wait_until
from tests.submissions.test_lease import new_submission
from tests.web.factories import engine_result, sample_pairs, scores_for


def now() -> datetime:
    return datetime.now(UTC)


def set_state(factory: sessionmaker[Session], submission_id: int, **values: object) -> None:
    with unit_of_work(factory) as session:
        session.execute(update(Submission).where(Submission.id == submission_id).values(**values))


def finish_with_result(factory: sessionmaker[Session], submission_id: int) -> None:
    """Succeed through the real path: the runs service stores the result with its intervals."""
    with unit_of_work(factory) as session:
        submission = repo.get_submission(session, submission_id)
        assert submission is not None
        spec = RunSpec(
            submission_id=submission_id,
            attempt=submission.attempt,
            reward_model_id=submission.reward_model_id,
            hub_id=submission.reward_model.hub_id,
            commit=submission.resolved_commit or "main",
            requested_revision="main",
            config=RunConfig.model_validate(submission.run_config),
        )
    pairs = sample_pairs()
    scored = scores_for(pairs)
    result = engine_result(spec.hub_id, 0.75)
    result.subset_scores = result.definition.subset_scores(scored)
    assert runs.save(factory, spec, result, scored, pairs)


@pytest.fixture
def app(sqlite_engine: Engine, tmp_path: Path) -> FastAPI:
    settings = Settings(
        database_url=sqlite_engine.url.render_as_string(hide_password=False),
        data_dir=tmp_path,
        secret_key=TEST_SECRET_KEY,
    )
    application = create_app(settings)
    application.state.live_poll_seconds = 0.05
    return application


@pytest.fixture
def factory(app: FastAPI) -> sessionmaker[Session]:
    session_factory: sessionmaker[Session] = app.state.session_factory
    return session_factory


def status_of(client: TestClient, submission_id: int) -> dict[str, object]:
    response = client.get(f"/api/v1/submissions/{submission_id}/status")
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def test_status_in_words_through_a_run(app: FastAPI, factory: sessionmaker[Session]) -> None:
    first = new_submission(factory, "org/first")
    second = new_submission(factory, "org/second")
    with TestClient(app) as client:
        assert "task queue cannot be reached" in str(status_of(client, second)["headline"])
        for submission_id in (first, second):
            set_state(factory, submission_id, enqueued_at=now())
        queued = status_of(client, second)
        assert queued["phase"] == "queued" and queued["queue_position"] == 2 and queued["queue_length"] == 2
        assert str(queued["headline"]).startswith("Waiting: position 2 of 2 in the queue; expected to finish")

        set_state(factory, first, status=SubmissionStatus.RUNNING, started_at=now(), attempt=1)
        loading = status_of(client, first)
        assert loading["phase"] == "loading" and "loading the model" in str(loading["headline"])
        assert status_of(client, second)["queue_position"] == 1

        started = now() - timedelta(seconds=100)
        set_state(
            factory, first, started_at=started, progress_done=25, progress_total=100, progress_subset="hep-go"
        )
        scoring = status_of(client, first)
        assert scoring["phase"] == "scoring" and scoring["progress_subset"] == "hep-go"
        assert "25 of 100 examples scored; now mostly hep-go" in str(scoring["headline"])
        assert 290 <= int(str(scoring["eta_seconds"])) <= 310  # 100 s for 25 examples: about 300 s for 75

        finish_with_result(factory, first)
        done = status_of(client, first)
        assert done["phase"] == "succeeded" and done["active"] is False
        assert str(done["result_url"]).startswith("/models/org/first?result=")
        assert done["score_interval"] is not None and "95% interval" in str(done["headline"])
        page = client.get(f"/submissions/{first}")
        assert 'class="result-link"' in page.text and str(done["result_url"]) in page.text

        set_state(
            factory,
            second,
            status=SubmissionStatus.FAILED,
            failure_kind="tokenizer_error",
            failure_message="org/second: the chat template or tokenizer failed on the data (boom)",
        )
        failed = status_of(client, second)
        assert failed["phase"] == "failed" and "tulu template" in str(failed["advice"])
        page = client.get(f"/submissions/{second}")
        assert "What you can do:" in page.text and "tulu template" in page.text
        assert client.get("/api/v1/submissions/999/status").status_code == 404
        assert client.get("/api/v1/submissions/999/events").status_code == 404


def test_the_heartbeat_stores_the_subset_being_scored(app: FastAPI, factory: sessionmaker[Session]) -> None:
    submission_id = new_submission(factory)
    with unit_of_work(factory) as session:
        attempt = repo.claim_run(session, submission_id, owner="w", now=now(), lease_seconds=60)
        submission = repo.get_submission(session, submission_id)
        assert attempt == 1 and submission is not None
        spec = RunSpec(
            submission_id=submission_id,
            attempt=attempt,
            reward_model_id=submission.reward_model_id,
            hub_id="org/model",
            commit="a" * 40,
            requested_revision="main",
            config=RunConfig.model_validate(submission.run_config),
        )
    assert runs.heartbeat(factory, spec, lease_seconds=60, done=3, total=23, subset="math-prm")
    with TestClient(app) as client:
        status = status_of(client, submission_id)
    assert (status["progress_done"], status["progress_total"], status["progress_subset"]) == (
        3,
        23,
        "math-prm",
    )


class Server:
    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=20, interval=0.05, what="uvicorn to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream; comments and retry lines skipped."""
    name, data = "message", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data.append(line.partition(":")[2].strip())


def test_the_event_stream_follows_a_run_and_holds_no_connection(
    app: FastAPI, factory: sessionmaker[Session]
) -> None:
    submission_id = new_submission(factory)
    pool = factory.kw["bind"].pool
    with Server(app) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        url = f"/api/v1/submissions/{submission_id}/events"
        with client.stream("GET", url) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert "etag" not in response.headers  # not buffered by the ETag middleware
            stream = events(response.iter_lines())
            name, data = next(stream)
            assert name == "status" and json.loads(data)["phase"] == "queued"
            assert pool.checkedout() == 0  # between events: no connection held

            set_state(
                factory,
                submission_id,
                status=SubmissionStatus.RUNNING,
                started_at=now(),
                attempt=1,
                progress_done=5,
                progress_total=23,
                progress_subset="alpacaeval-easy",
            )
            name, data = next(stream)
            running = json.loads(data)
            assert (running["phase"], running["progress_done"], running["progress_subset"]) == (
                "scoring",
                5,
                "alpacaeval-easy",
            )
            assert pool.checkedout() == 0

            finish_with_result(factory, submission_id)
            name, data = next(stream)
            while json.loads(data)["phase"] == "scoring":  # the ETA counts down meanwhile
                name, data = next(stream)
            assert name == "status" and json.loads(data)["phase"] == "succeeded"
            assert json.loads(data)["result_url"]
            assert next(stream)[0] == "end"
            assert list(stream) == []  # the server closed the stream
    assert app.state.live_streams.open == 0


def test_a_stream_ends_when_the_client_goes_away(app: FastAPI, factory: sessionmaker[Session]) -> None:
    submission_id = new_submission(factory)
    gauge = app.state.live_streams
    with Server(app) as server:
        client = httpx.Client(base_url=server.url, timeout=30)
        with client.stream("GET", f"/api/v1/submissions/{submission_id}/events") as response:
            stream = events(response.iter_lines())  # kept: dropping the iterator closes the connection
            assert next(stream)[0] == "status"
            time.sleep(0.3)  # several polls later the stream is still open
            assert gauge.open == 1
        client.close()  # the visitor closes the tab
        wait_until(lambda: gauge.open == 0, timeout=10, interval=0.05, what="the stream to stop")


def test_the_queue_stream_and_json(app: FastAPI, factory: sessionmaker[Session]) -> None:
    with TestClient(app) as client:
        idle = client.get("/api/v1/queue/events")
        assert [name for name, _ in events(iter(idle.text.splitlines()))] == ["status", "end"]
        submission_id = new_submission(factory, "org/waiting")
        queue = client.get("/api/v1/queue").json()
        assert queue["active"] is True and [item["id"] for item in queue["waiting"]] == [submission_id]
        assert queue["waiting"][0]["headline"].startswith("Waiting: position 1 of 1")
        page = client.get("/queue")
        assert "data-live-region" in page.text and "/static/live.js" in page.text
        assert '<meta http-equiv="refresh"' in page.text  # inside <noscript>: without JavaScript too


def test_too_many_streams_are_turned_away(app: FastAPI, factory: sessionmaker[Session]) -> None:
    submission_id = new_submission(factory)
    app.state.live_streams.limit = 0
    with TestClient(app) as client:
        refused = client.get(f"/api/v1/submissions/{submission_id}/events")
    assert refused.status_code == 503 and refused.headers["retry-after"] == "10"
    assert app.state.live_streams.open == 0
