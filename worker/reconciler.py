"""The reconciler: makes the database and the broker agree again.

It re-sends submissions that were committed but never reached the broker (the broker was down, or the web
process died between commit and send), puts runs whose lease expired (a worker was killed) back in the queue
and sends them again, and re-sends the queue head when nothing runs and its message was sent long ago (a
message the broker lost). It also tries every webhook delivery overdue by more than the dispatch grace (its
message was lost, or waits behind a long evaluation on a worker that runs one task at a time). Every step
is a conditional update, so several reconcilers may run at once.
Workers run it on a timer thread; tests call ``reconcile()`` directly.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.repositories import submissions as repo
from app.db.session import make_engine, unit_of_work
from app.services.intake.submissions import Send, dispatch
from app.services.operations.notifications import deliver_due
from worker.broker import send_evaluation
from worker.settings import WorkerSettings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReconcileReport:
    requeued: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    webhooks: list[int] = field(default_factory=list)  # deliveries tried


def reconcile(
    factory: sessionmaker[Session],
    send: Send,
    *,
    settings: Settings,
    dispatch_grace_s: float,
    stalled_queue_s: float,
    now: datetime | None = None,
) -> ReconcileReport:
    now = now or datetime.now(UTC)
    report = ReconcileReport()
    with unit_of_work(factory) as session:
        for submission_id, attempt in repo.expired_leases(session, now=now):
            if repo.requeue_expired(session, submission_id, attempt=attempt, now=now):
                log.warning(
                    "submission %s: lease of attempt %s expired; queued again", submission_id, attempt
                )
                report.requeued.append(submission_id)
    with unit_of_work(factory) as session:
        stalled = repo.stalled_queue_head(session, enqueued_before=now - timedelta(seconds=stalled_queue_s))
        if stalled is not None:
            repo.reset_enqueued(session, stalled, enqueued_before=now - timedelta(seconds=stalled_queue_s))
    with unit_of_work(factory) as session:
        waiting = repo.undelivered(session, created_before=now - timedelta(seconds=dispatch_grace_s))
    for submission_id in waiting:
        if dispatch(factory, send, submission_id, settings):
            report.sent.append(submission_id)
    tried = deliver_due(factory, settings, now=now, overdue_s=dispatch_grace_s)
    report.webhooks = [delivery_id for delivery_id, outcome in tried.items() if outcome.status != "skipped"]
    return report


_engine: Engine | None = None
_stop = threading.Event()
_thread: threading.Thread | None = None


def _factory(settings: WorkerSettings) -> sessionmaker[Session]:
    global _engine
    if _engine is None:
        _engine = make_engine(settings.resolved_database_url())
    return sessionmaker(bind=_engine, expire_on_commit=False)


def run_once(settings: WorkerSettings) -> ReconcileReport:
    return reconcile(
        _factory(settings),
        lambda submission_id, route: send_evaluation(settings, submission_id, route),
        settings=settings,
        dispatch_grace_s=settings.dispatch_grace_s,
        stalled_queue_s=settings.stalled_queue_s,
    )


def _loop(settings: WorkerSettings) -> None:
    while not _stop.wait(settings.reconcile_interval_s):
        try:
            report = run_once(settings)
            if report.sent or report.requeued or report.webhooks:
                log.info(
                    "reconciler: requeued %s, sent %s, webhook deliveries tried %s",
                    report.requeued,
                    report.sent,
                    report.webhooks,
                )
        except Exception:
            log.exception("reconciler pass failed; trying again in %ss", settings.reconcile_interval_s)


def start_reconciler_thread(settings: WorkerSettings) -> None:
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    _stop.clear()
    _thread = threading.Thread(target=_loop, args=(settings,), name="reconciler", daemon=True)
    _thread.start()


def stop_reconciler_thread() -> None:
    _stop.set()


def forget_inherited_engine() -> None:
    """In a forked child: drop the parent's pool without closing its connections."""
    global _engine, _thread
    if _engine is not None:
        _engine.dispose(close=False)
        _engine = None
    _thread = None
