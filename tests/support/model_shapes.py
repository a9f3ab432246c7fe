"""The shapes of the models at the top of the published boards, as config.json fields (no weights): what
routing, memory estimates and device-map planning are tested on, and what the GPU script builds."""

from __future__ import annotations

from typing import Any, Final

# Llama-3.1-70B: INF-ORM-Llama3.1-70B, Llama-3.1-70B-Instruct-RM-RB2, Skywork-Critic-Llama-3.1-70B.
LLAMA_70B: Final[dict[str, Any]] = {
    "model_type": "llama",
    "vocab_size": 128256,
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 131072,
}
LLAMA_70B_PARAMETERS: Final = 70_553_706_496
# Gemma-2-27B: Skywork-Reward-Gemma-2-27B, QRM-Gemma-2-27B, LDL-Reward-Gemma-2-27B.
GEMMA2_27B: Final[dict[str, Any]] = {
    "model_type": "gemma2",
    "vocab_size": 256000,
    "hidden_size": 4608,
    "intermediate_size": 36864,
    "num_hidden_layers": 46,
    "num_attention_heads": 32,
    "num_key_value_heads": 16,
    "head_dim": 128,
    "query_pre_attn_scalar": 144,
    "max_position_embeddings": 8192,
}
GEMMA2_27B_PARAMETERS: Final = 27_227_128_832


def config_fields(shape: dict[str, Any]) -> dict[str, Any]:
    """The shape as keyword arguments of its transformers config class (no ``model_type``)."""
    return {key: value for key, value in shape.items() if key != "model_type"}
