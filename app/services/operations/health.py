"""Readiness: can this deployment take a submission and run it? The database answers, the broker answers,
and some worker wrote its heartbeat recently (``worker.heartbeat``).

Each check runs in a thread of the probe's own small pool, under a time limit, so a hung database or broker
answers "not ready" in time and never takes the threads that serve pages. The database check holds its
connection only for its two queries; the broker check holds none.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from kombu import Connection
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.db.repositories import operations_health as repo

T = TypeVar("T")
RETRY_AFTER_S = 10
_ERROR_TEXT_LIMIT = 300


@dataclass(frozen=True, slots=True)
class Check:
    """One part of readiness: whether it passed and why, in words, with any figures beside."""

    ok: bool
    detail: str
    figures: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, **self.figures}


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: dict[str, Check]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks.values())

    def failing(self) -> str:
        """The failing parts in words, one sentence each."""
        return " ".join(check.detail for check in self.checks.values() if not check.ok)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ready" if self.ready else "not ready"}
        if not self.ready:
            body["detail"] = self.failing()
        body["checks"] = {name: check.as_json() for name, check in self.checks.items()}
        return body


def describe(error: BaseException) -> str:
    """An error's first line, short (a driver's message can run over many lines)."""
    lines = str(error).strip().splitlines()
    message = lines[0] if lines else type(error).__name__
    return message[:_ERROR_TEXT_LIMIT]


def _age_s(now: datetime, then: datetime) -> float:
    return round(max((now - then).total_seconds(), 0.0), 1)


def check_database_and_workers(
    factory: sessionmaker[Session], *, heartbeat_max_age_s: float, now: datetime | None = None
) -> tuple[Check, Check]:
    """The database round trip, and the workers whose heartbeat is at most ``heartbeat_max_age_s`` old."""
    started = time.perf_counter()
    try:
        with factory() as session:
            repo.ping(session)
            elapsed_ms = (time.perf_counter() - started) * 1000
            beats = repo.heartbeats(session)
            waiting = repo.queue_depths(session)
    except Exception as error:
        unknown = Check(False, "The worker heartbeats cannot be read while the database is unreachable.")
        return Check(False, f"The database cannot be reached: {describe(error)}"), unknown
    database = Check(True, f"The database answered in {elapsed_ms:.1f} ms.", {"ms": round(elapsed_ms, 1)})
    return database, _workers_check(beats, waiting, heartbeat_max_age_s, now or datetime.now(UTC))


def _workers_check(
    beats: list[repo.Heartbeat], waiting: dict[str, int], max_age_s: float, now: datetime
) -> Check:
    fresh = [beat for beat in beats if beat.seen_at >= now - timedelta(seconds=max_age_s)]
    if not fresh:
        if not beats:
            return Check(False, "No worker has written a heartbeat: is a worker running?")
        last = beats[0]
        return Check(
            False,
            f"No worker heartbeat within {max_age_s:g} s; the last, from {last.worker}, "
            f"is {_age_s(now, last.seen_at):g} s old.",
            {"last_worker": last.worker, "last_age_s": _age_s(now, last.seen_at)},
        )
    covered = {queue for beat in fresh for queue in beat.queues}
    figures: dict[str, Any] = {
        "workers": [
            {"worker": beat.worker, "age_s": _age_s(now, beat.seen_at), "queues": list(beat.queues)}
            for beat in fresh
        ],
        # Waiting submissions that no live worker takes: a worker class that is down or missing.
        "queues_without_worker": sorted(q for q, n in waiting.items() if n and q and q not in covered),
    }
    plural = "worker" if len(fresh) == 1 else "workers"
    detail = (
        f"{len(fresh)} {plural} seen within {max_age_s:g} s, the latest "
        f"{_age_s(now, fresh[0].seen_at):g} s ago."
    )
    return Check(True, detail, figures)


def check_broker(broker_url: str, *, timeout_s: float) -> Check:
    """Connect to the broker: Redis (any kombu transport), or the embedded SQLAlchemy transport's database."""
    started = time.perf_counter()
    try:
        if broker_url.startswith("sqla+"):
            _ping_sql_broker(broker_url.removeprefix("sqla+"), timeout_s=timeout_s)
        else:
            options = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s}
            with Connection(broker_url, connect_timeout=timeout_s, transport_options=options) as connection:
                connection.ensure_connection(
                    max_retries=1, interval_start=0, interval_step=0, timeout=timeout_s
                )
    except Exception as error:
        return Check(False, f"The broker cannot be reached: {describe(error)}")
    elapsed_ms = (time.perf_counter() - started) * 1000
    return Check(True, f"The broker answered in {elapsed_ms:.1f} ms.", {"ms": round(elapsed_ms, 1)})


def _ping_sql_broker(url: str, *, timeout_s: float) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            return  # an in-process broker: nothing to reach
        path = Path(database)
        if not path.is_file():
            raise FileNotFoundError(
                f"the embedded broker's database {path} does not exist (no worker has started)"
            )
        # mode=rw: a probe never creates the file.
        uri = f"file:{quote(path.as_posix())}?mode=rw"
        with closing(sqlite3.connect(uri, uri=True, timeout=timeout_s)) as connection:
            connection.execute("SELECT 1").fetchone()
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1")).scalar_one()
    finally:
        engine.dispose()


class ReadinessProbe:
    """Runs the checks for /readyz: all at once, each in the probe's pool and within ``timeout_s``."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        broker_url: str,
        heartbeat_max_age_s: float,
        timeout_s: float,
    ) -> None:
        self.factory = factory
        self.broker_url = broker_url
        self.heartbeat_max_age_s = heartbeat_max_age_s
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readiness")

    @classmethod
    def from_settings(cls, settings: Settings, factory: sessionmaker[Session]) -> ReadinessProbe:
        return cls(
            factory,
            broker_url=settings.resolved_broker_url(),
            heartbeat_max_age_s=settings.ready_heartbeat_max_age_s,
            timeout_s=settings.ready_check_timeout_s,
        )

    async def _within_limit(self, job: Callable[[], T]) -> T | None:
        future = asyncio.get_running_loop().run_in_executor(self._pool, job)
        try:
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            return None

    async def check(self) -> Readiness:
        database_job = self._within_limit(
            lambda: check_database_and_workers(self.factory, heartbeat_max_age_s=self.heartbeat_max_age_s)
        )
        broker_job = self._within_limit(lambda: check_broker(self.broker_url, timeout_s=self.timeout_s))
        database_and_workers, broker = await asyncio.gather(database_job, broker_job)
        if database_and_workers is None:
            database = Check(False, f"The database did not answer within {self.timeout_s:g} s.")
            workers = Check(False, "The worker heartbeats cannot be read while the database does not answer.")
        else:
            database, workers = database_and_workers
        if broker is None:
            broker = Check(False, f"The broker did not answer within {self.timeout_s:g} s.")
        return Readiness({"database": database, "broker": broker, "worker": workers})

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
