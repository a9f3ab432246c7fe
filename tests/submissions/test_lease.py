"""The lease and fencing rules, and the reconciler, on SQLite and PostgreSQL (no worker process)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import SubmissionStatus
from app.db.repositories import submissions as repo
from app.db.session import unit_of_work
from app.services.intake.queues import Route
from app.services.intake.run_spec import RunConfig
from app.services.intake.submissions import dispatch
from tests.submissions.conftest import SAMPLE_DATA
from worker.reconciler import reconcile
from worker.settings import WorkerSettings
from worker.tasks import run_submission

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

SETTINGS = Settings()


def recorder(sent: list[int]) -> Callable[[int, Route], None]:
    return lambda submission_id, route: sent.append(submission_id)


def new_submission(
    factory: sessionmaker[Session],
    name: str = "org/model",
    *,
    commit: str = "a" * 40,
    config: RunConfig | None = None,
) -> int:
    config = config or RunConfig(
        benchmark="rewardbench-v1",
        model_type="classifier",
        kind_settings={"chat_template": "auto"},
        max_length=2048,
        dataset=str(SAMPLE_DATA),
        limit_per_subset=1,
    )
    with unit_of_work(factory) as session:
        model = repo.lock_reward_model(session, hub_id=name)
        submission = repo.add_submission(
            session,
            repo.NewSubmission(
                reward_model_id=model.id,
                requested_revision="main",
                resolved_commit=commit,
                model_type=config.model_type,
                benchmark=config.benchmark,
                run_config=config.model_dump(mode="json"),
                config_key=config.key(),
                has_chat_template=True,
                submitter=None,
            ),
        )
        return submission.id


def claim(factory: sessionmaker[Session], submission_id: int, owner: str, now: datetime) -> int | None:
    with unit_of_work(factory) as session:
        return repo.claim_run(session, submission_id, owner=owner, now=now, lease_seconds=60)


def test_two_deliveries_never_both_hold_the_lease(db_session_factory: sessionmaker[Session]) -> None:
    submission_id = new_submission(db_session_factory)
    assert claim(db_session_factory, submission_id, "a", T0) == 1
    assert claim(db_session_factory, submission_id, "b", T0 + timedelta(seconds=30)) is None
    # After the lease expires a new run takes over with the next fencing token...
    assert claim(db_session_factory, submission_id, "b", T0 + timedelta(seconds=61)) == 2
    with unit_of_work(db_session_factory) as session:
        later = T0 + timedelta(seconds=70)
        # ...and the first run's writes are refused: heartbeat, success and failure alike.
        assert not repo.heartbeat(
            session, submission_id, attempt=1, now=later, lease_seconds=60, done=5, total=9
        )
        assert not repo.finish_succeeded(session, submission_id, attempt=1, now=later)
        assert not repo.finish_failed(session, submission_id, attempt=1, kind="x", message="y", now=later)
        assert repo.heartbeat(session, submission_id, attempt=2, now=later, lease_seconds=60, done=9, total=9)
        assert repo.finish_succeeded(session, submission_id, attempt=2, now=later)
    # A redelivered message for a finished submission does nothing.
    assert claim(db_session_factory, submission_id, "c", T0 + timedelta(days=1)) is None
    with unit_of_work(db_session_factory) as session:
        row = repo.get_submission(session, submission_id)
        assert row is not None
        assert (row.status, row.attempt, row.progress_done) == (SubmissionStatus.SUCCEEDED, 2, 9)


def test_reconciler_sends_undelivered_and_requeues_expired_leases(
    db_session_factory: sessionmaker[Session],
) -> None:
    fresh = new_submission(db_session_factory, "org/fresh")
    lost = new_submission(db_session_factory, "org/lost")
    now = datetime.now(UTC)
    assert claim(db_session_factory, lost, "dead-worker", now - timedelta(seconds=120)) == 1
    sent: list[int] = []
    report = reconcile(
        db_session_factory,
        recorder(sent),
        settings=SETTINGS,
        dispatch_grace_s=0,
        stalled_queue_s=600,
        now=now,
    )
    assert report.requeued == [lost]
    assert sorted(report.sent) == sorted([fresh, lost]) == sorted(sent)
    # A second pass finds nothing to do: everything is marked as sent.
    again = reconcile(
        db_session_factory,
        recorder(sent),
        settings=SETTINGS,
        dispatch_grace_s=0,
        stalled_queue_s=600,
        now=now,
    )
    assert (again.requeued, again.sent) == ([], [])
    with unit_of_work(db_session_factory) as session:
        row = repo.get_submission(session, lost)
        assert row is not None and row.status == SubmissionStatus.QUEUED and row.enqueued_at is not None
    assert claim(db_session_factory, lost, "new-worker", now) == 2


def test_reconciler_leaves_fresh_submissions_to_the_web_process(
    db_session_factory: sessionmaker[Session],
) -> None:
    new_submission(db_session_factory)
    sent: list[int] = []
    report = reconcile(
        db_session_factory, recorder(sent), settings=SETTINGS, dispatch_grace_s=3600, stalled_queue_s=600
    )
    assert report.sent == [] and sent == []


def test_failed_send_is_undone_for_the_next_pass(db_session_factory: sessionmaker[Session]) -> None:
    submission_id = new_submission(db_session_factory)

    def broker_down(_: int, __: Route) -> None:
        raise ConnectionError("down")

    assert dispatch(db_session_factory, broker_down, submission_id, SETTINGS) is False
    with unit_of_work(db_session_factory) as session:
        assert repo.undelivered(session, created_before=datetime.now(UTC) + timedelta(seconds=1)) == [
            submission_id
        ]
    sent: list[int] = []
    assert dispatch(db_session_factory, recorder(sent), submission_id, SETTINGS) is True
    assert dispatch(db_session_factory, recorder(sent), submission_id, SETTINGS) is False  # never sent twice
    assert sent == [submission_id]


def test_stalled_queue_head_is_sent_again(db_session_factory: sessionmaker[Session]) -> None:
    submission_id = new_submission(db_session_factory)
    sent: list[int] = []
    assert dispatch(db_session_factory, recorder(sent), submission_id, SETTINGS)
    later = datetime.now(UTC) + timedelta(hours=1)
    report = reconcile(
        db_session_factory,
        recorder(sent),
        settings=SETTINGS,
        dispatch_grace_s=0,
        stalled_queue_s=600,
        now=later,
    )
    assert report.sent == [submission_id] and sent == [submission_id, submission_id]


@pytest.mark.parametrize("statuses", [None, [SubmissionStatus.QUEUED]])
def test_queue_positions_follow_submission_order(
    db_session_factory: sessionmaker[Session], statuses: list[SubmissionStatus] | None
) -> None:
    from app.services.intake.submissions import DEFAULT_RUN_SECONDS, describe, queue_overview

    ids = [new_submission(db_session_factory, f"org/m{index}") for index in range(3)]
    assert claim(db_session_factory, ids[0], "w", datetime.now(UTC)) == 1
    with unit_of_work(db_session_factory) as session:
        overview = queue_overview(session)
        assert [view.id for view in overview.running] == [ids[0]]
        assert [(view.id, view.queue_position) for view in overview.waiting] == [(ids[1], 1), (ids[2], 2)]
        assert overview.estimate_is_default and overview.typical_run_seconds == DEFAULT_RUN_SECONDS
        second, third = describe(session, ids[1]), describe(session, ids[2])
        assert second is not None and third is not None
        assert second.eta_seconds is not None and third.eta_seconds is not None
        assert third.eta_seconds - second.eta_seconds == DEFAULT_RUN_SECONDS


def test_redelivered_messages_do_nothing_while_a_run_holds_the_lease(
    db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    settings = WorkerSettings(database_url=db_url, data_dir=tmp_path, max_retries=1)
    running = new_submission(db_session_factory, "org/running")
    assert claim(db_session_factory, running, "other-worker", datetime.now(UTC)) == 1
    assert run_submission(running, settings, owner="me").status == "skipped"
    done = new_submission(db_session_factory, "org/done")
    assert claim(db_session_factory, done, "w", datetime.now(UTC)) == 1
    with unit_of_work(db_session_factory) as session:
        assert repo.finish_succeeded(session, done, attempt=1, now=datetime.now(UTC))
    assert run_submission(done, settings, owner="me").status == "skipped"
    with unit_of_work(db_session_factory) as session:
        rows = [repo.get_submission(session, sid) for sid in (running, done)]
        assert [(row.status, row.attempt) for row in rows if row] == [
            (SubmissionStatus.RUNNING, 1),
            (SubmissionStatus.SUCCEEDED, 1),
        ]


def test_a_submission_that_keeps_losing_its_worker_fails_with_a_reason(
    db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    settings = WorkerSettings(database_url=db_url, data_dir=tmp_path, max_retries=1)
    submission_id = new_submission(db_session_factory)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    assert claim(db_session_factory, submission_id, "lost-1", long_ago) == 1
    assert claim(db_session_factory, submission_id, "lost-2", long_ago + timedelta(minutes=5)) == 2
    assert run_submission(submission_id, settings, owner="me").status == "failed"
    with unit_of_work(db_session_factory) as session:
        row = repo.get_submission(session, submission_id)
        assert row is not None
        assert (row.status, row.failure_kind, row.attempt) == (SubmissionStatus.FAILED, "worker_lost", 3)
        assert "started 2 times without finishing" in (row.failure_message or "")
