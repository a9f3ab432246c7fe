"""A full disk is reported in words and retried later; it never counts against the submitter."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import SubmissionStatus
from app.db.repositories import submissions as repo
from app.db.session import unit_of_work
from tests.submissions.test_lease import new_submission
from worker.engine import runner
from worker.engine.errors import DiskFullError
from worker.engine.runner import EvaluationSpec, run_evaluation
from worker.settings import WorkerSettings
from worker.tasks import run_submission


def _no_space(*_args: object, **_kwargs: object) -> NoReturn:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_engine_names_a_full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "load_dataset", _no_space)
    with pytest.raises(DiskFullError, match="ran out of disk space"):
        run_evaluation(EvaluationSpec(model="org/model"))


def test_other_os_errors_are_not_called_a_full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*_args: object, **_kwargs: object) -> NoReturn:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(runner, "load_dataset", denied)
    with pytest.raises(PermissionError):
        run_evaluation(EvaluationSpec(model="org/model"))


def test_full_disk_requeues_with_the_reason_then_fails_without_using_quota(
    db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "load_dataset", _no_space)
    settings = WorkerSettings(database_url=db_url, data_dir=tmp_path, max_retries=1, retry_backoff_s=5)
    submission_id = new_submission(db_session_factory, "full-org/model")

    first = run_submission(submission_id, settings, owner="w1")
    assert first.retry_in_s == 5
    with unit_of_work(db_session_factory) as session:
        row = repo.get_submission(session, submission_id)
        assert row is not None
        assert (row.status, row.failure_kind) == (SubmissionStatus.QUEUED, "disk_full")
        assert "ran out of disk space" in (row.failure_message or "")
        assert "retrying in 5 seconds" in (row.failure_message or "")

    assert run_submission(submission_id, settings, owner="w2").status == "failed"
    with unit_of_work(db_session_factory) as session:
        row = repo.get_submission(session, submission_id)
        assert row is not None
        assert (row.status, row.failure_kind, row.attempt) == (SubmissionStatus.FAILED, "disk_full", 2)
        assert "gave up after 2 attempts" in (row.failure_message or "")
        used, _ = repo.recent_for_namespace(session, namespace="full-org", since=row.created_at)
        assert used == 0
