"""Settings only the worker reads, on top of the shared ones (same environment variables)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field

from app.config import Settings
from app.services.queues import GIB, queues_within


class WorkerSettings(Settings):
    worker_memory_gb: float | None = Field(
        default=None,
        gt=0,
        description="memory of this worker's device; None: the first GPU's, or half the RAM without one",
    )
    eval_generation_backend: str = Field(
        default="auto", description="judges: auto (vLLM on a GPU when installed), transformers or vllm"
    )
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


def device_memory_gb() -> float:
    """The first CUDA device's memory, else half the machine's RAM (a CPU runs float32: twice the bytes a
    weight takes in the 16-bit estimates that route submissions), in GB."""
    try:
        import torch

        if torch.cuda.is_available():
            return float(torch.cuda.get_device_properties(0).total_memory) / GIB
    except ImportError:
        pass
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return float(pages * page_size) / GIB / 2


def worker_queues(settings: WorkerSettings) -> list[str]:
    """The queues this worker takes: every memory tier its device holds."""
    memory = settings.worker_memory_gb if settings.worker_memory_gb is not None else device_memory_gb()
    return queues_within(memory, settings)
