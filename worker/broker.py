"""The broker side shared by web, reconciler and worker: Celery's configuration and sending.

Redis in production, kombu's SQLAlchemy transport on SQLite by default. The broker only carries submission
ids; the database owns the state (see ``app.db.repositories.submissions``). Settings follow the Celery docs
for long tasks: late acks, requeue when the worker is lost, one message reserved at a time, one task per
child process, a visibility timeout above the longest time limit. Each message goes to the queue its
submission's memory need routes it to, with its kind's time limits (``app.services.intake.queues``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from celery import Celery

from app.config import Settings
from app.services.intake.queues import Route, default_queue

TASK_EVALUATE = "rewardboard.evaluate_submission"
TASK_DELIVER_WEBHOOK = "webhooks.deliver"
NOTIFICATIONS_QUEUE = "notifications"  # small and quick; every worker consumes it
WEBHOOK_TIME_LIMIT_S = 120
SOFT_LIMIT_MARGIN_S = 300
VISIBILITY_MARGIN_S = 900


def celery_config(
    broker_url: str, hard_limit: int, *, longest_limit: int | None = None, queue: str = "evaluations-4g"
) -> dict[str, Any]:
    soft_limit = max(hard_limit - SOFT_LIMIT_MARGIN_S, int(hard_limit * 0.9))
    visibility = max(hard_limit, longest_limit or 0) + VISIBILITY_MARGIN_S
    # A visibility timeout is a Redis/SQS notion; the SQLAlchemy transport passes options to create_engine.
    uses_visibility = broker_url.startswith(("redis://", "rediss://", "sentinel://", "sqs://"))
    transport_options = {"visibility_timeout": visibility} if uses_visibility else {}
    return {
        "broker_url": broker_url,
        "broker_transport_options": transport_options,
        "result_backend_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 5,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "task_ignore_result": True,
        "task_default_queue": queue,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_time_limit": hard_limit,
        "task_soft_time_limit": soft_limit,
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        "worker_prefetch_multiplier": 1,
        "worker_concurrency": 1,
        "worker_max_tasks_per_child": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_hijack_root_logger": False,
    }


def _prepare(broker_url: str) -> None:
    if broker_url.startswith("sqla+sqlite:///"):
        database = broker_url.removeprefix("sqla+sqlite:///")
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


def make_celery(settings: Settings) -> Celery:
    broker_url = settings.resolved_broker_url()
    _prepare(broker_url)
    celery = Celery("rewardboard")
    celery.conf.update(
        celery_config(
            broker_url,
            settings.eval_time_limit_s,
            longest_limit=settings.eval_max_time_limit_s,
            queue=default_queue(settings),
        )
    )
    return celery


@lru_cache(maxsize=4)
def _publisher(broker_url: str, hard_limit: int, longest_limit: int, queue: str) -> Celery:
    _prepare(broker_url)
    celery = Celery("rewardboard")
    celery.conf.update(celery_config(broker_url, hard_limit, longest_limit=longest_limit, queue=queue))
    return celery


def _settings_publisher(settings: Settings) -> Celery:
    return _publisher(
        settings.resolved_broker_url(),
        settings.eval_time_limit_s,
        settings.eval_max_time_limit_s,
        default_queue(settings),
    )


def send_evaluation(settings: Settings, submission_id: int, route: Route) -> None:
    """Publish one evaluation message to its queue, with its time limits; raises when the broker is down."""
    _settings_publisher(settings).send_task(
        TASK_EVALUATE,
        args=[submission_id],
        queue=route.queue,
        time_limit=route.time_limit_s,
        soft_time_limit=route.soft_time_limit_s,
    )


def send_webhook_delivery(settings: Settings, delivery_id: int) -> None:
    """Publish one webhook delivery to the notifications queue; raises when the broker is down (the
    reconciler then sends the delivery when it is due)."""
    _settings_publisher(settings).send_task(
        TASK_DELIVER_WEBHOOK,
        args=[delivery_id],
        queue=NOTIFICATIONS_QUEUE,
        time_limit=WEBHOOK_TIME_LIMIT_S,
        soft_time_limit=WEBHOOK_TIME_LIMIT_S - 10,
    )
