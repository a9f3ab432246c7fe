"""Throughput of this engine against the upstream batching scheme, on a stratified sample of real rows.

Both schemes use the same model, the same texts and the same token ids; only the batching differs:
(a) upstream run_rm.py: dataset order, fixed batches of 64 pairs, chosen and rejected in separate passes,
    each padded to its longest text;
(b) this engine: all texts sorted by length, token-budgeted batches, chosen and rejected mixed.
The model is a random-init Llama sequence classifier (default 4 layers, hidden 256) built on the fly.

    python bench/eval_throughput.py [--per-subset 8] [--batch-tokens 16384]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.tiny_models import PLAIN_TEMPLATE, build_tiny_classifier, build_tokenizer  # noqa: E402
from worker.engine.adapters.classifier import ClassifierAdapter  # noqa: E402
from worker.engine.benchmarks import get_benchmark  # noqa: E402
from worker.engine.dataset import load_dataset, select_examples  # noqa: E402
from worker.engine.formatting import Encoded  # noqa: E402
from worker.engine.spec import EvaluationSpec  # noqa: E402

DEFAULT_DATA = REPO / ".." / "shared" / "rewardbench-data" / "rewardbench_v1_filtered.jsonl"


@dataclass
class Run:
    name: str
    scores: list[float]
    seconds: float
    real_tokens: int
    padded_tokens: int

    def line(self, pairs: int) -> str:
        return (
            f"{self.name:<26} {self.seconds:8.2f} s  {pairs / self.seconds:8.2f} pairs/s  "
            f"{self.real_tokens / self.seconds:10.0f} tokens/s  "
            f"padded/real {self.padded_tokens / self.real_tokens:.2f}"
        )


def upstream_scheme(adapter: ClassifierAdapter, encoded: Sequence[Encoded], batch_pairs: int) -> Run:
    chosen, rejected = encoded[0::2], encoded[1::2]
    scores: list[float] = [0.0] * len(encoded)
    padded = 0

    def work() -> None:
        nonlocal padded
        for start in range(0, len(chosen), batch_pairs):
            for offset, side in ((0, chosen), (1, rejected)):
                batch = side[start : start + batch_pairs]
                padded += len(batch) * max(len(item) for item in batch)
                for i, value in enumerate(adapter.forward(batch)):
                    scores[2 * (start + i) + offset] = value

    seconds = _timed(work)
    return Run("(a) upstream scheme", scores, seconds, sum(len(item) for item in encoded), padded)


def engine_scheme(adapter: ClassifierAdapter, encoded: Sequence[Encoded]) -> Run:
    padded = 0
    forward = adapter.forward

    def counting_forward(items: Sequence[Encoded]) -> list[float]:
        nonlocal padded
        padded += len(items) * max(len(item) for item in items)
        return forward(items)

    adapter.forward = counting_forward  # type: ignore[method-assign]
    result: list[float] = []
    seconds = _timed(lambda: result.extend(adapter.score_encoded(encoded)))
    adapter.forward = forward  # type: ignore[method-assign]
    return Run("(b) this engine", result, seconds, sum(len(item) for item in encoded), padded)


def _timed(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--per-subset", type=int, default=8, help="rows sampled per subset (seeded)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch-pairs", type=int, default=64, help="upstream batch size")
    parser.add_argument("--batch-tokens", type=int, default=16384, help="this engine's token budget")
    parser.add_argument("--max-length", type=int, default=2048)
    args = parser.parse_args()

    benchmark = get_benchmark("rewardbench-v1")
    dataset = load_dataset(benchmark, str(args.data))
    pairs = select_examples(benchmark, dataset.examples, limit_per_subset=args.per_subset, seed=0)
    corpus = [text for pair in dataset.examples[::7] for text in (pair.prompt, *pair.candidates)]
    with tempfile.TemporaryDirectory() as folder:
        tokenizer = build_tokenizer(vocab_size=4096, chat_template=PLAIN_TEMPLATE, corpus=corpus)
        model_dir = build_tiny_classifier(
            Path(folder) / "model", hidden=args.hidden, layers=args.layers, tokenizer=tokenizer
        )
        spec = EvaluationSpec(
            model=str(model_dir), max_length=args.max_length, batch_tokens=args.batch_tokens, device="cpu"
        )
        adapter = ClassifierAdapter.from_spec(spec, benchmark)
    encoded = adapter.encode_examples(pairs)
    adapter.forward(list(encoded[:4]))  # warm-up
    print(
        f"{len(pairs)} pairs ({args.per_subset} per subset) from {dataset.source}; "
        f"{sum(len(item) for item in encoded)} tokens; model {args.layers} layers x {args.hidden}, "
        f"{sum(p.numel() for p in adapter.model.parameters()) / 1e6:.1f}M params, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    upstream = upstream_scheme(adapter, encoded, args.batch_pairs)
    engine = engine_scheme(adapter, encoded)
    for run in (upstream, engine):
        print(run.line(len(pairs)))
    decisions = [
        (run.scores[2 * i] > run.scores[2 * i + 1]) for run in (upstream, engine) for i in range(len(pairs))
    ]
    agree = sum(a == b for a, b in zip(decisions[: len(pairs)], decisions[len(pairs) :], strict=True))
    drift = max(abs(a - b) for a, b in zip(upstream.scores, engine.scores, strict=True))
    print(f"decisions agree on {agree}/{len(pairs)} pairs; largest score difference {drift:.2e}")
    print(f"speed-up {upstream.seconds / engine.seconds:.2f}x")
    return 0 if agree == len(pairs) else 1


if __name__ == "__main__":
    sys.exit(main())
