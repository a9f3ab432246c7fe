"""The evaluation task. It takes a submission id and is safe to run twice.

The task claims the run through ``app.services.results.runs`` (a lease fenced by the attempt number), runs the
engine on the ``RunSpec`` built from the submission row, and hands the output back to the runs service,
which stores the result and the final state in one unit of work. A heartbeat thread renews the lease and
stores progress while the engine runs; when a renewal finds the lease taken by another run, this run stops.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from app.db.session import engine_for, session_factory
from app.services.intake.endpoint_judges import endpoint_sources
from app.services.intake.queues import time_limit_s
from app.services.intake.run_spec import RunSpec
from app.services.results import runs
from worker.broker import TASK_EVALUATE, send_webhook_delivery
from worker.celery_app import app
from worker.engine.errors import DiskFullError, EngineError, HubUnreachableError
from worker.settings import WorkerSettings, use_weights_cache, worker_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from worker.engine.runner import EvaluationOutput

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[EngineError], ...] = (HubUnreachableError, DiskFullError)


class LeaseLostError(Exception):
    """Another run holds the submission now; this one must stop without writing."""


@app.task(name=TASK_EVALUATE, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def evaluate_submission(self: Task, submission_id: int) -> str:  # type: ignore[type-arg]
    """Evaluate one submission; redeliveries of a finished or running submission do nothing."""
    outcome = run_submission(submission_id, worker_settings(), owner=_owner(self))
    if outcome.retry_in_s is not None:
        raise self.retry(countdown=outcome.retry_in_s, max_retries=None)
    return outcome.status


def run_submission(submission_id: int, settings: WorkerSettings, *, owner: str) -> runs.RunOutcome:
    engine = engine_for(settings.resolved_database_url())
    try:
        return _run(submission_id, settings, owner, session_factory(engine))
    finally:
        engine.dispose()  # the run's connections close with it, not whenever the engine is collected


def _run(
    submission_id: int, settings: WorkerSettings, owner: str, factory: sessionmaker[Session]
) -> runs.RunOutcome:
    spec = runs.claim(factory, submission_id, owner=owner, lease_seconds=settings.lease_seconds)
    if spec is None:
        log.info(
            "submission %s is not queued (finished, or another run holds it); nothing to do", submission_id
        )
        return runs.RunOutcome("skipped")
    policy = runs.RetryPolicy(max_attempts=settings.max_retries + 1, backoff_s=settings.retry_backoff_s)

    def notify(delivery_id: int) -> None:
        send_webhook_delivery(settings, delivery_id)

    if runs.give_up_if_exhausted(factory, spec, policy, notify=notify):
        return runs.RunOutcome("failed")
    heartbeat = Heartbeat(factory, spec, settings)
    heartbeat.start()
    try:
        output = _evaluate(spec, settings, heartbeat)
    except LeaseLostError:
        log.warning("submission %s: lease lost by attempt %s; stopping", submission_id, spec.attempt)
        return runs.RunOutcome("lease_lost")
    except TRANSIENT_ERRORS as error:
        return runs.retry_or_fail(factory, spec, policy, error.kind, error.message, notify=notify)
    except EngineError as error:
        runs.fail(factory, spec, error.kind, error.message, notify=notify)
        return runs.RunOutcome("failed")
    except SoftTimeLimitExceeded:
        limit = time_limit_s(spec.config, settings)
        message = f"The evaluation ran out of time (limit {limit // 60} minutes)."
        runs.fail(factory, spec, "timeout", message, notify=notify)
        return runs.RunOutcome("failed")
    except Exception as error:
        log.exception("submission %s: unexpected error", submission_id)
        message = f"An internal error stopped the evaluation ({type(error).__name__})."
        runs.fail(factory, spec, "internal_error", message, notify=notify)
        return runs.RunOutcome("failed")
    finally:
        heartbeat.stop()
    saved = runs.save(factory, spec, output.result, output.scored, output.examples, notify=notify)
    return runs.RunOutcome("succeeded" if saved else "lease_lost")


def _evaluate(spec: RunSpec, settings: WorkerSettings, heartbeat: Heartbeat) -> EvaluationOutput:
    from worker.engine.runner import run_evaluation

    evaluation = spec.evaluation_spec(
        batch_tokens=settings.eval_batch_tokens,
        cache_dir=str(use_weights_cache(settings)),
        generation_backend=settings.eval_generation_backend,
        endpoints=endpoint_sources(settings),
    )
    return run_evaluation(evaluation, heartbeat.progress, on_subset=heartbeat.scoring_subset)


class Heartbeat:
    """Renews the lease and stores progress from a side thread, so slow downloads keep the lease too."""

    def __init__(self, factory: runs.Factory, spec: RunSpec, settings: WorkerSettings) -> None:
        self.factory = factory
        self.spec = spec
        self.lease_seconds = settings.lease_seconds
        self.interval = max(min(settings.lease_seconds / 3, 30.0), 0.5)
        self.delay = settings.eval_progress_delay_s
        self.done = 0
        self.total = 0
        self.subset: str | None = None
        self.lost = False
        self._written: tuple[int, int, str | None] = (-1, -1, None)
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
            raise LeaseLostError(f"submission {self.spec.submission_id} attempt {self.spec.attempt}")
        self.done, self.total = done, total
        self._wake.set()
        if self.delay:
            time.sleep(self.delay)

    def scoring_subset(self, subset: str) -> None:
        """The engine's subset callback: the examples being scored now are mostly from ``subset``."""
        self.subset = subset

    def _run(self) -> None:
        last = 0.0
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            changed = (self.done, self.total, self.subset) != self._written
            if not changed and time.monotonic() - last < self.interval * 0.8:
                continue
            try:
                self._beat()
                last = time.monotonic()
            except Exception:
                log.exception("heartbeat for submission %s failed", self.spec.submission_id)
            if self.lost:
                return
            if changed:
                self._stop.wait(0.5)  # at most two progress writes a second

    def _beat(self) -> None:
        done, total, subset = self.done, self.total, self.subset
        held = runs.heartbeat(
            self.factory, self.spec, lease_seconds=self.lease_seconds, done=done, total=total, subset=subset
        )
        self._written = (done, total, subset)
        self.lost = not held


def _owner(task: Task) -> str:  # type: ignore[type-arg]
    hostname = task.request.hostname or socket.gethostname()
    return f"{hostname}:{os.getpid()}:{task.request.id}"[:200]
