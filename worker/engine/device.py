"""Pick the torch device and dtype; nothing else in the engine names a device."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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


class SlowDtypeWarning(UserWarning):
    """The dtype asked for has no native arithmetic on this CPU: it runs, much slower than float32."""


def pick_dtype(asked: str, device: torch.device) -> torch.dtype:
    """``auto``: bfloat16 on CUDA that supports it, float16 on older CUDA, float32 elsewhere.

    float32 stays the CPU default because it reproduces upstream's scores. bfloat16 on a CPU is an explicit
    choice; on one without native bfloat16 arithmetic (AVX-512 BF16 or AMX) it runs emulated, and a
    ``SlowDtypeWarning`` says so. float16 on a CPU is always warned about.
    """
    if asked not in DTYPE_CHOICES:
        raise InvalidSpecError(f"unknown dtype {asked!r}; choose one of {', '.join(DTYPE_CHOICES)}")
    if asked == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    dtype = DTYPES[asked]
    if device.type == "cpu" and dtype != torch.float32 and not cpu_has_native(dtype):
        warnings.warn(
            f"this CPU has no native {asked} arithmetic (needs AVX-512 BF16 or AMX); "
            f"{asked} will run emulated, usually slower than float32",
            SlowDtypeWarning,
            stacklevel=2,
        )
    return dtype


def cpu_has_native(dtype: torch.dtype) -> bool:
    """Whether this CPU computes ``dtype`` matrix products in hardware (x86: AVX-512 BF16, AMX)."""
    cpu = torch.cpu
    checks: tuple[str, ...]
    if dtype == torch.bfloat16:
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    elif dtype == torch.float16:
        checks = ("_is_amx_fp16_supported",)
    else:
        return dtype == torch.float32
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


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


@contextmanager
def one_thread_per_operation(workers: int) -> Iterator[None]:
    """With several workers, run each torch operation on one thread; restore the thread count after."""
    if workers <= 1:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
