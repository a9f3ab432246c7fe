"""What to evaluate and how: the one input of ``run_evaluation`` (re-exported by ``worker.engine.runner``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from worker.engine.judging.endpoints import EndpointSources

DEVICE_CHOICES: Final = ("auto", "cpu", "cuda", "mps")
DTYPE_CHOICES: Final = ("auto", "float32", "bfloat16", "float16")
# "auto" and the keys of worker.engine.attention.ATTENTION (kept here so the command line needs no torch).
ATTENTION_CHOICES: Final = ("auto", "varlen", "flash_attention_2", "sdpa", "eager")


@dataclass(frozen=True)
class EvaluationSpec:
    model: str  # Hub id, or a local directory where allowed (see allow_local_model)
    revision: str | None = None  # branch, tag or commit; None = main
    model_type: str = "classifier"  # a key of worker.engine.kinds.KINDS
    # The kind's own settings (its ``settings_type``, as a mapping): template, reference model, judge options.
    kind_settings: Mapping[str, Any] = field(default_factory=dict)
    benchmark: str = "rewardbench-v1"  # a key of worker.engine.benchmarks.BENCHMARKS
    dataset: str | None = None  # local file/dir or Hub dataset id of the core data; None = the pinned one
    # Optional data parts to add, with their source (None = the part's pinned Hub dataset).
    extra_parts: tuple[tuple[str, str | None], ...] = ()
    subsets: tuple[str, ...] | None = None
    limit_per_subset: int | None = None
    seed: int = 0
    # Tokens a text keeps (classifiers, DPO) or a judge's prompt and answer may use; None: the benchmark's
    # default for classifiers and DPO, the model's own context for judges.
    max_length: int | None = None
    batch_tokens: int | None = None  # tokens a batch; None = the device's default (token_budget.py)
    dtype: str = "auto"
    device: str = "auto"
    attention: str = "auto"  # a key of worker.engine.attention.ATTENTION, or "auto" (the device's best)
    # How many parts the weights are split into (worker.engine.layout): None = one device when they fit on
    # it, else all GPUs; on a CPU, parts all on the CPU (the sharded path without GPUs).
    shards: int | None = None
    scoring_version: str | None = None  # how subset values are computed; None = the benchmark's current one
    generation_backend: str = "auto"  # judges: "auto" (vLLM on a GPU when installed), "transformers", "vllm"
    cache_dir: str | None = None  # weights cache
    # A local directory may stand for the model only when asked (the command line); services resolve Hub ids.
    allow_local_model: bool = True
    # Judges on endpoints: where the registry is configured; None: JUDGE_ENDPOINTS(_FILE) of this process.
    endpoints: EndpointSources | None = None

    def truncation_length(self, default: int) -> int:
        """The max_length a classifier or DPO run cuts texts at: the one asked for, else ``default``."""
        return self.max_length if self.max_length is not None else default

    @property
    def chat_template(self) -> str:
        """The template a kind's ``chat_template`` setting asks for ("auto": the tokenizer's, else Tulu)."""
        return str(self.kind_settings.get("chat_template", "auto"))
