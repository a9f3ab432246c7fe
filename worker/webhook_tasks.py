"""The webhook task: one try of one delivery, by id, on the ``notifications`` queue every worker consumes.

Safe to run twice: the try claims its row first (``app.services.operations.notifications.deliver``), so a
redelivered message, or one racing the reconciler, sends nothing a second time. A try that should be
retried schedules its own message after the backoff; the reconciler also tries every overdue delivery, so
a lost message, a restart or a message waiting behind a long evaluation delays a delivery, never loses it.
"""

from __future__ import annotations

from celery import Task

from app.db.session import engine_for, session_factory
from app.services.operations import notifications
from worker.broker import NOTIFICATIONS_QUEUE, TASK_DELIVER_WEBHOOK
from worker.celery_app import app
from worker.settings import WorkerSettings, worker_settings


@app.task(name=TASK_DELIVER_WEBHOOK, bind=True, acks_late=True, ignore_result=True)
def deliver(self: Task, delivery_id: int) -> str:  # type: ignore[type-arg]
    """Try one webhook delivery now; schedule the next try when this one is to be retried."""
    outcome = deliver_once(delivery_id, worker_settings())
    if outcome.retry_in_s is not None:
        self.apply_async(args=[delivery_id], countdown=outcome.retry_in_s, queue=NOTIFICATIONS_QUEUE)
    return outcome.status


def deliver_once(delivery_id: int, settings: WorkerSettings) -> notifications.DeliveryOutcome:
    engine = engine_for(settings.resolved_database_url())
    try:
        return notifications.deliver(session_factory(engine), settings, delivery_id)
    finally:
        engine.dispose()
