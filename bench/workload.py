"""What the engine benchmarks share: sampled pairs, the random-init model, FLOP counts, the matmul peak."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO.parent / "shared" / "rewardbench-data" / "rewardbench_v1_filtered.jsonl"


def write_pairs(data: Path, per_subset: int | None, out: Path, seed: int = 0) -> int:
    """Write the seeded ``per_subset`` sample of ``data`` (all rows when None) to ``out``; return its size."""
    from worker.engine.benchmarks import get_benchmark
    from worker.engine.dataset import load_dataset, select_examples

    benchmark = get_benchmark("rewardbench-v1")
    examples = load_dataset(benchmark, str(data)).examples
    keep = {e.key for e in select_examples(benchmark, examples, limit_per_subset=per_subset, seed=seed)}
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = [row for row in rows if (row["subset"], str(row["id"])) in keep]
    out.write_text("".join(json.dumps(row) + "\n" for row in chosen), encoding="utf-8")
    return len(chosen)


def training_texts(data: Path, every: int = 7) -> list[str]:
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [text for row in rows[::every] for text in (row["prompt"], row["chosen"], row["rejected"])]


def build_model(path: Path, data: Path, *, hidden: int, layers: int, vocab: int = 4096) -> Path:
    """A random-init Llama classifier with a BPE tokenizer trained on the data, saved to ``path``.

    Its tokenizer_config names the generic fast class, so transformers 4.51 (the reference venv) loads the
    same tokenizer; ``reference_copy`` in compare_reference.py makes the copy the reference side reads.
    """
    from tests.support.tiny_models import PLAIN_TEMPLATE, build_tiny_classifier, build_tokenizer

    tokenizer = build_tokenizer(vocab_size=vocab, chat_template=PLAIN_TEMPLATE, corpus=training_texts(data))
    model = build_tiny_classifier(path, hidden=hidden, layers=layers, tokenizer=tokenizer)
    config_file = model / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_file.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return model


def model_flops(config: Any, lengths: Sequence[int]) -> float:
    """Forward FLOPs of a decoder over texts of ``lengths`` tokens, no padding, causal attention.

    2 x (non-embedding parameters) a token for the matrix products, plus 2 x L^2 x (heads x head_dim) a layer
    for the scores and the weighted sum over the causal half. The classification head is negligible.
    """
    hidden = int(config.hidden_size)
    layers = int(config.num_hidden_layers)
    heads = int(config.num_attention_heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(config, "head_dim", None) or hidden // heads)
    intermediate = int(getattr(config, "intermediate_size", None) or 4 * hidden)
    per_layer = hidden * head_dim * (2 * heads + 2 * kv_heads) + 3 * hidden * intermediate
    tokens = sum(lengths)
    squares = sum(length * length for length in lengths)
    return 2.0 * layers * per_layer * tokens + 2.0 * layers * heads * head_dim * squares


def matmul_peak(dtype_name: str, device: str = "cpu", size: int = 2048, repeats: int = 5) -> float:
    """The best of ``repeats`` square matrix products, in FLOP/s: the ceiling a run is compared with."""
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    best = float("inf")
    for _ in range(repeats + 1):
        if device != "cpu":
            torch.cuda.synchronize()
        started = time.perf_counter()
        a @ b
        if device != "cpu":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return 2.0 * size**3 / best


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def spread(values: Sequence[float]) -> str:
    """Median and range of repeated timings, e.g. ``12.3 s (11.9-13.0, n=3)``."""
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f}, n={len(values)})"
