"""One evaluation run of a submission: claim, heartbeat, finish, retry policy and saving the result.

A run takes the submission's lease (a conditional UPDATE that also increments ``attempt``, the fencing token)
and gets the ``RunSpec`` built from the submission row. Every later write of the run is fenced by that
attempt: when another run holds the submission now, nothing is written. The result and the final state are
written in one unit of work, with the audit log's lines and the webhook deliveries they cause
(``run_events``); the deliveries are sent through ``notify`` after the commit. The Celery task
(``worker.tasks``) calls these functions and the engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Submission
from app.db.repositories import submissions as repo
from app.db.session import unit_of_work
from app.services.intake.run_spec import RunConfig, RunSpec
from app.services.operations.notifications import Notify, send_after_commit
from app.services.presentation.parameters import record_worker_sizes
from app.services.results import run_events
from app.services.results.intervals import compute_intervals
from app.services.results.results import record_result
from worker.engine.results import BenchmarkResult
from worker.engine.types import Example, ScoredExample

log = logging.getLogger(__name__)

Factory = sessionmaker[Session]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    backoff_s: int  # the first wait; doubles with each attempt

    def wait_after(self, attempt: int) -> int:
        return self.backoff_s * 2 ** (attempt - 1)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    status: str  # succeeded, failed, retrying, lease_lost, skipped
    retry_in_s: int | None = None


def claim(factory: Factory, submission_id: int, *, owner: str, lease_seconds: int) -> RunSpec | None:
    """Take the submission for one run; None when it is finished or another live run holds it."""
    with unit_of_work(factory) as session:
        now = datetime.now(UTC)
        submission_id = repo.run_in_slot_of(session, submission_id)
        attempt = repo.claim_run(session, submission_id, owner=owner, now=now, lease_seconds=lease_seconds)
        if attempt is None:
            return None
        submission = repo.get_submission(session, submission_id)
        assert submission is not None
        return _spec(submission, attempt)


def _spec(submission: Submission, attempt: int) -> RunSpec:
    return RunSpec(
        submission_id=submission.id,
        attempt=attempt,
        reward_model_id=submission.reward_model_id,
        hub_id=submission.reward_model.hub_id,
        commit=submission.resolved_commit or submission.requested_revision,
        requested_revision=submission.requested_revision,
        config=RunConfig.model_validate(submission.run_config),
    )


def heartbeat(
    factory: Factory, spec: RunSpec, *, lease_seconds: int, done: int, total: int, subset: str | None = None
) -> bool:
    """Extend the lease and store progress (and the subset being scored); False when this run no longer
    holds the submission."""
    with unit_of_work(factory) as session:
        return repo.heartbeat(
            session,
            spec.submission_id,
            attempt=spec.attempt,
            now=datetime.now(UTC),
            lease_seconds=lease_seconds,
            done=done,
            total=total,
            subset=subset,
        )


def save(
    factory: Factory,
    spec: RunSpec,
    result: BenchmarkResult,
    scored: list[ScoredExample],
    examples: list[Example],
    *,
    notify: Notify | None = None,
) -> bool:
    """Mark the run succeeded and store its result in one unit of work; False when the lease was lost.

    The intervals (a bootstrap over every example) are computed first, so the transaction holds no lock
    while they are. The same unit of work logs the result (and the one it replaced on the board) and
    queues the webhooks, sent through ``notify`` once it is committed."""
    intervals = compute_intervals(result.benchmark, result.aggregate().scoring_version, scored)
    with unit_of_work(factory) as session:
        if not repo.finish_succeeded(
            session, spec.submission_id, attempt=spec.attempt, now=datetime.now(UTC)
        ):
            log.warning(
                "submission %s: attempt %s no longer holds the lease; result dropped",
                spec.submission_id,
                spec.attempt,
            )
            return False
        result.model = spec.hub_id
        previous = run_events.shown_before(session, spec)
        stored = record_result(
            session,
            reward_model_id=spec.reward_model_id,
            hub_id=spec.hub_id,
            result=result,
            scored=scored,
            examples=examples,
            submission_id=spec.submission_id,
            revision=spec.requested_revision,
            commit=spec.commit,
            config=spec.config.public(),
            intervals=intervals,
        )
        sizes = result.reproducibility.get("parameters")
        record_worker_sizes(repo.lock_reward_model(session, hub_id=spec.hub_id), sizes)
        deliveries = run_events.result_stored(session, spec, stored, previous)
    send_after_commit(notify, deliveries)
    return True


def fail(factory: Factory, spec: RunSpec, kind: str, message: str, *, notify: Notify | None = None) -> None:
    """Fail the run for good (when this run still holds the submission), logged and notified."""
    deliveries: list[int | None] = []
    with unit_of_work(factory) as session:
        failed = repo.finish_failed(
            session,
            spec.submission_id,
            attempt=spec.attempt,
            kind=kind,
            message=message,
            now=datetime.now(UTC),
        )
        if failed:
            deliveries = run_events.run_failed(session, spec, kind, message)
    send_after_commit(notify, deliveries)


def give_up_if_exhausted(
    factory: Factory, spec: RunSpec, policy: RetryPolicy, *, notify: Notify | None = None
) -> bool:
    """Fail a submission started more often than the policy allows (its runs kept dying); True if so."""
    if spec.attempt <= policy.max_attempts:
        return False
    message = (
        f"The evaluation was started {spec.attempt - 1} times without finishing (the worker was lost or "
        "the Hub kept failing); it will not be retried automatically."
    )
    fail(factory, spec, "worker_lost", message, notify=notify)
    return True


def retry_or_fail(
    factory: Factory,
    spec: RunSpec,
    policy: RetryPolicy,
    kind: str,
    reason: str,
    *,
    notify: Notify | None = None,
) -> RunOutcome:
    """After a transient failure: back to the queue with a wait, or failed once the attempts are used up."""
    if spec.attempt >= policy.max_attempts:
        fail(factory, spec, kind, f"{reason} (gave up after {spec.attempt} attempts)", notify=notify)
        return RunOutcome("failed")
    wait = policy.wait_after(spec.attempt)
    message = f"{reason}; retrying in {wait} seconds (attempt {spec.attempt} of {policy.max_attempts})"
    with unit_of_work(factory) as session:
        retry_at = datetime.now(UTC) + timedelta(seconds=wait)
        if not repo.requeue_for_retry(
            session, spec.submission_id, attempt=spec.attempt, kind=kind, message=message, retry_at=retry_at
        ):
            return RunOutcome("lease_lost")
    return RunOutcome("retrying", retry_in_s=wait)
