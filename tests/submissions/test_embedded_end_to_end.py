"""The one-machine default: SQLite database, kombu's SQLAlchemy broker on SQLite, one worker process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.main import create_app
from tests.submissions.conftest import (
    GOOD,
    SPARE,
    Process,
    build_client,
    make_settings,
    submission_body,
    wait_for_run,
    wait_until,
    worker_env,
)
from tests.support.hub_server import HubServer

pytestmark = pytest.mark.slow


def test_submission_is_evaluated_by_a_worker_on_the_embedded_default(
    tmp_path: Path,
    hub: HubServer,
    sqlite_url: str,
    sqlite_engine: Any,
    start_worker: Callable[[dict[str, str]], Process],
) -> None:
    settings: Settings = make_settings(sqlite_url, tmp_path / "data")
    assert settings.resolved_broker_url().startswith("sqla+sqlite:///")
    worker = start_worker(worker_env(settings, hub, tmp_path))
    with build_client(create_app(settings), hub, tmp_path / "cache", send=None) as client:
        created = client.post("/api/v1/submissions", json=submission_body(GOOD))
        assert created.status_code == 201, created.text
        assert created.json()["submission"]["sent_to_worker"] is True
        url = f"/api/v1/submissions/{created.json()['submission']['id']}"

        body = wait_for_run(lambda: client.get(url).json(), worker, timeout=240)
        assert body["status"] == "succeeded", (body, worker.tail())
        assert body["progress_done"] == body["progress_total"] > 0
        model = client.get(f"/api/v1/models/{GOOD}")
        assert model.status_code == 200, model.text
        assert GOOD not in client.get("/").text  # one row a subset: a partial run, never ranked
        partial = client.get("/?partial=true").text
        assert GOOD in partial and "badge-partial" in partial
        page = client.get(f"/submissions/{body['id']}")
        assert "succeeded" in page.text and f"/models/{GOOD}" in page.text


def test_run_failures_are_typed_retried_when_transient_and_bounded(
    tmp_path: Path,
    hub: HubServer,
    sqlite_url: str,
    sqlite_engine: Any,
    start_worker: Callable[[dict[str, str]], Process],
) -> None:
    flaky, vanished = SPARE[3], SPARE[4]
    settings = make_settings(sqlite_url, tmp_path / "data")
    with build_client(create_app(settings), hub, tmp_path / "cache", send=None) as client:
        ids = {}
        for model in (flaky, vanished):
            created = client.post("/api/v1/submissions", json=submission_body(model))
            assert created.status_code == 201, created.text
            ids[model] = created.json()["submission"]["id"]
        hub.failing.add(flaky)  # the Hub answers 503 for this model from now on
        hub.remove_repo(vanished)  # deleted from the Hub after it was accepted
        try:
            worker = start_worker(worker_env(settings, hub, tmp_path, RETRY_BACKOFF_S="1", MAX_RETRIES="1"))

            def status(model: str) -> dict[str, Any]:
                body: dict[str, Any] = client.get(f"/api/v1/submissions/{ids[model]}").json()
                return body

            def both_finished() -> bool:
                return all(status(model)["status"] in ("succeeded", "failed") for model in ids)

            try:
                wait_until(both_finished, timeout=240, what="both submissions to finish")
            except AssertionError:
                raise AssertionError(worker.tail()) from None
        finally:
            hub.failing.discard(flaky)
        gone = status(vanished)
        assert (gone["status"], gone["failure_kind"], gone["attempt"]) == ("failed", "model_not_found", 1)
        assert "not found on the Hub" in gone["failure_message"]
        unreachable = status(flaky)
        assert (unreachable["status"], unreachable["failure_kind"]) == ("failed", "hub_unreachable")
        assert unreachable["attempt"] == 2
        assert "gave up after 2 attempts" in unreachable["failure_message"]
        page = client.get(f"/submissions/{ids[flaky]}").text
        assert "hub unreachable" in page and "gave up after 2 attempts" in page
