"""Settings only the worker reads, on top of the shared ones (same environment variables)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from app.config import Settings


class WorkerSettings(Settings):
    reconcile_interval_s: float = 15.0
    dispatch_grace_s: float = 10.0  # a queued submission not sent after this long is sent by the reconciler
    stalled_queue_s: float = 600.0  # nothing running and the queue head sent this long ago: send it again
    retry_backoff_s: int = 30  # first wait after a transient failure; doubles each time
    # Test hook: sleep this long after each progress report, so a test can interrupt a run half-way.
    eval_progress_delay_s: float = 0.0


@lru_cache(maxsize=1)
def worker_settings() -> WorkerSettings:
    return WorkerSettings()


def use_weights_cache(settings: Settings) -> Path:
    """Point huggingface_hub at the weights cache (HF_HOME) for this process; return the hub cache folder."""
    root = settings.resolved_weights_cache().resolve()
    os.environ.setdefault("HF_HOME", str(root))
    os.environ.setdefault("HF_HUB_CACHE", str(root / "hub"))
    return Path(os.environ["HF_HUB_CACHE"])
