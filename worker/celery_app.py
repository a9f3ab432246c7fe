"""The Celery worker application: the evaluation task and the reconciler thread beside it.

The broker only carries submission ids. The database owns the state: a run takes a lease on its submission
(see ``app.db.repositories.submissions``), so a redelivered message never runs an evaluation twice, and the
reconciler re-sends what the broker lost.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_process_init, worker_ready, worker_shutdown
from kombu import Queue

from worker import heartbeat, reconciler
from worker.broker import make_celery
from worker.settings import consumed_queues, limit_visible_gpus, worker_settings
from worker.snapshot_schedule import beat_schedule

limit_visible_gpus(worker_settings())
app = make_celery(worker_settings())
app.conf.imports = ("worker.tasks", "worker.snapshot_tasks", "worker.webhook_tasks")
# The queues this worker's device can hold (smallest first) and the notifications queue; ``-Q`` on the
# command line overrides them.
app.conf.task_queues = [Queue(name) for name in consumed_queues(worker_settings())]
# Celery beat (``rewardboard worker --beat``; ``up`` runs it): the daily data snapshot, at an hour in UTC.
app.conf.timezone = "UTC"
app.conf.beat_schedule = beat_schedule(worker_settings())


@worker_ready.connect
def _start_reconciler(**_: Any) -> None:
    reconciler.start_reconciler_thread(worker_settings())


@worker_shutdown.connect
def _stop_reconciler(**_: Any) -> None:
    reconciler.stop_reconciler_thread()


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    # sender: the consumer; its hostname is the node name (celery@host), its queues include -Q.
    heartbeat.start_heartbeat(
        worker_settings(), worker=sender.hostname, queues=heartbeat.consumer_queues(sender)
    )


@worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    heartbeat.stop_heartbeat()


@worker_process_init.connect
def _forget_parent_connections(**_: Any) -> None:
    # A forked child must not reuse the parent's pooled database connections.
    reconciler.forget_inherited_engine()
    heartbeat.forget_inherited_engine()
