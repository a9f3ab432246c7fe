"""Shared by the scripts that run under the REFERENCE interpreter: upstream's pipelines hard-code cuda."""

from __future__ import annotations

from typing import Any


def cpu_only_batch_encoding() -> None:
    """Make BatchEncoding.to('cuda') a move to the CPU."""
    from transformers.tokenization_utils_base import BatchEncoding

    original = BatchEncoding.to

    def to(self: Any, device: Any, *args: Any, **kwargs: Any) -> Any:
        if str(device).startswith("cuda"):
            device = "cpu"
        return original(self, device, *args, **kwargs)

    BatchEncoding.to = to  # type: ignore[method-assign]
