"""Load a causal language model (DPO policies and references, judges) safely: no remote code, safetensors
only, every weight from the checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from worker.engine.errors import InvalidModelError, ModelLoadError, OutOfMemoryError
from worker.engine.hub_errors import first_line
from worker.engine.model_kinds.base import CAUSAL_LM_SUFFIXES


def load_causal_config(path: Path, name: str) -> Any:
    """The model config, checked to describe a causal language model."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=False)
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise InvalidModelError(
                f"{name}: needs custom code (trust_remote_code), which is never run"
            ) from None
        raise InvalidModelError(f"{name}: unreadable config ({first_line(exc)})") from None
    except OSError as exc:
        raise ModelLoadError(f"{name}: could not read config.json ({first_line(exc)})") from None
    architectures = list(getattr(config, "architectures", None) or [])
    if architectures and not any(arch.endswith(CAUSAL_LM_SUFFIXES) for arch in architectures):
        raise InvalidModelError(
            f"{name}: is a {architectures[0]} with no causal language-model head; this model type needs "
            "AutoModelForCausalLM"
        )
    return config


def load_causal_lm(path: Path, name: str, config: Any, dtype: torch.dtype, device: torch.device) -> Any:
    """The model in eval mode on ``device``; every weight must come from the checkpoint."""
    from transformers import AutoModelForCausalLM

    try:
        loaded: Any = AutoModelForCausalLM.from_pretrained(
            path,
            config=config,
            dtype=dtype,
            use_safetensors=True,
            trust_remote_code=False,
            output_loading_info=True,
            device_map=str(device),
        )
    except torch.OutOfMemoryError:
        raise OutOfMemoryError(f"{name}: the weights do not fit in {device} memory as {dtype}") from None
    except ValueError as exc:
        raise InvalidModelError(f"{name}: cannot be loaded as a causal LM ({first_line(exc)})") from None
    except OSError as exc:
        raise ModelLoadError(f"{name}: the weights failed to load ({first_line(exc)})") from None
    model, info = loaded
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        raise InvalidModelError(
            f"{name}: the checkpoint lacks {len(missing)} weight(s) ({', '.join(missing[:3])}); "
            "it is not a complete language model"
        )
    model.requires_grad_(False)
    return model.eval()
