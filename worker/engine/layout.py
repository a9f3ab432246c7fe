"""Where a model's weights go: one device, or shards over several with accelerate's device map.

A model that fits on its device loads straight onto it. One that does not is split layer by layer over the
worker's GPUs (``infer_auto_device_map`` with balanced per-device budgets; a decoder layer is never split),
planned on a meta-device copy of the model so nothing is allocated while planning. Inputs go to the device
of the first shard (the embeddings) and accelerate's hooks carry the hidden states from shard to shard, so
the packed and padded batches run unchanged. ``shards`` set explicitly plans that many parts; on a CPU
they all stay on the CPU, which runs the same planning and loading path without GPUs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import torch

from worker.engine.errors import InvalidSpecError, OutOfMemoryError

# Share of a device's free memory the weights may take when sharding; the rest is for activations.
WEIGHT_SHARE: Final = 0.85


@dataclass(frozen=True, slots=True)
class Layout:
    """The ``device_map`` a model is loaded with: a device, or each module's device."""

    device_map: str | dict[str, str]
    places: tuple[str, ...]  # the device of each shard; inputs go to the first
    shard_of: Mapping[str, int]  # module -> shard (empty on one device)
    weight_bytes: int

    @classmethod
    def one_device(cls, device: torch.device | str, weight_bytes: int = 0) -> Layout:
        return cls(str(device), (str(device),), {}, weight_bytes)

    @property
    def sharded(self) -> bool:
        return len(self.places) > 1

    def describe(self) -> dict[str, Any]:
        if not self.sharded:
            return {"layout": f"one device ({self.places[0]})"}
        modules = Counter(self.shard_of.values())
        return {
            "layout": f"{len(self.places)} shards (accelerate device map, balanced)",
            "shards": [
                {"device": place, "modules": modules[index]} for index, place in enumerate(self.places)
            ],
        }


def meta_model(auto_class: Any, config: Any, dtype: torch.dtype) -> Any:
    """The model with its weights on the meta device: shapes without memory."""
    from accelerate import init_empty_weights

    with init_empty_weights():
        return auto_class.from_config(config, dtype=dtype, trust_remote_code=False)


def weight_bytes(model: Any) -> int:
    return sum(parameter.numel() * parameter.element_size() for parameter in model.parameters())


def plan_device_map(model: Any, budgets: Sequence[int], dtype: torch.dtype) -> dict[str, int]:
    """Modules to shard indices, balanced over ``budgets`` (bytes each); every module on one of them."""
    from accelerate import infer_auto_device_map
    from accelerate.utils import get_balanced_memory

    if len(budgets) < 2:
        raise InvalidSpecError("a device map needs at least two shards")
    no_split = list(getattr(model, "_no_split_modules", None) or [])
    limits: dict[int | str, int | str] = {index: int(budget) for index, budget in enumerate(budgets)}
    accelerate_logger = logging.getLogger("accelerate.utils.modeling")
    previous = accelerate_logger.level
    accelerate_logger.setLevel(logging.ERROR)  # "device N is not available": planning needs no devices
    try:
        options: dict[str, Any] = {"no_split_module_classes": no_split, "dtype": dtype}
        balanced = get_balanced_memory(model, max_memory=limits, **options)
        planned = infer_auto_device_map(model, max_memory=balanced, **options)
    finally:
        accelerate_logger.setLevel(previous)
    outside = sorted({str(place) for place in planned.values() if not isinstance(place, int)})
    if outside:
        total = sum(budgets) / 1024**3
        raise OutOfMemoryError(
            f"the weights ({weight_bytes(model) / 1024**3:.1f} GB) do not fit in {len(budgets)} devices "
            f"({total:.1f} GB for weights in all)"
        )
    return {name: int(place) for name, place in planned.items()}


def plan_layout(
    auto_class: Any, config: Any, dtype: torch.dtype, device: torch.device, shards: int | None
) -> Layout:
    """One device when the weights fit on it (or ``shards`` is 1), else a balanced map over the GPUs."""
    if shards is not None and shards < 1:
        raise InvalidSpecError(f"shards must be at least 1, got {shards}")
    if shards == 1 or (shards is None and device.type != "cuda"):
        return Layout.one_device(device)
    model = meta_model(auto_class, config, dtype)
    needed = weight_bytes(model)
    if device.type == "cuda":
        budgets = [int(free * WEIGHT_SHARE) for free in _free_cuda_memory()]
        if shards is None:
            if needed <= budgets[0] or len(budgets) == 1:
                return Layout.one_device(device, needed)
            shards = len(budgets)
        if shards > len(budgets):
            raise InvalidSpecError(f"{shards} shards asked for, but this machine has {len(budgets)} GPUs")
        budgets = budgets[:shards]
        places = [f"cuda:{index}" for index in range(shards)]
    else:
        assert shards is not None
        budgets = [needed] * shards  # balanced by the planner; no device limit to respect
        places = [str(device)] * shards
    planned = plan_device_map(model, budgets, dtype)
    used = sorted(set(planned.values()))
    return Layout(
        {name: places[index] for name, index in planned.items()},
        tuple(places[index] for index in used),
        {name: used.index(index) for name, index in planned.items()},
        needed,
    )


def _free_cuda_memory() -> list[int]:
    free = []
    for index in range(torch.cuda.device_count()):
        available, _total = torch.cuda.mem_get_info(index)
        free.append(int(available))
    return free
