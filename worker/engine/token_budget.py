"""The default token budget of a batch: sized to the CPU's cache, or to the GPU's free memory.

A batch's working set is about ``activation_bytes_per_token`` times its tokens (the hidden states, the
attention projections and the MLP's three intermediate tensors of one layer). On a CPU the budget is the
largest power of two whose working set fits in the last-level cache: measured with bench/cpu_defaults.py
(bench/README.md), packed batches whose working set is 0.4 to 1.5 times the cache score at the same speed,
3 times is 3% slower and 12 times 19% slower. On a GPU it is the tokens that fit in
``GPU_FREE_MEMORY_SHARE`` of the memory still free once the weights are loaded (not measured yet). Budgets
are powers of two within the bounds below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import torch

MIN_TOKENS: Final = 2048  # a text of max_length always fits
CPU_MAX_TOKENS: Final = 65536
GPU_MAX_TOKENS: Final = 262144
CPU_CACHE_FILLS: Final = 1
GPU_FREE_MEMORY_SHARE: Final = 0.5
FALLBACK_TOKENS: Final = 16384  # devices with nothing to measure (MPS)
_CACHE_ROOT: Final = Path("/sys/devices/system/cpu/cpu0/cache")


@dataclass(frozen=True, slots=True)
class TokenBudget:
    tokens: int
    rule: str  # how it was chosen, recorded in results

    def describe(self) -> dict[str, Any]:
        return {"batch_tokens": self.tokens, "batch_tokens_rule": self.rule}


def activation_bytes_per_token(config: Any, dtype: torch.dtype) -> int:
    hidden = int(config.hidden_size)
    intermediate = getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None)
    intermediate = intermediate or 4 * hidden
    return dtype.itemsize * (6 * hidden + 3 * int(intermediate))


def default_budget(device: torch.device, config: Any, dtype: torch.dtype) -> TokenBudget:
    per_token = activation_bytes_per_token(config, dtype)
    if device.type == "cpu":
        cache = last_level_cache_bytes()
        if cache is None:
            return TokenBudget(FALLBACK_TOKENS, "fixed: the CPU cache size is unknown")
        tokens = _bounded(CPU_CACHE_FILLS * cache // per_token, CPU_MAX_TOKENS)
        return TokenBudget(
            tokens, f"cpu: {CPU_CACHE_FILLS} x last-level cache {cache >> 20} MiB / {per_token} B a token"
        )
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        tokens = _bounded(int(GPU_FREE_MEMORY_SHARE * free) // per_token, GPU_MAX_TOKENS)
        return TokenBudget(
            tokens, f"cuda: {GPU_FREE_MEMORY_SHARE:g} x free memory {free >> 20} MiB / {per_token} B a token"
        )
    return TokenBudget(FALLBACK_TOKENS, f"fixed on {device.type}")


def last_level_cache_bytes(root: Path = _CACHE_ROOT) -> int | None:
    """The largest data or unified cache of CPU 0 (Linux sysfs), or None where it cannot be read."""
    sizes = []
    for index in root.glob("index*"):
        try:
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind in ("Data", "Unified") and size[:-1].isdigit():
            unit = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(size[-1].upper())
            if unit is not None:
                sizes.append(int(size[:-1]) * unit)
    return max(sizes) if sizes else None


def _bounded(tokens: int, ceiling: int) -> int:
    power = MIN_TOKENS
    while power * 2 <= min(tokens, ceiling):
        power *= 2
    return power
