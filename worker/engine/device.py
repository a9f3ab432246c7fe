"""Pick the torch device and dtype; nothing else in the engine names a device."""

from __future__ import annotations

from typing import Final

import torch

from worker.engine.errors import InvalidSpecError
from worker.engine.spec import DEVICE_CHOICES, DTYPE_CHOICES

DTYPES: Final = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_device(asked: str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then CPU. An explicit device that is not available is an error."""
    if asked not in DEVICE_CHOICES:
        raise InvalidSpecError(f"unknown device {asked!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if asked == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (asked == "cuda" and not cuda) or (asked == "mps" and not mps):
        raise InvalidSpecError(f"device {asked!r} was asked for but is not available on this machine")
    return torch.device(asked)


def pick_dtype(asked: str, device: torch.device) -> torch.dtype:
    """``auto``: bfloat16 on CUDA that supports it, float16 on older CUDA, float32 elsewhere."""
    if asked not in DTYPE_CHOICES:
        raise InvalidSpecError(f"unknown dtype {asked!r}; choose one of {', '.join(DTYPE_CHOICES)}")
    if asked != "auto":
        return DTYPES[asked]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def device_name(device: torch.device) -> str:
    """What a reader needs to compare timings: the GPU model, or the device type."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type


def free_cached_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()
