"""R6: simultaneous submissions of one model and commit leave one submission; the rest get a 409 to it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from app.db.models import Submission
from app.services.intake import submissions as service
from app.services.intake.hub import HubClient
from app.services.intake.validation import SubmissionRequest
from tests.conftest import engine_url
from tests.submissions.conftest import SPARE, SentMessages, make_settings
from tests.support.hub_server import HubServer

pytestmark = pytest.mark.postgres
CONCURRENT = 8


def test_concurrent_duplicates_leave_one_submission(
    postgres_clean_engine: Engine, hub: HubServer, tmp_path: Path
) -> None:
    settings = make_settings(engine_url(postgres_clean_engine), tmp_path / "data", rate_limit_count=100)
    factory = sessionmaker(bind=postgres_clean_engine, expire_on_commit=False)
    hub_client = HubClient(hub.url, cache_dir=tmp_path / "cache")
    request = SubmissionRequest(model=SPARE[6])
    sent = SentMessages()
    barrier = threading.Barrier(CONCURRENT)
    accepted: list[int] = []
    refused: list[service.SubmissionRejected] = []
    errors: list[BaseException] = []

    def submit() -> None:
        barrier.wait()
        try:
            accepted.append(service.submit(factory, settings, hub_client, request, sent).submission.id)
        except service.SubmissionRejected as rejection:
            refused.append(rejection)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=submit) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert len(accepted) == 1 and len(refused) == CONCURRENT - 1
    assert {(error.status_code, error.report.duplicate_of) for error in refused} == {(409, accepted[0])}
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 1
    assert sent.ids == accepted
