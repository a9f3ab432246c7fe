"""Load a causal language model (DPO policies and references, judges) safely: no remote code, safetensors
only, every weight from the checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from worker.engine.adapters.hf_loading import load_weights, read_config
from worker.engine.errors import InvalidModelError
from worker.engine.layout import Layout, plan_layout
from worker.engine.model_kinds.base import CAUSAL_LM_SUFFIXES


def load_causal_config(path: Path, name: str) -> Any:
    """The model config, checked to describe a causal language model."""
    config = read_config(path, name)
    architectures = list(getattr(config, "architectures", None) or [])
    if architectures and not any(arch.endswith(CAUSAL_LM_SUFFIXES) for arch in architectures):
        raise InvalidModelError(
            f"{name}: is a {architectures[0]} with no causal language-model head; this model type needs "
            "AutoModelForCausalLM"
        )
    return config


def load_causal_lm(
    path: Path, name: str, config: Any, dtype: torch.dtype, device: torch.device, shards: int | None = None
) -> tuple[Any, Layout]:
    """The causal language model in eval mode in ``dtype``: on ``device``, or sharded (``plan_layout``)."""
    from transformers import AutoModelForCausalLM

    layout = plan_layout(AutoModelForCausalLM, config, dtype, device, shards)
    model = load_weights(
        AutoModelForCausalLM, path, name, "causal language model", dtype, device, layout, config=config
    )
    return model, layout
