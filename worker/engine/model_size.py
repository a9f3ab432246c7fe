"""A model's size as its files state it: the parameters in its safetensors headers (what the Hub's
safetensors metadata counts), and for a mixture of experts the parameters a token uses, from config.json."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# config.json keys of a mixture of experts, across architectures (Mixtral, Qwen2/3-MoE, DeepSeek, OLMoE...).
_EXPERT_COUNT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts")
_EXPERT_SIZE_KEYS = ("moe_intermediate_size", "intermediate_size")


def safetensors_parameters(folder: Path) -> int | None:
    """Elements of every tensor in the folder's ``*.safetensors`` files, read from their headers (no
    tensor is loaded); None without readable ones."""
    from safetensors import SafetensorError, safe_open

    files = sorted(folder.glob("*.safetensors"))
    total = 0
    try:
        for file in files:
            with safe_open(str(file), framework="pt") as weights:
                names = weights.keys()  # a safe_open handle is not iterable itself
                total += sum(math.prod(weights.get_slice(name).get_shape()) for name in names)
    except (OSError, SafetensorError):
        return None
    return total if files else None


def first_int(config: Mapping[str, Any], *keys: str) -> int | None:
    """The first of ``keys`` whose value in a config.json is a positive integer."""
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def active_parameters(config: Mapping[str, Any], total: int) -> int | None:
    """A mixture of experts' parameters used per token, from its config.json and its total: the total less
    the experts a token does not use (each a gated MLP of 3 x hidden x expert size, in every MoE layer).
    None for a dense model or a config that does not say enough."""
    experts = first_int(config, *_EXPERT_COUNT_KEYS)
    per_token = first_int(config, "num_experts_per_tok")
    hidden = first_int(config, "hidden_size")
    size = first_int(config, *_EXPERT_SIZE_KEYS)
    layers = first_int(config, "num_hidden_layers")
    if None in (experts, per_token, hidden, size, layers):
        return None
    assert experts and per_token and hidden and size and layers
    if experts <= per_token:
        return None
    dense = config.get("mlp_only_layers") or []
    first_dense = first_int(config, "first_k_dense_replace") or 0
    step = first_int(config, "decoder_sparse_step", "moe_layer_freq") or 1
    moe_layers = sum(
        1 for layer in range(first_dense, layers) if layer not in dense and (layer + 1) % step == 0
    )
    active = total - moe_layers * (experts - per_token) * 3 * hidden * size
    return active if 0 < active < total else None


def model_sizes(folder: Path) -> dict[str, int | None] | None:
    """``{"total": ..., "active": ...}`` for a model folder (active: None unless a mixture of experts)."""
    total = safetensors_parameters(folder)
    if total is None:
        return None
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    nested = config.get("text_config") if isinstance(config, dict) else None
    text = nested if isinstance(nested, dict) else config if isinstance(config, dict) else {}
    return {"total": total, "active": active_parameters(text, total)}
