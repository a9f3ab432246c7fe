"""``rewardboard evaluate``: score a reward model on a benchmark and write results.json."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any, TextIO

from worker.engine.benchmarks import BENCHMARKS, DEFAULT_BENCHMARK
from worker.engine.cli_settings import add_kind_setting_arguments, kind_settings_from_args
from worker.engine.errors import EngineError
from worker.engine.formatting import TEMPLATE_CHOICES
from worker.engine.kinds import evaluable_kinds, get_kind
from worker.engine.outputs import write_per_example, write_results
from worker.engine.results import BenchmarkResult
from worker.engine.spec import ATTENTION_CHOICES, DEVICE_CHOICES, DTYPE_CHOICES, EvaluationSpec

# The judges' generation backends (those of worker.engine.adapters.judge, kept here so the command line
# needs no torch) and the variable the worker and the command line read the default from.
GENERATION_BACKENDS = ("auto", "transformers", "vllm")
BACKEND_ENV = "EVAL_GENERATION_BACKEND"


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("model", help="Hub model id (org/name) or a local model directory")
    parser.add_argument("--revision", help="branch, tag or commit on the Hub (default: main)")
    parser.add_argument(
        "--benchmark", choices=tuple(BENCHMARKS), default=DEFAULT_BENCHMARK, help="default: %(default)s"
    )
    parser.add_argument(
        "--model-type",
        choices=evaluable_kinds(),
        default="classifier",
        help="kind of reward model (default: %(default)s)",
    )
    parser.add_argument(
        "--dataset",
        help="local .jsonl/.parquet file or directory, or a Hub dataset id[@revision] "
        "(default: the benchmark's dataset at its pinned revision)",
    )
    parser.add_argument(
        "--extra-part",
        action="append",
        default=[],
        type=_part,
        metavar="NAME[=SOURCE]",
        help="add an optional data part (e.g. prior-sets), from SOURCE or its pinned Hub dataset",
    )
    parser.add_argument("--subsets", type=_subset_list, help="comma-separated subset names (default: all)")
    parser.add_argument(
        "--limit-per-subset", type=_positive_int, metavar="N", help="seeded sample of N rows a subset"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for --limit-per-subset and for a judge's answer order (default: 0)",
    )
    parser.add_argument(
        "--max-length",
        type=_positive_int,
        default=None,
        metavar="N",
        help="tokens kept (default: the benchmark's, 2048): v1 cuts the start, v2 the tokenizer's side "
        "(usually the end); judges: tokens a prompt and its answer may use (default: the model's context)",
    )
    parser.add_argument(
        "--batch-tokens",
        type=_positive_int,
        metavar="N",
        help="tokens a batch (padded or packed); default: sized to the CPU cache or the free GPU memory",
    )
    parser.add_argument(
        "--dtype",
        choices=DTYPE_CHOICES,
        default="auto",
        help="auto: bfloat16 on a GPU, float32 on a CPU (bfloat16 there only where the CPU has it natively)",
    )
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument(
        "--attention",
        choices=ATTENTION_CHOICES,
        default="auto",
        help="auto: varlen (packed) on a CPU; on a GPU flash_attention_2 when installed, else varlen/sdpa",
    )
    parser.add_argument(
        "--shards",
        type=_positive_int,
        metavar="N",
        help="split the weights over N GPUs (accelerate device map; on a CPU N parts, all on the CPU); "
        "default: one device when the weights fit on it, else every GPU",
    )
    parser.add_argument(
        "--chat-template", choices=TEMPLATE_CHOICES, default=None, help="classifiers and DPO (default: auto)"
    )
    parser.add_argument(
        "--generation-backend",
        choices=GENERATION_BACKENDS,
        default=None,
        help=f"judges: auto (vLLM on a CUDA device when installed, else transformers), transformers, or vllm "
        f"(on a GPU or, with vLLM's CPU build, a CPU); default: ${BACKEND_ENV}, else auto",
    )
    parser.add_argument(
        "--scoring-version",
        help="how subset values are computed (default: the benchmark's current one; RewardBench 2: "
        "rbv2-head, or rbv2-0.1.4 for the PyPI wheel's Ties rule)",
    )
    parser.add_argument("--cache-dir", help="where Hub weights are cached")
    parser.add_argument("--output", type=Path, metavar="FILE", help="write results.json here")
    parser.add_argument(
        "--per-example", type=Path, metavar="FILE", help="write one JSON line per example here"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_kind_setting_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from worker.engine.runner import run_evaluation

    _quiet_transformers()
    warnings.showwarning = _print_warning
    kind = get_kind(args.model_type)
    try:
        settings = kind_settings_from_args(args, kind)
        settings = kind.describe_settings(kind.parse_settings(settings))
    except (argparse.ArgumentTypeError, EngineError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    try:
        backend = generation_backend(args.generation_backend)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    spec = EvaluationSpec(
        model=args.model,
        revision=args.revision,
        model_type=args.model_type,
        kind_settings=settings,
        benchmark=args.benchmark,
        dataset=args.dataset,
        extra_parts=tuple(args.extra_part),
        subsets=args.subsets,
        limit_per_subset=args.limit_per_subset,
        seed=args.seed,
        max_length=args.max_length,
        batch_tokens=args.batch_tokens,
        dtype=args.dtype,
        device=args.device,
        attention=args.attention,
        shards=args.shards,
        generation_backend=backend,
        cache_dir=args.cache_dir,
        scoring_version=args.scoring_version,
    )
    destinations = [path for path in (args.output, args.per_example) if path is not None]
    bar = _ProgressBar(enabled=not args.no_progress)
    try:
        _check_writable(destinations)  # before the long run, not after it
        spec = pin_card_reference(spec)
        output = run_evaluation(spec, bar.update)
    except EngineError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        bar.close()
    print(summary(output.result))
    if args.output is not None:
        write_results(output.result, args.output)
        print(f"results     {args.output}")
    if args.per_example is not None:
        write_per_example(output.result.definition, output.scored, args.per_example)
        print(f"per-example {args.per_example}")
    return 0


def generation_backend(flag: str | None) -> str:
    """The judges' backend: the flag, else ``EVAL_GENERATION_BACKEND`` (as the worker reads it), else auto."""
    if flag is not None:
        return flag
    value = os.environ.get(BACKEND_ENV, "").strip() or "auto"
    if value not in GENERATION_BACKENDS:
        raise ValueError(f"{BACKEND_ENV}={value!r}: choose one of {', '.join(GENERATION_BACKENDS)}")
    return value


def pin_card_reference(spec: EvaluationSpec) -> EvaluationSpec:
    """``--ref-from-card``: the card's base model becomes the reference before the run (and is recorded)."""
    settings = dict(spec.kind_settings)
    if not settings.get("reference_from_card") or settings.get("reference_model"):
        return spec
    from dataclasses import replace

    from worker.engine.model_kinds.dpo import resolve_card_reference

    settings["reference_model"] = resolve_card_reference(spec)
    return replace(spec, kind_settings=settings)


def summary(result: BenchmarkResult) -> str:
    agg = result.aggregate()
    record = result.reproducibility
    dataset = record.get("dataset", {})
    lines = [
        f"model       {result.model} ({result.model_type}, template {result.chat_template})",
        f"benchmark   {result.definition.label}: {dataset.get('examples_evaluated', '?')} examples from "
        f"{dataset.get('id', '?')}" + _partial_note(dataset),
        f"wall time   {record.get('wall_time_s', {}).get('total', '?')} s on {record.get('device', '?')} "
        f"({record.get('dtype', '?')}, {_how_run(record)})",
    ]
    for section in result.definition.sections:
        value = agg.sections.get(section.name)
        if value is not None or section in result.definition.score_sections():
            lines.append(f"{section.name:<11} {'n/a' if value is None else f'{100 * value:.1f}'}")
    score = "n/a (needs every section)" if agg.score is None else f"{100 * agg.score:.1f}"
    lines.append(f"{'Score':<11} {score}")
    diagnostics = record.get("diagnostics")
    if isinstance(diagnostics, dict):
        lines.append("judge       " + diagnostics_line(diagnostics))
    return "\n".join(lines)


def _how_run(record: dict[str, Any]) -> str:
    generation = record.get("generation")
    if isinstance(generation, dict):  # a judge: the backend that generated its answers
        version = generation.get("vllm_version")
        return f"generation {generation.get('backend', '?')}" + (f" {version}" if version else "")
    return f"attention {record.get('attention', '?')}, {record.get('batch_tokens', '?')} tokens a batch"


def diagnostics_line(diagnostics: dict[str, Any]) -> str:
    parts = [f"{diagnostics.get('judge_answers', 0)} answers"]
    for key, label in (
        ("parse_failure_rate", "unparseable"),
        ("position_bias_rate", "position bias"),
        ("first_slot_rate", "slot A"),
        ("tie_rate", "ties"),
    ):
        value = diagnostics.get(key)
        if value is not None:
            parts.append(f"{label} {100 * value:.1f}%")
    return ", ".join(parts)


def _partial_note(dataset: dict[str, object]) -> str:
    partial = not dataset.get("complete") or dataset.get("subsets") or dataset.get("limit_per_subset")
    return " (partial: not comparable with full-benchmark scores)" if partial else ""


class _ProgressBar:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: object | None = None

    def update(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, unit="example", desc="scoring", file=sys.stderr)
        assert isinstance(self.bar, tqdm)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        close = getattr(self.bar, "close", None)
        if close is not None:
            close()


def _check_writable(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EngineError(f"cannot write {path}: {exc.strerror or exc}") from None
        if path.is_dir():
            raise EngineError(f"cannot write {path}: it is a directory")


def _print_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _quiet_transformers() -> None:
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def _subset_list(value: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated subset names")
    return names


def _part(value: str) -> tuple[str, str | None]:
    name, _, source = value.partition("=")
    if not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME or NAME=SOURCE, got {value!r}")
    return name.strip(), source.strip() or None


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return number
