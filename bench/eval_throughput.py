"""Throughput of `rewardboard evaluate` on a CPU, against upstream's own scripts/run_rm.py, in one run.

1. Whole process, as a user meets it: our command line (``rewardboard evaluate``, or ``python -m
   worker.engine evaluate`` where the web app's command does not import) against upstream's
   ``scripts/run_rm.py`` from PyPI's ``rewardbench`` in its own venv (``--reference-python``, set up as in
   bench/README.md), through bench/run_rm_glue.py (local data, CPU instead of the hard-coded cuda). Same
   model, same pairs, fp32, upstream's defaults (batch 64, max_length 2048). Runs alternate, ``--repeats``
   rounds; medians and ranges are printed, and every decision is compared pair by pair.
2. Inside our process: tokens/s and achieved GFLOP/s of the scoring phase (from the results file's
   timings), against this machine's measured matrix-product peak.
3. bfloat16, where this CPU has it natively: speed-up over fp32 and the share of decisions equal to fp32's.
4. In-process, without startup: upstream's batching scheme re-implemented on our adapter (dataset order,
   64 pairs a batch, chosen and rejected in separate padded passes) against the engine's default.

The model is a random-init Llama sequence classifier (default 4 layers, hidden 256) with a BPE tokenizer
trained on the data, built on the fly.

    python bench/eval_throughput.py --reference-python /tmp/rbref/bin/python [--per-subset 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import workload
from compare_reference import reference_copy

from worker.engine.adapters.classifier import ClassifierAdapter
from worker.engine.attention import ATTENTION
from worker.engine.benchmarks import get_benchmark
from worker.engine.dataset import load_dataset
from worker.engine.device import cpu_has_native
from worker.engine.formatting import Encoded
from worker.engine.spec import EvaluationSpec

GLUE = Path(__file__).resolve().with_name("run_rm_glue.py")
V1 = get_benchmark("rewardbench-v1")
Decisions = dict[tuple[str, str], tuple[bool, float, float]]


@dataclass
class Side:
    name: str
    seconds: list[float] = field(default_factory=list)
    decisions: Decisions = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def our_command() -> tuple[list[str], str]:
    """``rewardboard`` when its command line loads here, else the engine's own entry point."""
    rewardboard = Path(sys.executable).with_name("rewardboard")
    if rewardboard.exists():
        probe = subprocess.run(
            [str(rewardboard), "evaluate", "--help"], capture_output=True, cwd=workload.REPO, check=False
        )
        if probe.returncode == 0:
            return [str(rewardboard), "evaluate"], "rewardboard evaluate"
    return [sys.executable, "-m", "worker.engine", "evaluate"], "python -m worker.engine evaluate"


def run_ours(
    command: list[str], model: Path, pairs: Path, out: Path, dtype: str
) -> tuple[float, Decisions, dict[str, Any]]:
    per_example, results = out / f"ours-{dtype}.jsonl", out / f"ours-{dtype}.json"
    arguments = [*command, str(model), "--dataset", str(pairs), "--dtype", dtype, "--device", "cpu"]
    arguments += ["--per-example", str(per_example), "--output", str(results), "--no-progress"]
    seconds, _ = workload.timed(
        lambda: subprocess.run(arguments, check=True, capture_output=True, cwd=workload.REPO)
    )
    decisions = {}
    for line in per_example.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        key = (row["subset"], str(row["id"]))
        decisions[key] = (row["correct"], row["score_chosen"], row["score_rejected"])
    return seconds, decisions, json.loads(results.read_text(encoding="utf-8"))["reproducibility"]


def run_upstream(python: str, model: Path, pairs: Path, out: Path) -> tuple[float, Decisions]:
    work = out / "upstream"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    arguments = [python, str(GLUE), "--dataset", str(pairs), "--", "--model", str(model), "--not_quantized"]
    arguments += ["--torch_dtype", "float32", "--do_not_save", "--disable_beaker_save"]
    log = (out / "upstream.log").open("w")
    seconds, _ = workload.timed(
        lambda: subprocess.run(arguments, check=True, stdout=log, stderr=subprocess.STDOUT, cwd=work)
    )
    (scores_file,) = (work / "results" / "eval-set-scores").rglob("*.json")
    table = json.loads(scores_file.read_text(encoding="utf-8"))
    names = ("subset", "id", "results", "scores_chosen", "scores_rejected")
    columns = zip(*(table[name] for name in names), strict=True)
    decisions = {
        (subset, str(i)): (bool(result), _number(chosen), _number(rejected))
        for subset, i, result, chosen, rejected in columns
    }
    return seconds, decisions


def _number(score: float | list[float]) -> float:
    """run_rm.py stores each score as the pipeline's one-element list."""
    return float(score[0]) if isinstance(score, list) else float(score)


def agreement(a: Decisions, b: Decisions) -> tuple[int, int, float]:
    if set(a) != set(b):
        raise RuntimeError("the two sides scored different pairs")
    same = sum(a[key][0] == b[key][0] for key in a)
    drift = max(max(abs(a[key][1] - b[key][1]), abs(a[key][2] - b[key][2])) for key in a)
    return same, len(a), drift


def upstream_scheme(adapter: ClassifierAdapter, encoded: Sequence[Encoded], batch_pairs: int) -> list[float]:
    """run_rm.py's batching on our adapter: dataset order, ``batch_pairs`` a batch, each side padded apart."""
    adapter.attention = ATTENTION["sdpa"]
    adapter.model.set_attn_implementation("sdpa")
    chosen, rejected = encoded[0::2], encoded[1::2]
    scores = [0.0] * len(encoded)
    for start in range(0, len(chosen), batch_pairs):
        for offset, side in ((0, chosen), (1, rejected)):
            values = adapter.forward(side[start : start + batch_pairs]).tolist()
            for i, value in enumerate(values):
                scores[2 * (start + i) + offset] = value
    return scores


def in_process(adapter: ClassifierAdapter, encoded: Sequence[Encoded], repeats: int) -> None:
    default = (adapter.attention, adapter.budget)
    upstream: list[float] = []
    ours: list[float] = []
    for _ in range(repeats):
        upstream.append(workload.timed(lambda: upstream_scheme(adapter, encoded, 64))[0])
        adapter.attention, adapter.budget = default
        adapter.model.set_attn_implementation(default[0].hf_implementation)
        ours.append(workload.timed(lambda: adapter.score_encoded(encoded))[0])
    speed_up = statistics.median(upstream) / statistics.median(ours)
    print(f"  upstream scheme (padded sdpa, 64 pairs, sides apart): {workload.spread(upstream)}")
    print(f"  engine default ({default[0].name}, {default[1].tokens} tokens): {workload.spread(ours)}")
    print(f"  speed-up {speed_up:.2f}x (scoring only, no startup)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-python", required=True, help="python of the venv with `rewardbench`")
    parser.add_argument("--data", type=Path, default=workload.DEFAULT_DATA)
    parser.add_argument("--per-subset", type=int, default=8, help="rows sampled per subset (seeded)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="whole-process rounds (alternating sides)")
    parser.add_argument("--work-dir", type=Path, help="keep the model, pairs and outputs here")
    args = parser.parse_args()
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="true")

    with tempfile.TemporaryDirectory(prefix="rb-throughput-") as tmp:
        root = (args.work_dir or Path(tmp)).resolve()
        root.mkdir(parents=True, exist_ok=True)
        pairs = root / "pairs.jsonl"
        count = workload.write_pairs(args.data, args.per_subset, pairs)
        model = workload.build_model(root / "model", args.data, hidden=args.hidden, layers=args.layers)
        reference_model = reference_copy(model, root / "model.ref", "PreTrainedTokenizerFast")
        command, label = our_command()
        bf16 = cpu_has_native(torch.bfloat16)
        # The peak is measured before the rounds and again after them; the higher of the two counts (other
        # jobs on a shared machine only ever lower it).
        peaks = {dtype: workload.matmul_peak(dtype) for dtype in ("float32", "bfloat16")}
        ours, ours_bf16, upstream = Side(label), Side(f"{label} --dtype bfloat16"), Side("upstream run_rm.py")
        print(
            f"{count} pairs ({args.per_subset} per subset) from {args.data.name}; Llama {args.layers} x "
            f"{args.hidden}; {os.cpu_count()} CPUs; {args.repeats} alternating rounds; ours: {label}",
            flush=True,
        )
        for round_ in range(args.repeats):
            order = ["ours", "upstream", "bf16"] if round_ % 2 == 0 else ["bf16", "upstream", "ours"]
            for which in order:
                if which == "ours":
                    seconds, ours.decisions, ours.record = run_ours(command, model, pairs, root, "float32")
                    ours.seconds.append(seconds)
                elif which == "bf16" and bf16:
                    seconds, ours_bf16.decisions, ours_bf16.record = run_ours(
                        command, model, pairs, root, "bfloat16"
                    )
                    ours_bf16.seconds.append(seconds)
                elif which == "upstream":
                    python = args.reference_python
                    seconds, upstream.decisions = run_upstream(python, reference_model, pairs, root)
                    upstream.seconds.append(seconds)
            sides = (ours, upstream, ours_bf16)
            done = [f"{side.name} {side.seconds[-1]:.1f} s" for side in sides if side.seconds]
            print(f"  round {round_ + 1}: " + ", ".join(done), flush=True)
        spec = EvaluationSpec(model=str(model), device="cpu", dtype="float32")
        adapter = ClassifierAdapter.from_spec(spec, V1)
        encoded = adapter.encode_examples(load_dataset(V1, str(pairs)).examples)
        lengths = [len(item) for item in encoded]
        peaks = {dtype: max(peak, workload.matmul_peak(dtype)) for dtype, peak in peaks.items()}
        flops = workload.model_flops(adapter.model.config, lengths)
        report(ours, upstream, ours_bf16, sum(lengths), flops, peaks)
        print("\nIn one process, scoring only (no imports, loading or tokenisation):")
        in_process(adapter, encoded, args.repeats)
    return 0


def report(
    ours: Side, upstream: Side, bf16: Side, tokens: int, flops: float, peaks: dict[str, float]
) -> None:
    same, total, drift = agreement(ours.decisions, upstream.decisions)
    print("\nWhole process (wall clock, median and range):")
    print(f"  {upstream.name:<44} {workload.spread(upstream.seconds)}")
    print(f"  {ours.name:<44} {workload.spread(ours.seconds)}")
    print(
        f"  speed-up {upstream.median / ours.median:.2f}x; decisions equal on {same}/{total} pairs, "
        f"largest score difference {drift:.1e}"
    )
    timings = ours.record["wall_time_s"]
    print(
        f"  ours inside the process (last round): load {timings['load']:.2f} s, "
        f"score {timings['score']:.2f} s "
        f"(attention {ours.record['attention']}, {ours.record['batch_tokens']} tokens a batch); "
        f"{tokens} tokens, {flops / 1e9:.0f} GFLOP"
    )
    for side, dtype in ((ours, "float32"), (bf16, "bfloat16")):
        if not side.seconds:
            continue
        score = side.record["wall_time_s"]["score"]
        peak = peaks[dtype]
        print(
            f"  {dtype}: {tokens / score:,.0f} tokens/s, {flops / score / 1e9:.1f} GFLOP/s achieved = "
            f"{100 * flops / score / peak:.0f}% of the measured {dtype} matmul peak {peak / 1e9:.0f} GFLOP/s"
        )
    if bf16.seconds:
        same16, total16, drift16 = agreement(bf16.decisions, ours.decisions)
        scoring = ours.record["wall_time_s"]["score"] / bf16.record["wall_time_s"]["score"]
        print(
            f"\nbfloat16 (native on this CPU): {workload.spread(bf16.seconds)} whole process, "
            f"{ours.median / bf16.median:.2f}x fp32's (scoring alone {scoring:.2f}x); decisions equal to "
            f"fp32 on {same16}/{total16} ({100 * same16 / total16:.1f}%), "
            f"largest score difference {drift16:.1e}"
        )
    else:
        print("\nbfloat16: skipped, this CPU has no native bfloat16 arithmetic")


if __name__ == "__main__":
    sys.exit(main())
