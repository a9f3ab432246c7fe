"""Routing by memory: each submission goes to the Celery queue of the smallest device that holds its run.

The operator lists device sizes (``QUEUE_MEMORY_TIERS_GB``, e.g. 4, 16, 48, 80); each size is one queue,
``evaluations-<size>g``. A submission's kind estimates the memory its run needs (weights at 16 bits, a DPO
policy or reference whichever is larger, a judge's weights plus one full-context KV cache, and a fixed
overhead); it goes to the first queue at least that large, and is refused at submit when no queue is. A
worker takes every queue its device can hold (``WORKER_MEMORY_GB``, by default the GPU's memory or, on a
CPU-only machine, half the RAM since a CPU runs float32), so a large judge never lands on a small GPU and a
CPU worker still takes tiny models. The time limit of a run is the classifier limit times the kind's
factor, capped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.config import Settings
from app.services.run_spec import RunConfig

GIB = 1024**3
QUEUE_PREFIX = "evaluations-"
SOFT_LIMIT_MARGIN_S = 300


@dataclass(frozen=True, slots=True)
class Route:
    """Where and for how long one run goes: its queue and its Celery time limits."""

    queue: str
    time_limit_s: int
    soft_time_limit_s: int


def queue_name(tier_gb: float) -> str:
    return f"{QUEUE_PREFIX}{tier_gb:g}g"


def tiers(settings: Settings) -> list[float]:
    return sorted({float(tier) for tier in settings.queue_memory_tiers_gb if tier > 0})


def default_queue(settings: Settings) -> str:
    return queue_name(tiers(settings)[0])


def queue_for(memory_bytes: int, settings: Settings) -> str | None:
    """The smallest queue whose devices hold ``memory_bytes``; None when none is large enough."""
    for tier in tiers(settings):
        if memory_bytes <= tier * GIB:
            return queue_name(tier)
    return None


def queues_within(device_gb: float, settings: Settings) -> list[str]:
    """Every queue a device of ``device_gb`` can take, smallest first (at least the smallest one)."""
    sizes = tiers(settings)
    fitting = [queue_name(tier) for tier in sizes if tier <= device_gb + 1e-9]
    return fitting or [queue_name(sizes[0])]


def all_queues(settings: Settings) -> Sequence[str]:
    return [queue_name(tier) for tier in tiers(settings)]


def time_limit_s(config: RunConfig, settings: Settings) -> int:
    """The classifier limit scaled by the kind's time factor, between that limit and the cap."""
    factor = max(config.time_factor(), 1.0)
    return int(min(math.ceil(settings.eval_time_limit_s * factor), settings.eval_max_time_limit_s))


def route(config: RunConfig, queue: str | None, settings: Settings) -> Route:
    hard = time_limit_s(config, settings)
    soft = max(hard - SOFT_LIMIT_MARGIN_S, int(hard * 0.9))
    return Route(queue or default_queue(settings), hard, soft)


def format_bytes(value: int) -> str:
    if value >= GIB:
        return f"{value / GIB:.1f} GB"
    return f"{value / 1024**2:.0f} MB"
