"""A stalled Hub does not take the site down: with every Hub request hanging, 50 concurrent dry runs get
503 + Retry-After from the Hub gate, at most ``HUB_CONCURRENCY`` of them reach the Hub, and the pages that
need no Hub (the leaderboard, /about, a model page) keep answering in under a second, with a database pool
of two connections (a request that held one while it waited would starve them). A Hub that answers the
first check slowly leaves the deadline no time for the model's files: that check answers 503 + Retry-After and
the checks that need the files are reported as not checked, on both the dry run and the submission."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from app.api.routes.submissions import get_hub_client
from app.db.session import session_scope
from app.main import create_app
from app.services.intake.hub import HubClient, HubModel
from app.services.results.seed import seed_if_empty
from tests.conftest import engine_url
from tests.submissions.conftest import (
    GOOD,
    SentMessages,
    build_client,
    free_port,
    make_settings,
    start_process,
    submission_body,
    wait_until,
    worker_env,
)
from tests.support.hub_server import HubServer

pytestmark = pytest.mark.slow
VALIDATIONS = 50
HUB_CONCURRENCY = 4
PAGES = ("/", "/about", "/api/v1/leaderboard", "/models/{model}")
SHORT_DEADLINE_S = 1.0
SLOW_MODEL_INFO_S = 0.8  # leaves the deadline less than the 0.5 s a next Hub request needs


def test_pages_answer_while_the_hub_stalls(db_engine: Engine, hub: HubServer, tmp_path: Path) -> None:
    with session_scope(db_engine) as session:
        assert seed_if_empty(session)
    settings = make_settings(engine_url(db_engine), tmp_path / "data")
    env = worker_env(
        settings,
        hub,
        tmp_path,
        HUB_CONCURRENCY=str(HUB_CONCURRENCY),
        HUB_QUEUE_WAIT_S="1",
        HUB_TIMEOUT_S="3",
        HUB_DEADLINE_S="4",
        DB_POOL_SIZE="2",
        DB_MAX_OVERFLOW="0",
        DB_POOL_TIMEOUT_S="2",
    )
    port = free_port()
    server = start_process(
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env,
        tmp_path / "serve.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _status(f"{base}/api/v1/sections") == 200, timeout=60, what="the web server")
        model = httpx.get(f"{base}/api/v1/leaderboard", timeout=10).json()["rows"][0]["model"]
        pages = [path.format(model=model) for path in PAGES]
        for path in pages:  # warm: templates compiled, leaderboard cached, connections opened
            assert _status(base + path) == 200, path

        hub.stall()
        answers: list[httpx.Response | BaseException] = []

        def validate() -> None:
            try:
                answers.append(
                    httpx.post(f"{base}/api/v1/submissions/validate", json=submission_body(), timeout=60)
                )
            except BaseException as error:
                answers.append(error)

        threads = [threading.Thread(target=validate) for _ in range(VALIDATIONS)]
        for thread in threads:
            thread.start()
        wait_until(lambda: hub.waiting >= HUB_CONCURRENCY, timeout=20, interval=0.05, what="the Hub to stall")

        slowest: dict[str, float] = {}
        for _ in range(3):
            for path in pages:
                started = time.perf_counter()
                response = httpx.get(base + path, timeout=10)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, (path, response.status_code, response.text[:300])
                slowest[path] = max(slowest.get(path, 0.0), elapsed)
        assert all(seconds < 1.0 for seconds in slowest.values()), slowest

        for thread in threads:
            thread.join(timeout=60)
        assert hub.most_waiting <= HUB_CONCURRENCY
        statuses = [
            answer.status_code if isinstance(answer, httpx.Response) else repr(answer) for answer in answers
        ]
        assert len(statuses) == VALIDATIONS and set(statuses) == {503}, statuses
        for answer in answers:
            assert isinstance(answer, httpx.Response)
            assert int(answer.headers["Retry-After"]) >= 1
            assert "Hub" in answer.json()["detail"]
    finally:
        hub.release()
        tail = server.tail()
        server.stop()
    assert "Traceback" not in tail, tail


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return 0


class SlowModelInfoHub(HubClient):
    """The stand-in's answers, the model info only after ``SLOW_MODEL_INFO_S``."""

    def model_info(self, repo_id: str, revision: str, *, timeout: float | None = None) -> HubModel:
        model = super().model_info(repo_id, revision, timeout=timeout)
        time.sleep(SLOW_MODEL_INFO_S)
        return model


@pytest.mark.parametrize("route", ["/api/v1/submissions/validate", "/api/v1/submissions"])
def test_a_deadline_that_cuts_the_metadata_step_answers_503(
    route: str, hub: HubServer, sqlite_url: str, sqlite_engine: Engine, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_url, tmp_path / "data", hub_deadline_s=SHORT_DEADLINE_S)
    sent = SentMessages()
    downloads = len(hub.downloaded("config.json"))
    app = create_app(settings)
    with build_client(app, hub, tmp_path / "cache", sent) as client:
        app.dependency_overrides[get_hub_client] = lambda: SlowModelInfoHub(
            hub.url, cache_dir=tmp_path / "cache"
        )
        response = client.post(route, json=submission_body(GOOD))
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    body = response.json()
    by_name = {check["name"]: check for check in body["checks"]}
    assert by_name["hub_model"]["ok"] and by_name["parameters"]["ok"]
    config = by_name["config"]
    assert not config["ok"] and not config["skipped"] and "Hub" in config["message"]
    assert body["detail"] == config["message"]
    for name in {"architecture", "tokenizer", "memory"} & by_name.keys():
        assert by_name[name]["skipped"] and by_name[name]["message"].startswith("Not checked"), by_name[name]
    if route.endswith("/validate"):
        assert {"architecture", "tokenizer", "duplicate", "memory"} <= by_name.keys()
    assert sent.ids == [] and len(hub.downloaded("config.json")) == downloads
