"""Attention implementations a classifier can run with, and the one ``auto`` picks for a device.

Padded choices (``sdpa``, ``eager``) score right-padded, length-sorted batches. Packed choices (``varlen``,
``flash_attention_2``) put the texts of a batch one after another in a single row with no padding, restart
the position ids at each text and give the kernel the text boundaries (``cu_seq_lens``), so each text
attends only to itself. ``varlen`` is this module's own transformers attention function: PyTorch's
variable-length FlashAttention kernel on a GPU in half precision, else one causal SDPA call per text (which
on a CPU is also the fastest choice: no padding, and the causal kernel skips the upper triangle; see
bench/README.md). Called without boundaries it behaves as SDPA, so the model stays usable for ordinary calls.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, Final, cast

import torch

from worker.engine.errors import InvalidModelError, InvalidSpecError
from worker.engine.spec import ATTENTION_CHOICES

VARLEN: Final = "varlen"

# Decoder-only architectures whose sequence-classification head is a linear ``score`` on the last hidden
# state and whose attention goes through transformers' attention interface with position ids: these can run
# packed. Each is checked against padded scoring in tests/engine/test_packing.py.
PACKABLE_MODEL_TYPES: Final = frozenset(
    {"llama", "mistral", "qwen2", "qwen3", "gpt2", "gpt_neox", "gemma2", "gemma3_text", "phi3", "olmo2"}
)


@dataclass(frozen=True, slots=True)
class AttentionChoice:
    name: str  # what --attention takes and results record
    hf_implementation: str  # the attn_implementation given to transformers
    packed: bool
    # Why it cannot run on this device and dtype, or None when it can.
    unavailable: Callable[[torch.device, torch.dtype], str | None]
    # Why transformers does not offer it for this model class, or None when it does.
    unsupported: Callable[[type], str | None]


def _always(device: torch.device, dtype: torch.dtype) -> str | None:
    return None


def _every_class(model_class: type) -> str | None:
    return None


def _declared(flag: str, what: str) -> Callable[[type], str | None]:
    """A check of the model class's own ``_supports_*`` flag, as transformers checks it at load time."""

    def unsupported(model_class: type) -> str | None:
        if getattr(model_class, flag, False):
            return None
        return f"transformers has no {what} for {model_class.__name__}"

    return unsupported


def _flash_attention_2(device: torch.device, dtype: torch.dtype) -> str | None:
    from transformers.utils import is_flash_attn_2_available

    if device.type != "cuda":
        return "needs a CUDA GPU"
    if dtype not in (torch.float16, torch.bfloat16):
        return "needs float16 or bfloat16"
    return None if is_flash_attn_2_available() else "the flash-attn package is not installed"


def _varlen(device: torch.device, dtype: torch.dtype) -> str | None:
    if device.type == "cpu":
        return None
    if device.type == "cuda" and dtype != torch.float32 and torch_varlen_kernel() is not None:
        return None
    return "needs a CPU, or a CUDA GPU in half precision with PyTorch's variable-length attention kernel"


ATTENTION: Final[Mapping[str, AttentionChoice]] = MappingProxyType(
    {
        choice.name: choice
        for choice in (
            AttentionChoice(
                VARLEN,
                VARLEN,
                True,
                _varlen,
                _declared("_supports_attention_backend", "pluggable attention functions"),
            ),
            AttentionChoice(
                "flash_attention_2",
                "flash_attention_2",
                True,
                _flash_attention_2,
                _declared("_supports_flash_attn", "FlashAttention"),
            ),
            AttentionChoice("sdpa", "sdpa", False, _always, _declared("_supports_sdpa", "SDPA attention")),
            AttentionChoice("eager", "eager", False, _always, _every_class),
        )
    }
)
# What ``auto`` tries, in order, on each device type; the first usable choice wins. Eager, which every
# architecture has, comes last everywhere.
AUTO_ORDER: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "cuda": ("flash_attention_2", VARLEN, "sdpa", "eager"),
        "cpu": (VARLEN, "sdpa", "eager"),
        "mps": ("sdpa", "eager"),
    }
)


def classifier_class(config: Any) -> type:
    """The class AutoModelForSequenceClassification builds for this config (never remote code)."""
    from transformers import AutoModelForSequenceClassification

    try:
        return cast(type, AutoModelForSequenceClassification._model_mapping[type(config)])
    except KeyError:
        model_type = getattr(config, "model_type", None)
        raise InvalidModelError(
            f"transformers has no sequence-classification class for model type {model_type!r}"
        ) from None


def packing_refusal(config: Any, max_length: int) -> str | None:
    """Why this model cannot be scored packed, or None when it can."""
    model_type = getattr(config, "model_type", None)
    if model_type not in PACKABLE_MODEL_TYPES:
        known = ", ".join(sorted(PACKABLE_MODEL_TYPES))
        return f"model type {model_type!r} is not one of the packable types ({known})"
    window = getattr(config, "sliding_window", None)
    if window is not None and getattr(config, "use_sliding_window", True) and window < max_length:
        return f"its sliding attention window ({window}) is shorter than max_length ({max_length})"
    return None


def attention_refusal(
    choice: AttentionChoice, device: torch.device, dtype: torch.dtype, config: Any, max_length: int
) -> str | None:
    """Why ``choice`` cannot score this model here (device, architecture, packing), or None when it can."""
    return (
        choice.unavailable(device, dtype)
        or choice.unsupported(classifier_class(config))
        or (packing_refusal(config, max_length) if choice.packed else None)
    )


def pick_attention(
    asked: str, device: torch.device, dtype: torch.dtype, config: Any, max_length: int
) -> AttentionChoice:
    """The attention to use: ``asked`` when it can run here, else an error; ``auto``: the first of the
    device's order that the device, the architecture and packing allow (eager at the latest)."""
    if asked not in ATTENTION_CHOICES:
        raise InvalidSpecError(f"unknown attention {asked!r}; choose one of {', '.join(ATTENTION_CHOICES)}")
    if asked != "auto":
        reason = attention_refusal(ATTENTION[asked], device, dtype, config, max_length)
        if reason is not None:
            raise InvalidSpecError(f"attention {asked!r} cannot be used here: {reason}")
        return ATTENTION[asked]
    for name in AUTO_ORDER.get(device.type, ("sdpa", "eager")):
        if attention_refusal(ATTENTION[name], device, dtype, config, max_length) is None:
            return ATTENTION[name]
    return ATTENTION["eager"]


# ---------------------------------------------------------------------------------------------- varlen


# kernel(query, key, value, boundaries, longest, scale): (tokens, heads, dim) tensors in and out.
VarlenKernel = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int, "float | None"], torch.Tensor
]


@cache
def torch_varlen_kernel() -> VarlenKernel | None:
    """PyTorch's variable-length FlashAttention (``torch.nn.attention.varlen``), causal, or None if absent."""
    if not torch.cuda.is_available():
        return None
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    return wrap_varlen_kernel(varlen_attn)


def wrap_varlen_kernel(varlen_attn: Callable[..., Any]) -> VarlenKernel | None:
    """A causal ``VarlenKernel`` over ``varlen_attn``, whichever of its signatures this PyTorch has.

    Older releases take ``is_causal``, newer ones ``window_size=(-1, 0)``; without ``enable_gqa`` the key and
    value heads are repeated to match the query heads. None when neither causal form is offered.
    """
    parameters = inspect.signature(varlen_attn).parameters
    if "is_causal" in parameters:
        causal: dict[str, Any] = {"is_causal": True}
    elif "window_size" in parameters:
        causal = {"window_size": (-1, 0)}
    else:
        return None
    native_gqa = "enable_gqa" in parameters

    def kernel(
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        boundaries: torch.Tensor,
        longest: int,
        scale: float | None,
    ) -> torch.Tensor:
        options: dict[str, Any] = {**causal, "scale": scale}
        if key.shape[1] != query.shape[1]:
            if native_gqa:
                options["enable_gqa"] = True
            else:
                repeat = query.shape[1] // key.shape[1]
                key, value = key.repeat_interleave(repeat, dim=1), value.repeat_interleave(repeat, dim=1)
        output = varlen_attn(query, key, value, boundaries, boundaries, longest, longest, **options)
        return output[0] if isinstance(output, tuple) else output

    return kernel


def fused_varlen_kernel(query: torch.Tensor) -> VarlenKernel | None:
    """The fused kernel for these queries (CUDA, half precision), or None to attend text by text."""
    if not query.is_cuda or query.dtype == torch.float32:
        return None
    return torch_varlen_kernel()


def varlen_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers attention function: causal attention within each text of a packed row.

    ``query`` is (batch, heads, tokens, dim), ``key``/``value`` (batch, kv_heads, tokens, dim); the result is
    (batch, tokens, heads, dim). Without ``cu_seq_lens_q`` (an ordinary call) it is SDPA. Attention logit
    soft-capping (Gemma-2), which neither SDPA nor PyTorch's varlen kernel computes, is computed explicitly.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    boundaries = kwargs.get("cu_seq_lens_q")
    softcap = kwargs.get("softcap")
    if boundaries is None:
        if softcap is not None:
            return _softcapped_attention(query, key, value, attention_mask, scaling, softcap), None
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    if query.shape[0] != 1:
        raise ValueError(f"a packed batch is one row, got {query.shape[0]}")
    kernel = fused_varlen_kernel(query) if softcap is None else None
    if kernel is not None:
        output = kernel(
            query[0].transpose(0, 1).contiguous(),
            key[0].transpose(0, 1).contiguous(),
            value[0].transpose(0, 1).contiguous(),
            boundaries,
            int(kwargs["max_length_q"]),
            scaling,
        )
        return output.unsqueeze(0), None
    return _per_text(query, key, value, boundaries, scaling, softcap), None


def _per_text(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    boundaries: torch.Tensor,
    scaling: float | None,
    softcap: float | None,
) -> torch.Tensor:
    grouped = query.shape[1] != key.shape[1]
    output = query.new_empty(query.shape[0], query.shape[2], query.shape[1], query.shape[3])
    edges = boundaries.tolist()
    for start, end in itertools.pairwise(edges):
        if softcap is not None:
            output[:, start:end] = _softcapped_attention(
                query[:, :, start:end], key[:, :, start:end], value[:, :, start:end], None, scaling, softcap
            )
            continue
        part = torch.nn.functional.scaled_dot_product_attention(
            query[:, :, start:end],
            key[:, :, start:end],
            value[:, :, start:end],
            is_causal=True,
            scale=scaling,
            enable_gqa=grouped,
        )
        output[:, start:end] = part.transpose(1, 2)
    return output


def _softcapped_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None,
    softcap: float,
) -> torch.Tensor:
    """Attention with ``softcap * tanh(logits / softcap)``, in the order of transformers' eager Gemma-2 code;
    causal when no mask is given. Returns (batch, tokens, heads, dim)."""
    repeat = query.shape[1] // key.shape[1]
    if repeat > 1:
        key, value = key.repeat_interleave(repeat, dim=1), value.repeat_interleave(repeat, dim=1)
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    logits = torch.matmul(query, key.transpose(2, 3)) * scale
    logits = torch.tanh(logits / softcap) * softcap
    if attention_mask is None:
        length = query.shape[2]
        causal = torch.ones(length, length, dtype=torch.bool, device=query.device).tril()
        logits = logits.masked_fill(~causal, torch.finfo(logits.dtype).min)
    elif attention_mask.dtype == torch.bool:
        logits = logits.masked_fill(~attention_mask[..., : key.shape[2]], torch.finfo(logits.dtype).min)
    else:
        logits = logits + attention_mask[..., : key.shape[2]]
    weights = torch.softmax(logits, dim=-1, dtype=torch.float32).to(query.dtype)
    return torch.matmul(weights, value).transpose(1, 2)


def _varlen_mask(attention_mask: torch.Tensor | None = None, **kwargs: Any) -> Any:
    """No mask for packed or unpadded rows (the kernel is causal per text); SDPA's mask for padded ones."""
    if attention_mask is None:
        return None
    from transformers.masking_utils import sdpa_mask

    return sdpa_mask(attention_mask=attention_mask, **kwargs)


@cache
def register_varlen_attention() -> None:
    """Make ``varlen`` a transformers attention implementation (once per process)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(VARLEN, varlen_attention_forward)
    AttentionMaskInterface.register(VARLEN, _varlen_mask)
