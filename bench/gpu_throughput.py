"""GPU throughput of the engine: an 8B-shaped random-init Llama classifier over the full RewardBench v1 text.

Sized for one accelerator and a 15-minute session (about 5 minutes on one H200): builds the model straight
on the GPU in bfloat16 (Llama-3-8B shapes: 32 layers, hidden 4096, MLP 14336, 32 heads, 8 KV heads, vocab
128256) with a BPE tokenizer trained on the data, then scores every text of every pair through the engine's
own ``ClassifierAdapter``:

1. the engine's default (``--attention auto``: packed varlen where there is a kernel, budget from free
   memory);
2. padded, length-sorted batches (``sdpa``) at the same budget, for the padding's cost;
3. fp32 against bf16 on the first ``--fp32-check-pairs`` pairs: the share of decisions that agree.

For each: wall time for all pairs, tokens/s, achieved TFLOP/s, model FLOP utilisation (MFU) against the
GPU's measured bf16 matrix-product peak and against ``--datasheet-tflops``, and peak GPU memory. A phase that
fails is reported and the next one still runs; ``--out`` gets everything as JSON.

``--model gemma2-27b`` scores a Gemma-2-27B-shaped classifier (Skywork-Reward-Gemma-2-27B, QRM-Gemma-2-27B:
46 layers, hidden 4608, soft-capped attention) in bfloat16 on one device instead, through the attention the
engine picks for it (flash-attn 2 when installed, else the packed path with the capping computed text by
text). Every run first prints which shapes of the published boards' top 20 fit this device alone, by the
estimate that routes submissions (weights at 16 bits, activations or a judge's KV cache, the overhead).

``--dry-run`` runs the same code on the CPU with a tiny model and the committed data sample (CI runs it).

    python3 bench/gpu_throughput.py --data PATH/rewardbench_v1_filtered.jsonl --out gpu.json
    python3 bench/gpu_throughput.py --model gemma2-27b --skip-padded --fp32-check-pairs 0 --out gemma.json
    python bench/gpu_throughput.py --dry-run [--model gemma2-27b]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import workload

from tests.support import model_shapes
from tests.support.model_shapes import config_fields
from worker.engine.adapters.classifier import ClassifierAdapter
from worker.engine.attention import VARLEN, pick_attention, register_varlen_attention
from worker.engine.benchmarks import get_benchmark
from worker.engine.dataset import load_dataset
from worker.engine.model_source import ModelSource
from worker.engine.token_budget import default_budget
from worker.engine.types import Example

V1 = get_benchmark("rewardbench-v1")
SAMPLE = workload.REPO / "tests" / "data" / "rewardbench_sample.jsonl"
EIGHT_B: dict[str, Any] = {
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "max_position_embeddings": 8192,
    "rope_theta": 500000.0,
}
GEMMA2_27B: dict[str, Any] = config_fields(model_shapes.GEMMA2_27B)
TINY: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1024,
    "max_position_embeddings": 4096,
}
TINY_GEMMA2: dict[str, Any] = {**TINY, "head_dim": 16, "query_pre_attn_scalar": 16}
# --model: (config class name, full shape, dry-run shape)
MODELS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "llama-8b": ("LlamaConfig", EIGHT_B, TINY),
    "gemma2-27b": ("Gemma2Config", GEMMA2_27B, TINY_GEMMA2),
}
_LLAMA_70B: dict[str, Any] = model_shapes.LLAMA_70B
_70B: int = model_shapes.LLAMA_70B_PARAMETERS
_QWEN_72B: dict[str, Any] = {**_LLAMA_70B, "vocab_size": 152064, "max_position_embeddings": 32768}
_NEMOTRON_340B: dict[str, Any] = {
    "hidden_size": 18432,
    "num_hidden_layers": 96,
    "num_attention_heads": 96,
    "num_key_value_heads": 8,
    "head_dim": 192,
    "vocab_size": 256000,
    "max_position_embeddings": 4096,
}
# The shapes at the top of the published v1 and RewardBench 2 boards: (example, kind, parameters, config).
TOP_SHAPES: tuple[tuple[str, str, int, dict[str, Any]], ...] = (
    ("Skywork-Reward-V2-Llama-3.1-8B", "classifier", 7_504_928_768, {**EIGHT_B, "head_dim": 128}),
    ("Skywork-Reward-Gemma-2-27B / QRM / LDL", "classifier", model_shapes.GEMMA2_27B_PARAMETERS, GEMMA2_27B),
    ("INF-ORM-Llama3.1-70B / Llama-3.1-70B-RM-RB2", "classifier", _70B, _LLAMA_70B),
    ("Skywork-Critic / SFR-Judge / TextEval 70B", "judge-pairwise", _70B, _LLAMA_70B),
    ("LMUnit-qwen2.5-72b", "judge-pairwise", 72_706_203_648, _QWEN_72B),
    ("a 70B DPO model with its 70B reference", "dpo", _70B, _LLAMA_70B),
    ("Nemotron-4-340B-Reward", "classifier", 340_000_000_000, _NEMOTRON_340B),
)


def build_adapter(
    shape: dict[str, Any],
    tokenizer: Any,
    device: torch.device,
    dtype: torch.dtype,
    attention: str,
    config_class: str = "LlamaConfig",
) -> ClassifierAdapter:
    """The random-init classifier built on ``device`` in ``dtype``, wrapped in the engine's adapter."""
    import transformers
    from transformers import AutoModelForSequenceClassification

    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    config = getattr(transformers, config_class)(**shape, **ids, pad_token_id=tokenizer.eos_token_id)
    config.num_labels = 1
    choice = pick_attention(attention, device, dtype, config, 2048)
    if choice.name == VARLEN:
        register_varlen_attention()
    config._attn_implementation = choice.hf_implementation
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with device:
            model = AutoModelForSequenceClassification.from_config(config).eval()
    finally:
        torch.set_default_dtype(previous)
    source = ModelSource(Path("."), f"random-init-{config.model_type}", None, None, None)
    return ClassifierAdapter(model, tokenizer, source, attention=choice)


def measure(
    name: str,
    adapter: ClassifierAdapter,
    examples: Sequence[Example],
    flops: float,
    tokens: int,
    peak_flops: float,
    datasheet: float | None,
) -> dict[str, Any]:
    device = adapter.device
    _reset_peak_memory(device)
    adapter.score_examples(examples[:2])  # warm-up: kernels chosen, allocator primed
    _sync(device)
    started = time.perf_counter()
    scores = adapter.score_examples(examples)
    _sync(device)
    seconds = time.perf_counter() - started
    achieved = flops / seconds
    figures: dict[str, Any] = {
        "phase": name,
        "attention": adapter.attention.name,
        "dtype": str(adapter.dtype).removeprefix("torch."),
        "batch_tokens": adapter.batch_tokens,
        "batch_tokens_rule": adapter.budget.rule,
        "pairs": len(examples),
        "seconds_all_pairs": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds),
        "achieved_tflops": round(achieved / 1e12, 3),
        "mfu_vs_measured_peak": round(achieved / peak_flops, 4),
        "mfu_vs_datasheet": round(achieved * 1e-12 / datasheet, 4) if datasheet else None,
        "peak_memory_gib": round(_peak_memory(device) / 2**30, 2),
    }
    figures["_scores"] = scores
    return figures


def fits_one_device(device_gib: float) -> list[dict[str, Any]]:
    """For each top-20 shape: the memory a run needs (routing estimate), and whether this device holds it."""
    from worker.engine.kinds import get_kind
    from worker.engine.model_kinds.base import ModelMetadata

    rows = []
    for example, kind_key, parameters, shape in TOP_SHAPES:
        kind = get_kind(kind_key)
        model = ModelMetadata(example, shape, None, None, parameters)
        related = {"reference": model} if kind_key == "dpo" else {}
        settings = kind.parse_settings({"reference_model": "org/ref"} if kind_key == "dpo" else {})
        needed = kind.memory_bytes(model, related, settings, None) or 0
        rows.append(
            {
                "model": example,
                "kind": kind_key,
                "parameters_b": round(parameters / 1e9, 1),
                "needs_gib": round(needed / 2**30, 1),
                "fits_this_device": needed <= device_gib * 2**30,
            }
        )
    return rows


def decisions(scores: Sequence[Sequence[float | None]]) -> list[bool]:
    return [bool(s[0] is not None and s[1] is not None and s[0] > s[1]) for s in scores]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="v1 JSONL (default: the full set; dry run: the sample)")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny model, the committed sample")
    parser.add_argument("--model", choices=sorted(MODELS), default="llama-8b", help="shape to score")
    parser.add_argument("--attention", default="auto", help="the main phase's attention (default: auto)")
    parser.add_argument("--skip-padded", action="store_true", help="leave out the padded sdpa phase")
    parser.add_argument("--fp32-check-pairs", type=int, default=400, help="pairs checked in fp32 (0: none)")
    parser.add_argument("--tokenizer-vocab", type=int, default=32000)
    parser.add_argument("--datasheet-tflops", type=float, default=989.0, help="dense bf16 (H100/H200 SXM)")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)

    dry = args.dry_run
    if not dry and not torch.cuda.is_available():
        parser.error("no CUDA GPU here; use --dry-run to exercise the script on a CPU")
    device = torch.device("cpu" if dry else "cuda")
    config_class, full_shape, tiny_shape = MODELS[args.model]
    shape, vocab = (tiny_shape, 512) if dry else (full_shape, args.tokenizer_vocab)
    data = args.data or (SAMPLE if dry else workload.DEFAULT_DATA)
    report: dict[str, Any] = {
        "device": _device_name(device),
        "torch": torch.__version__,
        "model": args.model,
        "phases": [],
    }
    started = time.perf_counter()
    device_gib = _device_memory(device) / 2**30
    report["fits_one_device"] = fits_one_device(device_gib)
    print(f"top-20 shapes on one {report['device']} ({device_gib:.1f} GiB):", flush=True)
    for row in report["fits_one_device"]:
        verdict = "fits" if row["fits_this_device"] else "needs more than one"
        print(f"  {row['model']} ({row['kind']}, {row['parameters_b']}B): {row['needs_gib']} GiB, {verdict}")

    from tests.support.tiny_models import PLAIN_TEMPLATE, build_tokenizer

    examples = list(load_dataset(V1, str(data)).examples)
    texts = workload.training_texts(data, every=1)
    tokenizer = build_tokenizer(vocab_size=vocab, chat_template=PLAIN_TEMPLATE, corpus=texts)
    report["tokenizer_s"] = round(time.perf_counter() - started, 1)
    dtype = torch.bfloat16
    peak = workload.matmul_peak("bfloat16", device.type, size=1024 if dry else 8192)
    report["measured_bf16_peak_tflops"] = round(peak / 1e12, 2)
    datasheet = None if dry else args.datasheet_tflops

    built = time.perf_counter()
    adapter = build_adapter(shape, tokenizer, device, dtype, args.attention, config_class)
    _sync(device)
    report["model_build_s"] = round(time.perf_counter() - built, 1)
    report["parameters_b"] = round(sum(p.numel() for p in adapter.model.parameters()) / 1e9, 3)
    lengths = [len(item) for item in adapter.encode_examples(examples)]
    tokens, flops = sum(lengths), workload.model_flops(adapter.model.config, lengths)
    report.update(pairs=len(examples), texts=len(lengths), tokens=tokens, model_tflop=round(flops / 1e12, 2))
    _print_header(report)

    def engine_default() -> dict[str, Any]:
        return measure("engine default", adapter, examples, flops, tokens, peak, datasheet)

    main_scores = _phase(report, "engine default", engine_default)
    if not args.skip_padded:

        def padded() -> dict[str, Any]:
            from worker.engine.attention import ATTENTION, attention_refusal

            config = adapter.model.config
            name = next(  # SDPA where the architecture has it (not Gemma-2), else eager
                choice
                for choice in ("sdpa", "eager")
                if attention_refusal(ATTENTION[choice], device, dtype, config, 2048) is None
            )
            adapter.attention = ATTENTION[name]
            adapter.model.set_attn_implementation(name)
            return measure(f"padded {name}", adapter, examples, flops, tokens, peak, datasheet)

        _phase(report, "padded", padded)
    if args.fp32_check_pairs > 0 and main_scores is not None:
        subset = examples[: args.fp32_check_pairs]

        def fp32_check() -> dict[str, Any]:
            adapter.model.float()
            adapter.dtype = torch.float32
            adapter.attention = pick_attention("auto", device, torch.float32, adapter.model.config, 2048)
            adapter.model.set_attn_implementation(adapter.attention.hf_implementation)
            adapter.budget = default_budget(device, adapter.model.config, torch.float32)
            reference = decisions(adapter.score_examples(subset))
            ours = decisions(main_scores[: len(subset)])
            same = sum(a == b for a, b in zip(ours, reference, strict=True))
            share = round(same / len(subset), 4)
            return {"phase": "fp32 check", "pairs": len(subset), "decisions_equal": same, "share": share}

        _phase(report, "fp32 check", fp32_check)
    report["total_s"] = round(time.perf_counter() - started, 1)
    print(f"total {report['total_s']} s")
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if all("error" not in phase for phase in report["phases"]) else 1


def _phase(report: dict[str, Any], name: str, work: Callable[[], dict[str, Any]]) -> Any:
    try:
        figures = work()
    except Exception as exc:  # report and go on: the session's other phases still count
        traceback.print_exc()
        figures = {"phase": name, "error": f"{type(exc).__name__}: {exc}"}
    scores = figures.pop("_scores", None)
    report["phases"].append(figures)
    print(json.dumps(figures), flush=True)
    return scores


def _print_header(report: dict[str, Any]) -> None:
    print(
        f"{report['device']}, torch {report['torch']}: {report['parameters_b']}B parameters, "
        f"{report['pairs']} pairs, {report['texts']} texts, {report['tokens']} tokens, "
        f"{report['model_tflop']} TFLOP a pass; measured bf16 peak "
        f"{report['measured_bf16_peak_tflops']} TFLOP/s; tokenizer {report['tokenizer_s']} s, "
        f"model build {report['model_build_s']} s",
        flush=True,
    )


def _device_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    import os

    return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def _device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the process's peak RSS on Linux


if __name__ == "__main__":
    sys.exit(main())
