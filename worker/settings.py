"""Settings only the worker reads, on top of the shared ones (same environment variables)."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Final

from pydantic import Field

from app.config import Settings
from app.services.intake.queues import GIB, WorkerClass, queues_within
from worker.broker import NOTIFICATIONS_QUEUE


class WorkerSettings(Settings):
    worker_memory_gb: float | None = Field(
        default=None,
        gt=0,
        description="memory of each of this worker's GPUs; None: the smallest GPU's, or half the RAM "
        "without one",
    )
    worker_gpus: int | None = Field(
        default=None,
        ge=1,
        description="GPUs this worker splits a model over; None: every visible GPU (1 on a CPU)",
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


_MEASURE_GPUS: Final = (
    "import torch; n = torch.cuda.device_count(); "
    "print(n, min(torch.cuda.get_device_properties(i).total_memory for i in range(n)))"
)


def detected_gpus() -> tuple[int, float]:
    """The visible CUDA devices and the memory of the smallest (GB); (0, 0) without any.

    The memory is read in a child process: reading it here would initialise CUDA in the Celery parent,
    and a forked pool child could then not use the GPU. Counting devices does not initialise it.
    """
    try:
        import torch
    except ImportError:
        return 0, 0.0
    if torch.cuda.device_count() == 0:
        return 0, 0.0
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE_GPUS], capture_output=True, text=True, timeout=120, check=True
    )
    count, smallest = measured.stdout.split()
    return int(count), float(smallest) / GIB


def limit_visible_gpus(settings: WorkerSettings) -> None:
    """With ``WORKER_GPUS`` set, the evaluations see only that many GPUs (unless CUDA_VISIBLE_DEVICES
    already chooses them); call before anything initialises CUDA."""
    if settings.worker_gpus is not None and "CUDA_VISIBLE_DEVICES" not in os.environ:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(index) for index in range(settings.worker_gpus))


def device_memory_gb() -> float:
    """The smallest CUDA device's memory, else half the machine's RAM (a CPU runs float32: twice the bytes a
    weight takes in the 16-bit estimates that route submissions), in GB."""
    gpus, memory = detected_gpus()
    if gpus:
        return memory
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return float(pages * page_size) / GIB / 2


def own_class(settings: WorkerSettings) -> WorkerClass:
    """This worker's class: its GPUs (told or detected; one device on a CPU) and the memory of each."""
    memory = settings.worker_memory_gb if settings.worker_memory_gb is not None else device_memory_gb()
    gpus = settings.worker_gpus if settings.worker_gpus is not None else max(detected_gpus()[0], 1)
    return WorkerClass(gpus, memory)


def worker_queues(settings: WorkerSettings) -> list[str]:
    """The evaluation queues this worker takes: every class it can stand in for."""
    return queues_within(own_class(settings), settings)


def consumed_queues(settings: WorkerSettings) -> list[str]:
    """Every queue this worker consumes: its evaluation queues, then the small notifications queue that
    every worker takes (webhook deliveries)."""
    return [*worker_queues(settings), NOTIFICATIONS_QUEUE]
