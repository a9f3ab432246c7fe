"""Routing by memory: each submission goes to the queue of the smallest worker class that holds its run.

A deployment declares its worker classes (``WORKER_CLASSES``): machines by GPU count and memory per GPU,
``"8x80"`` for eight 80 GB GPUs, a bare number for one device of that size (the older
``QUEUE_MEMORY_TIERS_GB`` is read as such). Each class is one queue: ``evaluations-16g`` for one 16 GB device,
``evaluations-8x80g`` for eight 80 GB GPUs. A submission's kind estimates the memory its run needs (weights at
16 bits, a DPO policy or reference whichever is larger, a judge's weights plus a KV cache at its max length,
activations, a fixed overhead); a class holds it when that fits in all its GPUs together with the overhead
repeated on each GPU the weights are split over (the worker shards them: ``worker.engine.layout``). The run
goes to the smallest class that holds it and is refused at submit when none does; the parameter limit
follows the largest class unless ``MAX_PARAMETERS`` sets one. A worker takes the queue of every class it can
stand in for: no more GPUs than it has, none larger than its own (``WORKER_GPUS``, ``WORKER_MEMORY_GB``; by
default detected: the GPUs and their memory, or one device of half the RAM on a CPU, which runs float32).
The time limit of a run is the classifier limit times the kind's factor and the max-length factor, capped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from app.config import Settings
from app.services.intake.run_spec import RunConfig
from worker.engine.model_kinds.base import BYTES_PER_PARAMETER, RUNTIME_OVERHEAD_BYTES

GIB: Final = 1024**3
QUEUE_PREFIX: Final = "evaluations-"
SOFT_LIMIT_MARGIN_S: Final = 300
# A GPU reports a little less memory than the size it is sold as (an H200 sold as 141 GB reports 139.8 GiB):
# a class of N GB counts this share of N GiB, and a device that reports that much stands in for it.
REPORTED_SHARE: Final = 0.98
_CLASS: Final = re.compile(r"^\s*(?:(\d+)\s*[x×]\s*)?(\d+(?:\.\d+)?)\s*(?:g|gb)?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True, order=True)
class WorkerClass:
    """A kind of worker machine: how many GPUs, and the memory of each (GB)."""

    gpus: int
    gb_per_gpu: float

    @classmethod
    def parse(cls, text: str | float) -> WorkerClass:
        """``"8x80"``, ``"1x24"``, ``"80"`` or ``80`` (one device)."""
        match = _CLASS.match(str(text))
        if match is None or float(match.group(2)) <= 0 or (match.group(1) and int(match.group(1)) < 1):
            raise ValueError(f"{text!r} is not a worker class: write GPUsxGB (8x80), or GB for one device")
        return cls(int(match.group(1) or 1), float(match.group(2)))

    @property
    def total_bytes(self) -> float:
        """What all the class's GPUs hold together, as they report it."""
        return self.gpus * self.gb_per_gpu * GIB * REPORTED_SHARE

    @property
    def queue(self) -> str:
        if self.gpus == 1:
            return f"{QUEUE_PREFIX}{self.gb_per_gpu:g}g"
        return f"{QUEUE_PREFIX}{self.gpus}x{self.gb_per_gpu:g}g"

    @property
    def label(self) -> str:
        return f"{self.gb_per_gpu:g} GB" if self.gpus == 1 else f"{self.gpus}x{self.gb_per_gpu:g} GB"

    def holds(self, memory_bytes: int) -> bool:
        """Whether a run needing ``memory_bytes`` (one overhead included) fits, split over every GPU."""
        return memory_bytes + (self.gpus - 1) * RUNTIME_OVERHEAD_BYTES <= self.total_bytes

    def stands_in_for(self, other: WorkerClass) -> bool:
        """A worker of this class can run what ``other``'s queue holds."""
        return other.gpus <= self.gpus and other.gb_per_gpu * REPORTED_SHARE <= self.gb_per_gpu + 1e-9


@dataclass(frozen=True, slots=True)
class Route:
    """Where and for how long one run goes: its queue and its Celery time limits."""

    queue: str
    time_limit_s: int
    soft_time_limit_s: int


def worker_classes(settings: Settings) -> list[WorkerClass]:
    """The deployment's classes, smallest total memory first (ties: fewer GPUs first)."""
    classes = {WorkerClass.parse(text) for text in settings.worker_classes}
    return sorted(classes, key=lambda found: (found.total_bytes, found.gpus))


def largest_class(settings: Settings) -> WorkerClass:
    return worker_classes(settings)[-1]


def default_queue(settings: Settings) -> str:
    return worker_classes(settings)[0].queue


def class_for(memory_bytes: int, settings: Settings) -> WorkerClass | None:
    """The smallest class that holds ``memory_bytes``; None when none is large enough."""
    return next((found for found in worker_classes(settings) if found.holds(memory_bytes)), None)


def queue_for(memory_bytes: int, settings: Settings) -> str | None:
    """The queue of the smallest class that holds ``memory_bytes``; None when none is large enough."""
    found = class_for(memory_bytes, settings)
    return found.queue if found is not None else None


def max_parameters(settings: Settings) -> int:
    """``MAX_PARAMETERS`` when set, else the most parameters whose 16-bit weights alone the largest class
    holds (the memory check then adds what a run needs besides)."""
    if settings.max_parameters is not None:
        return settings.max_parameters
    return int(largest_class(settings).total_bytes // BYTES_PER_PARAMETER)


def queues_within(own: WorkerClass, settings: Settings) -> list[str]:
    """Every queue a worker of class ``own`` can take, smallest first (at least the smallest one)."""
    classes = worker_classes(settings)
    fitting = [found.queue for found in classes if own.stands_in_for(found)]
    return fitting or [classes[0].queue]


def all_queues(settings: Settings) -> Sequence[str]:
    return [found.queue for found in worker_classes(settings)]


def time_limit_s(config: RunConfig, settings: Settings) -> int:
    """The classifier limit scaled by the kind's time factor and by how far max_length exceeds the
    benchmark's own (a longer context costs up to that much more a token), between that limit and the cap."""
    factor = max(config.time_factor(), 1.0) * config.length_factor()
    return int(min(math.ceil(settings.eval_time_limit_s * factor), settings.eval_max_time_limit_s))


def route(config: RunConfig, queue: str | None, settings: Settings) -> Route:
    hard = time_limit_s(config, settings)
    soft = max(hard - SOFT_LIMIT_MARGIN_S, int(hard * 0.9))
    return Route(queue or default_queue(settings), hard, soft)


def format_bytes(value: float) -> str:
    if value >= 1000 * GIB:
        return f"{value / 1024**4:.1f} TB"
    if value >= GIB:
        return f"{value / GIB:.1f} GB"
    return f"{value / 1024**2:.0f} MB"
