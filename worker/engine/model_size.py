"""A model's size as its files state it: the parameters in its safetensors headers (what the Hub's
safetensors metadata counts), and for a mixture of experts the parameters a token uses, from config.json."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# config.json keys of a mixture of experts, across architectures (Mixtral, Qwen2/3-MoE, DeepSeek, OLMoE...).
_EXPERT_COUNT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts")
_EXPERT_SIZE_KEYS = ("moe_intermediate_size", "intermediate_size")
_MAX_HEADER_BYTES = 100_000_000


def safetensors_parameters(folder: Path) -> int | None:
    """Elements of every tensor in the folder's ``*.safetensors`` headers; None without readable ones."""
    total, found = 0, False
    for file in sorted(folder.glob("*.safetensors")):
        try:
            with file.open("rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                if length > _MAX_HEADER_BYTES:
                    return None
                header = json.loads(handle.read(length))
        except (OSError, ValueError, struct.error):
            return None
        for name, entry in header.items():
            if name != "__metadata__" and isinstance(entry, dict):
                total += math.prod(int(size) for size in entry.get("shape", []))
        found = True
    return total if found else None


def _number(config: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def active_parameters(config: Mapping[str, Any], total: int) -> int | None:
    """A mixture of experts' parameters used per token, from its config.json and its total: the total less
    the experts a token does not use (each a gated MLP of 3 x hidden x expert size, in every MoE layer).
    None for a dense model or a config that does not say enough."""
    experts = _number(config, *_EXPERT_COUNT_KEYS)
    per_token = _number(config, "num_experts_per_tok")
    hidden = _number(config, "hidden_size")
    size = _number(config, *_EXPERT_SIZE_KEYS)
    layers = _number(config, "num_hidden_layers")
    if None in (experts, per_token, hidden, size, layers):
        return None
    assert experts and per_token and hidden and size and layers
    if experts <= per_token:
        return None
    dense = config.get("mlp_only_layers") or []
    first_dense = _number(config, "first_k_dense_replace") or 0
    step = _number(config, "decoder_sparse_step", "moe_layer_freq") or 1
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
