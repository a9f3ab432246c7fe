"""The daily data snapshot on Celery beat: the task's name and its schedule entry (SNAPSHOT_HOUR_UTC)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from app.config import Settings

TASK_MAKE_SNAPSHOTS = "snapshots.make"


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """One entry: every benchmark's snapshot, daily at SNAPSHOT_HOUR_UTC:00 (the app's timezone is UTC)."""
    return {
        "daily-data-snapshots": {
            "task": TASK_MAKE_SNAPSHOTS,
            "schedule": crontab(hour=settings.snapshot_hour_utc, minute=0),
            "args": [[]],  # no benchmark ids: each benchmark
        }
    }
