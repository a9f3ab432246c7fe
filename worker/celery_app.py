"""The Celery application: Redis in production, kombu's SQLAlchemy transport on SQLite by default.

The broker only carries submission ids. The database owns the state: a run takes a lease on its submission
(see ``app.db.repositories.submissions``), so a redelivered message never runs an evaluation twice, and the
reconciler re-sends what the broker lost. Settings follow the Celery docs for long tasks: late acks, requeue
when the worker is lost, one message reserved at a time, one task per child process, a visibility timeout
above the hard time limit.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_ready, worker_shutdown

from app.config import Settings

log = logging.getLogger(__name__)

TASK_EVALUATE = "rewardboard.evaluate_submission"
QUEUE = "evaluations"
SOFT_LIMIT_MARGIN_S = 300
VISIBILITY_MARGIN_S = 900


class WorkerSettings(Settings):
    """Settings only the worker reads, on top of the shared ones (same environment variables)."""

    reconcile_interval_s: float = 15.0
    dispatch_grace_s: float = 10.0  # a queued submission not sent after this long is sent by the reconciler
    stalled_queue_s: float = 600.0  # nothing running and the queue head sent this long ago: send it again
    retry_backoff_s: int = 30  # first wait after a transient failure; doubles each time
    # Test hook: sleep this long after each progress report, so a test can interrupt a run half-way.
    eval_progress_delay_s: float = 0.0


@lru_cache(maxsize=1)
def worker_settings() -> WorkerSettings:
    return WorkerSettings()


def celery_config(broker_url: str, hard_limit: int) -> dict[str, Any]:
    soft_limit = max(hard_limit - SOFT_LIMIT_MARGIN_S, int(hard_limit * 0.9))
    visibility = hard_limit + VISIBILITY_MARGIN_S
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
        "task_default_queue": QUEUE,
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


def make_celery(broker_url: str, hard_limit: int) -> Celery:
    if broker_url.startswith("sqla+sqlite:///"):
        database = broker_url.removeprefix("sqla+sqlite:///")
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    celery = Celery("rewardboard")
    celery.conf.update(celery_config(broker_url, hard_limit))
    return celery


@lru_cache(maxsize=4)
def _publisher(broker_url: str, hard_limit: int) -> Celery:
    return make_celery(broker_url, hard_limit)


def send_evaluation(settings: Settings, submission_id: int) -> None:
    """Publish one evaluation message; raises when the broker cannot be reached."""
    publisher = _publisher(settings.resolved_broker_url(), settings.eval_time_limit_s)
    publisher.send_task(TASK_EVALUATE, args=[submission_id], queue=QUEUE)


def use_weights_cache(settings: Settings) -> Path:
    """Point huggingface_hub at the weights cache (HF_HOME) for this process; return the hub cache folder."""
    root = settings.resolved_weights_cache().resolve()
    os.environ.setdefault("HF_HOME", str(root))
    os.environ.setdefault("HF_HUB_CACHE", str(root / "hub"))
    return Path(os.environ["HF_HUB_CACHE"])


app = make_celery(worker_settings().resolved_broker_url(), worker_settings().eval_time_limit_s)
app.conf.imports = ("worker.tasks",)


@worker_ready.connect
def _start_reconciler(**_: Any) -> None:
    from worker.reconciler import start_reconciler_thread

    start_reconciler_thread(worker_settings())


@worker_shutdown.connect
def _stop_reconciler(**_: Any) -> None:
    from worker.reconciler import stop_reconciler_thread

    stop_reconciler_thread()


@worker_process_init.connect
def _forget_parent_connections(**_: Any) -> None:
    # A forked child must not reuse the parent's pooled database connections.
    from worker.reconciler import forget_inherited_engine

    forget_inherited_engine()
