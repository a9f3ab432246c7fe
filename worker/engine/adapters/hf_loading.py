"""Load Hugging Face models and tokenizers safely (no remote code, safetensors only, every weight from the
checkpoint): the shared loaders, and the sequence-classification reward model with its tokenizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from worker.engine.errors import InvalidModelError, ModelLoadError, OutOfMemoryError, TokenizerLoadError
from worker.engine.hub_errors import first_line
from worker.engine.layout import Layout


def read_config(path: Path, name: str) -> Any:
    """The model config as saved, never running custom code."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(path, trust_remote_code=False)
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise InvalidModelError(
                f"{name}: needs custom code (trust_remote_code), which is never run"
            ) from None
        raise InvalidModelError(f"{name}: unreadable config ({first_line(exc)})") from None
    except OSError as exc:
        raise ModelLoadError(f"{name}: could not read config.json ({first_line(exc)})") from None


def load_config(path: Path, name: str) -> Any:
    """The model config, checked to describe a one-label sequence classifier."""
    config = read_config(path, name)
    architectures = list(getattr(config, "architectures", None) or [])
    if architectures and not any(arch.endswith("ForSequenceClassification") for arch in architectures):
        raise InvalidModelError(
            f"{name}: is a {architectures[0]} with no sequence-classification head; "
            "a reward model needs AutoModelForSequenceClassification with one label"
        )
    num_labels = int(getattr(config, "num_labels", 1))
    if num_labels != 1:
        raise InvalidModelError(f"{name}: has {num_labels} labels; a reward model needs exactly one")
    return config


def saved_tokenizer_class(path: Path) -> str | None:
    """The ``tokenizer_class`` named in the model's tokenizer_config.json, if any."""
    try:
        config = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = config.get("tokenizer_class") if isinstance(config, dict) else None
    return name if isinstance(name, str) and name else None


def load_tokenizer(path: Path, name: str, *, pad_from_eos: bool = True) -> Any:
    """The tokenizer; with ``pad_from_eos``, the pad token falls back to EOS."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except Exception as exc:  # tokenizer loading fails with many unrelated exception types
        raise TokenizerLoadError(f"{name}: the tokenizer failed to load ({first_line(exc)})") from None
    if pad_from_eos and tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise TokenizerLoadError(f"{name}: the tokenizer has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_weights(
    auto_class: Any,
    path: Path,
    name: str,
    what: str,
    dtype: torch.dtype,
    device: torch.device,
    layout: Layout | None = None,
    **options: Any,
) -> Any:
    """``auto_class.from_pretrained`` in eval mode on ``device`` (or sharded as ``layout`` says) in ``dtype``,
    from safetensors only, with no custom code; every weight must come from the checkpoint (``what`` names
    the model in messages)."""
    # Straight onto the device(s), never a full copy in host memory first.
    device_map = layout.device_map if layout is not None else str(device)
    where = ", ".join(layout.places) if layout is not None else str(device)
    try:
        model, info = auto_class.from_pretrained(
            path,
            dtype=dtype,
            use_safetensors=True,
            trust_remote_code=False,
            output_loading_info=True,
            device_map=device_map,
            **options,
        )
    except torch.OutOfMemoryError:
        raise OutOfMemoryError(f"{name}: the weights do not fit in {where} memory as {dtype}") from None
    except ValueError as exc:
        raise InvalidModelError(f"{name}: cannot be loaded as a {what} ({first_line(exc)})") from None
    except OSError as exc:
        raise ModelLoadError(f"{name}: the weights failed to load ({first_line(exc)})") from None
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        raise InvalidModelError(
            f"{name}: the checkpoint lacks {len(missing)} weight(s) ({', '.join(missing[:3])}); "
            f"it is not a trained {what}"
        )
    model.requires_grad_(False)
    return model.eval()


def load_classifier(
    path: Path,
    name: str,
    config: Any,
    dtype: torch.dtype,
    device: torch.device,
    attn_implementation: str = "sdpa",
    layout: Layout | None = None,
) -> Any:
    """The sequence classifier in eval mode on ``device`` (or as ``layout`` shards it) in ``dtype``."""
    from transformers import AutoModelForSequenceClassification

    return load_weights(
        AutoModelForSequenceClassification,
        path,
        name,
        "sequence classifier",
        dtype,
        device,
        layout,
        config=config,
        attn_implementation=attn_implementation,
    )
