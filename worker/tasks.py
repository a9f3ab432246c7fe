"""The evaluation task. It takes a submission id and is safe to run twice.

A run first takes the submission's lease (a conditional UPDATE that also increments ``attempt``, the fencing
token). A heartbeat thread renews the lease and stores progress while the engine runs; when a renewal finds
the lease taken by another run, this run stops. The result and the final state are written in one
transaction, guarded by the fencing token; ``save_evaluation_result`` is idempotent per submission.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Submission
from app.db.repositories import submissions as repo
from app.db.repositories.results import save_evaluation_result
from app.db.session import engine_for, session_factory, unit_of_work
from worker.broker import TASK_EVALUATE
from worker.celery_app import app
from worker.engine.errors import DiskFullError, EngineError, HubUnreachableError
from worker.settings import WorkerSettings, use_weights_cache, worker_settings

if TYPE_CHECKING:
    from worker.engine.runner import EvaluationOutput

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[EngineError], ...] = (HubUnreachableError, DiskFullError)


class LeaseLostError(Exception):
    """Another run holds the submission now; this one must stop without writing."""


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    retry_in_s: int | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    submission_id: int
    attempt: int
    hub_id: str
    commit: str
    requested_revision: str
    model_type: str
    reference_model: str | None
    chat_template: str
    max_length: int


@app.task(name=TASK_EVALUATE, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def evaluate_submission(self: Task, submission_id: int) -> str:  # type: ignore[type-arg]
    """Evaluate one submission; redeliveries of a finished or running submission do nothing."""
    outcome = run_submission(submission_id, worker_settings(), owner=_owner(self))
    if outcome.retry_in_s is not None:
        raise self.retry(countdown=outcome.retry_in_s, max_retries=None)
    return outcome.status


def run_submission(submission_id: int, settings: WorkerSettings, *, owner: str) -> Outcome:
    factory = session_factory(engine_for(settings.resolved_database_url()))
    claimed = _claim(factory, submission_id, settings, owner)
    if claimed is None:
        log.info(
            "submission %s is not queued (finished, or another run holds it); nothing to do", submission_id
        )
        return Outcome("skipped")
    max_attempts = settings.max_retries + 1
    if claimed.attempt > max_attempts:
        message = (
            f"The evaluation was started {claimed.attempt - 1} times without finishing "
            "(the worker was lost or "
            "the Hub kept failing); it will not be retried automatically."
        )
        _fail(factory, claimed, "worker_lost", message)
        return Outcome("failed")
    heartbeat = Heartbeat(factory, claimed, settings)
    heartbeat.start()
    try:
        output = _evaluate(claimed, settings, heartbeat)
    except LeaseLostError:
        log.warning("submission %s: lease lost by attempt %s; stopping", submission_id, claimed.attempt)
        return Outcome("lease_lost")
    except TRANSIENT_ERRORS as error:
        return _retry_or_fail(factory, claimed, settings, error)
    except EngineError as error:
        _fail(factory, claimed, error.kind, error.message)
        return Outcome("failed")
    except SoftTimeLimitExceeded:
        limit = settings.eval_time_limit_s
        _fail(factory, claimed, "timeout", f"The evaluation ran out of time (limit {limit // 60} minutes).")
        return Outcome("failed")
    except Exception as error:
        log.exception("submission %s: unexpected error", submission_id)
        _fail(
            factory,
            claimed,
            "internal_error",
            f"An internal error stopped the evaluation ({type(error).__name__}).",
        )
        return Outcome("failed")
    finally:
        heartbeat.stop()
    return Outcome("succeeded" if _save(factory, claimed, settings, output) else "lease_lost")


def _claim(
    factory: sessionmaker[Session], submission_id: int, settings: WorkerSettings, owner: str
) -> Claimed | None:
    with unit_of_work(factory) as session:
        now = datetime.now(UTC)
        attempt = repo.claim_run(
            session, submission_id, owner=owner, now=now, lease_seconds=settings.lease_seconds
        )
        if attempt is None:
            return None
        submission = repo.get_submission(session, submission_id)
        assert submission is not None
        return _claimed(submission, attempt)


def _claimed(submission: Submission, attempt: int) -> Claimed:
    return Claimed(
        submission_id=submission.id,
        attempt=attempt,
        hub_id=submission.reward_model.hub_id,
        commit=submission.resolved_commit or submission.requested_revision,
        requested_revision=submission.requested_revision,
        model_type=submission.model_type,
        reference_model=submission.reference_model,
        chat_template=submission.chat_template,
        max_length=submission.max_length,
    )


def _evaluate(claimed: Claimed, settings: WorkerSettings, heartbeat: Heartbeat) -> EvaluationOutput:
    from worker.engine.runner import EvaluationSpec, run_evaluation

    spec = EvaluationSpec(
        model=claimed.hub_id,
        revision=claimed.commit,
        model_type=claimed.model_type,
        reference_model=claimed.reference_model,
        dataset=settings.dataset_path or None,
        limit_per_subset=settings.eval_limit_per_subset,
        max_length=claimed.max_length,
        batch_tokens=settings.eval_batch_tokens,
        chat_template=claimed.chat_template,
        cache_dir=str(use_weights_cache(settings)),
    )
    return run_evaluation(spec, heartbeat.progress)


def _save(
    factory: sessionmaker[Session], claimed: Claimed, settings: WorkerSettings, output: EvaluationOutput
) -> bool:
    with unit_of_work(factory) as session:
        if not repo.finish_succeeded(
            session, claimed.submission_id, attempt=claimed.attempt, now=datetime.now(UTC)
        ):
            log.warning(
                "submission %s: attempt %s no longer holds the lease; result dropped",
                claimed.submission_id,
                claimed.attempt,
            )
            return False
        save_evaluation_result(
            session,
            hub_id=claimed.hub_id,
            result=output.result,
            pair_scores=output.pair_scores,
            pairs=output.pairs,
            submission_id=claimed.submission_id,
            revision=claimed.requested_revision,
            commit=claimed.commit,
            config={
                "max_length": claimed.max_length,
                "batch_tokens": settings.eval_batch_tokens,
                "chat_template": claimed.chat_template,
                "limit_per_subset": settings.eval_limit_per_subset,
                "dataset": settings.dataset_path or None,
            },
        )
    return True


def _fail(factory: sessionmaker[Session], claimed: Claimed, kind: str, message: str) -> None:
    with unit_of_work(factory) as session:
        repo.finish_failed(
            session,
            claimed.submission_id,
            attempt=claimed.attempt,
            kind=kind,
            message=message,
            now=datetime.now(UTC),
        )


def _retry_or_fail(
    factory: sessionmaker[Session], claimed: Claimed, settings: WorkerSettings, error: EngineError
) -> Outcome:
    if claimed.attempt >= settings.max_retries + 1:
        _fail(factory, claimed, error.kind, f"{error.message} (gave up after {claimed.attempt} attempts)")
        return Outcome("failed")
    wait = settings.retry_backoff_s * 2 ** (claimed.attempt - 1)
    attempts = settings.max_retries + 1
    message = f"{error.message}; retrying in {wait} seconds (attempt {claimed.attempt} of {attempts})"
    with unit_of_work(factory) as session:
        retry_at = datetime.now(UTC) + timedelta(seconds=wait)
        if not repo.requeue_for_retry(
            session,
            claimed.submission_id,
            attempt=claimed.attempt,
            kind=error.kind,
            message=message,
            retry_at=retry_at,
        ):
            return Outcome("lease_lost")
    return Outcome("retrying", retry_in_s=wait)


class Heartbeat:
    """Renews the lease and stores progress from a side thread, so slow downloads keep the lease too."""

    def __init__(self, factory: sessionmaker[Session], claimed: Claimed, settings: WorkerSettings) -> None:
        self.factory = factory
        self.claimed = claimed
        self.lease_seconds = settings.lease_seconds
        self.interval = max(min(settings.lease_seconds / 3, 30.0), 0.5)
        self.delay = settings.eval_progress_delay_s
        self.done = 0
        self.total = 0
        self.lost = False
        self._written = (-1, -1)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def progress(self, done: int, total: int) -> None:
        """The engine's progress callback: record, and stop the run when the lease is gone."""
        if self.lost:
            raise LeaseLostError(f"submission {self.claimed.submission_id} attempt {self.claimed.attempt}")
        self.done, self.total = done, total
        self._wake.set()
        if self.delay:
            time.sleep(self.delay)

    def _run(self) -> None:
        last = 0.0
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            changed = (self.done, self.total) != self._written
            if not changed and time.monotonic() - last < self.interval * 0.8:
                continue
            try:
                self._beat()
                last = time.monotonic()
            except Exception:
                log.exception("heartbeat for submission %s failed", self.claimed.submission_id)
            if self.lost:
                return
            if changed:
                self._stop.wait(0.5)  # at most two progress writes a second

    def _beat(self) -> None:
        done, total = self.done, self.total
        with unit_of_work(self.factory) as session:
            held = repo.heartbeat(
                session,
                self.claimed.submission_id,
                attempt=self.claimed.attempt,
                now=datetime.now(UTC),
                lease_seconds=self.lease_seconds,
                done=done,
                total=total,
            )
        self._written = (done, total)
        self.lost = not held


def _owner(task: Task) -> str:  # type: ignore[type-arg]
    hostname = task.request.hostname or socket.gethostname()
    return f"{hostname}:{os.getpid()}:{task.request.id}"[:200]
