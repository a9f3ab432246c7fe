"""What to evaluate and how: the one input of ``run_evaluation`` (re-exported by ``worker.engine.runner``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEVICE_CHOICES: Final = ("auto", "cpu", "cuda", "mps")
DTYPE_CHOICES: Final = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class EvaluationSpec:
    model: str  # Hub id or local directory
    revision: str | None = None  # branch, tag or commit; None = main
    model_type: str = "classifier"  # adapter registry key; later "dpo", "generative"
    reference_model: str | None = None
    dataset: str | None = None  # local file/dir or Hub dataset id; None = allenai/reward-bench pinned
    subsets: tuple[str, ...] | None = None
    limit_per_subset: int | None = None
    seed: int = 0
    max_length: int = 2048
    batch_tokens: int = 16384
    dtype: str = "auto"
    device: str = "auto"
    chat_template: str = "auto"  # "auto" = tokenizer's when present else tulu; or "tulu"
    cache_dir: str | None = None  # weights cache
