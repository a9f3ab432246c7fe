"""The data snapshot task: it takes benchmark ids and is safe to run twice (a second run the same UTC day
replaces that day's files and manifest). Celery beat sends it daily (``worker.snapshot_schedule``)."""

from __future__ import annotations

import logging

from app.db.session import engine_for, session_factory, unit_of_work
from app.errors import DomainError
from app.services.operations.snapshots import SCHEDULE, make_and_prune, remove_directories
from worker.celery_app import app
from worker.engine.benchmarks import BENCHMARKS
from worker.settings import WorkerSettings, worker_settings
from worker.snapshot_schedule import TASK_MAKE_SNAPSHOTS

log = logging.getLogger(__name__)


@app.task(name=TASK_MAKE_SNAPSHOTS, ignore_result=True)
def make_snapshots(benchmark_ids: list[str] | None = None, created_by: str = SCHEDULE) -> list[str]:
    """Today's snapshot of each named benchmark (none named: each); "benchmark/date" of those made."""
    return run_snapshots(benchmark_ids or list(BENCHMARKS), worker_settings(), created_by=created_by)


def run_snapshots(benchmark_ids: list[str], settings: WorkerSettings, *, created_by: str) -> list[str]:
    """One unit of work per benchmark; one that fails (a full disk) is logged and the others still run."""
    engine = engine_for(settings.resolved_database_url())
    factory = session_factory(engine)
    made: list[str] = []
    try:
        for benchmark in benchmark_ids:
            try:
                with unit_of_work(factory) as session:
                    outcome = make_and_prune(session, settings, benchmark, created_by=created_by)
            except DomainError as error:
                log.error("snapshot of %s not made: %s", benchmark, error.message)
                continue
            remove_directories(outcome.expired)
            made.append(f"{benchmark}/{outcome.snapshot.snapshot_date}")
            log.info("snapshot %s made", made[-1])
    finally:
        engine.dispose()
    return made
