"""The worker's heartbeat: its Celery node name and queues written to the database when it is ready and
every ``WORKER_HEARTBEAT_S`` after, from a thread of the main worker process, so /readyz and /metrics can
tell a live worker from a stopped or stuck one. A clean shutdown removes the row; rows of workers unseen for
a day (killed, or renamed by a new container) are pruned when a worker starts.

The thread has its own small engine; a forked pool child drops it (``forget_inherited_engine``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.repositories import operations_health as repo
from app.db.session import PoolOptions, make_engine, unit_of_work

log = logging.getLogger(__name__)
FORGET_AFTER = timedelta(days=1)


class WorkerHeartbeat:
    """Writes one worker's heartbeat now and then every ``interval_s`` until stopped."""

    def __init__(
        self, factory: sessionmaker[Session], *, worker: str, queues: Sequence[str], interval_s: float
    ) -> None:
        self.factory = factory
        self.worker = worker
        self.queues = tuple(queues)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)

    def beat(self, *, starting: bool = False) -> None:
        now = datetime.now(UTC)
        with unit_of_work(self.factory) as session:
            if starting:
                repo.prune_heartbeats(session, seen_before=now - FORGET_AFTER)
            repo.record_heartbeat(session, worker=self.worker, queues=self.queues, now=now, starting=starting)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        starting = True
        while True:
            try:
                self.beat(starting=starting)
                starting = False
            except Exception:
                log.exception(
                    "worker heartbeat of %s failed; trying again in %ss", self.worker, self.interval_s
                )
            if self._stop.wait(self.interval_s):
                return

    def stop(self, *, forget: bool = True) -> None:
        """Stop beating; ``forget`` removes the row, so this worker no longer counts as alive."""
        self._stop.set()
        self._thread.join(timeout=10)
        if forget:
            try:
                with unit_of_work(self.factory) as session:
                    repo.forget_heartbeat(session, worker=self.worker)
            except Exception:
                log.exception("could not remove the heartbeat of %s", self.worker)


_engine: Engine | None = None
_heartbeat: WorkerHeartbeat | None = None


def consumer_queues(consumer: Any) -> list[str]:
    """The queues a Celery consumer (the ``worker_ready`` sender) takes, ``-Q`` included."""
    consume_from = getattr(getattr(consumer.app.amqp, "queues", None), "consume_from", None) or {}
    return sorted(consume_from)


def start_heartbeat(settings: Settings, *, worker: str, queues: Sequence[str]) -> WorkerHeartbeat:
    global _engine, _heartbeat
    if _heartbeat is not None:
        return _heartbeat
    _engine = make_engine(settings.resolved_database_url(), PoolOptions(size=1, max_overflow=1, timeout_s=10))
    factory = sessionmaker(bind=_engine, expire_on_commit=False)
    _heartbeat = WorkerHeartbeat(
        factory, worker=worker, queues=queues, interval_s=settings.worker_heartbeat_s
    )
    _heartbeat.start()
    return _heartbeat


def stop_heartbeat() -> None:
    global _engine, _heartbeat
    if _heartbeat is not None:
        _heartbeat.stop()
        _heartbeat = None
    if _engine is not None:
        _engine.dispose()
        _engine = None


def forget_inherited_engine() -> None:
    """In a forked child: drop the parent's heartbeat and its pool without closing its connections."""
    global _engine, _heartbeat
    if _engine is not None:
        _engine.dispose(close=False)
        _engine = None
    _heartbeat = None
