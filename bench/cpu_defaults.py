"""How the CPU defaults were chosen: scoring time by attention implementation and token budget, on CPU.

One process, one random-init Llama classifier built on the fly, the seeded sample of real pairs encoded
once; then every (attention, budget) cell is scored ``--repeats`` times, the cells interleaved (the order is
reversed every other round) so that load from other processes spreads over all of them. Prints the median
and range per cell of the wall time and of the process's CPU time, the fastest cell, and the budget the
engine's CPU rule picks for this model. On a shared machine, ``--threads 1`` with the CPU-time column is
the steadier comparison: one thread's CPU time barely moves when other processes take the cores.

    python bench/cpu_defaults.py [--hidden 256 --layers 4] [--per-subset 8] [--repeats 3] [--threads 1]
    python bench/cpu_defaults.py --threading   # one batch per core vs every operation over all cores
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import workload

from worker.engine.adapters.classifier import ClassifierAdapter
from worker.engine.attention import ATTENTION
from worker.engine.benchmarks import get_benchmark
from worker.engine.dataset import load_dataset
from worker.engine.formatting import Encoded
from worker.engine.spec import EvaluationSpec
from worker.engine.token_budget import TokenBudget, default_budget


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=workload.DEFAULT_DATA)
    parser.add_argument("--per-subset", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--attentions", default="varlen,sdpa,eager")
    parser.add_argument("--budgets", default="2048,4096,8192,16384,32768,65536")
    parser.add_argument("--eager-budgets", default="4096,16384", help="eager is slow: fewer cells")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--threading",
        action="store_true",
        help="only compare, at the engine's defaults, one batch per core (each operation on one thread) "
        "with one batch at a time split over all cores",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    v1 = get_benchmark("rewardbench-v1")
    with tempfile.TemporaryDirectory() as folder:
        pairs = Path(folder) / "pairs.jsonl"
        count = workload.write_pairs(args.data, args.per_subset, pairs)
        model = workload.build_model(Path(folder) / "m", args.data, hidden=args.hidden, layers=args.layers)
        spec = EvaluationSpec(model=str(model), device="cpu", dtype="float32")
        adapter = ClassifierAdapter.from_spec(spec, v1)
        encoded = adapter.encode_examples(load_dataset(v1, str(pairs)).examples)
    lengths = [len(item) for item in encoded]
    flops = workload.model_flops(adapter.model.config, lengths)
    rule = default_budget(adapter.device, adapter.model.config, adapter.dtype)
    peak = workload.matmul_peak("float32")
    print(
        f"{count} pairs, {len(encoded)} texts, {sum(lengths)} tokens; Llama {args.layers} x {args.hidden}; "
        f"{flops / 1e9:.1f} GFLOP a pass; fp32 matmul peak {peak / 1e9:.0f} GFLOP/s"
    )
    if args.threading:
        return compare_threading(adapter, encoded, args.repeats, flops)
    cells = [
        (name, int(budget))
        for name in args.attentions.split(",")
        for budget in (args.eager_budgets if name == "eager" else args.budgets).split(",")
    ]
    times: dict[tuple[str, int], list[float]] = {cell: [] for cell in cells}
    cpu: dict[tuple[str, int], list[float]] = {cell: [] for cell in cells}
    for round_ in range(args.repeats):
        for name, budget in cells if round_ % 2 == 0 else cells[::-1]:
            adapter.attention = ATTENTION[name]
            adapter.model.set_attn_implementation(ATTENTION[name].hf_implementation)
            adapter.budget = TokenBudget(budget, "bench")
            started = time.process_time()
            seconds, _ = workload.timed(lambda: adapter.score_encoded(encoded))
            times[(name, budget)].append(seconds)
            cpu[(name, budget)].append(time.process_time() - started)
            print(f"  round {round_ + 1}: {name} {budget}: {seconds:.2f} s", file=sys.stderr, flush=True)
    print(f"torch threads {torch.get_num_threads()}")
    print(f"{'attention':<10} {'budget':>7}  {'wall: median (range, n)':<28} {'GFLOP/s':>8}  CPU time")
    for cell, values in times.items():
        median = statistics.median(values)
        line = f"{cell[0]:<10} {cell[1]:>7}  {workload.spread(values):<28} {flops / median / 1e9:8.1f}"
        print(f"{line}  {workload.spread(cpu[cell])}")
    for label, table in (("wall", times), ("CPU time", cpu)):
        best = min(table, key=lambda cell: statistics.median(table[cell]))
        print(f"fastest by {label}: {best[0]} at {best[1]} tokens")
    print(f"the engine's rule picks {rule.tokens} ({rule.rule})")
    return 0


def compare_threading(adapter: ClassifierAdapter, encoded: list[Encoded], repeats: int, flops: float) -> int:
    cores = adapter.workers
    modes = {f"{cores} concurrent batches, 1 thread each": cores, f"1 batch at a time, {cores} threads": 1}
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    for round_ in range(repeats):
        for mode in modes if round_ % 2 == 0 else list(modes)[::-1]:
            adapter.workers = modes[mode]
            started = time.process_time()
            seconds, _ = workload.timed(lambda: adapter.score_encoded(encoded))
            times[mode].append(seconds)
            cpu[mode].append(time.process_time() - started)
    print(f"attention {adapter.attention.name}, {adapter.batch_tokens} tokens a batch")
    for mode in modes:
        median = statistics.median(times[mode])
        print(
            f"{mode:<36} wall {workload.spread(times[mode])}  {flops / median / 1e9:.1f} GFLOP/s  "
            f"CPU time {workload.spread(cpu[mode])}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
