"""``rewardboard import-results PATH... [--per-example FILE.jsonl] [--dataset FILE]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.db.session import session_scope
from app.services.importer import (
    ResultsImportError,
    import_results_file,
    load_benchmark_texts,
)


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="results files: upstream eval-set JSON ({model, model_type, chat_template, <subset>: accuracy}) "
        "or this project's results.json",
    )
    parser.add_argument(
        "--per-example",
        type=Path,
        metavar="FILE.jsonl",
        help="per-pair scores of the (single) results file: JSON lines of subset, id, score_chosen, "
        "score_rejected, correct",
    )
    parser.add_argument(
        "--dataset",
        type=Path,
        metavar="FILE",
        help="a local RewardBench v1 JSONL/parquet file, to store prompt and responses for the pair browser",
    )


def run(args: argparse.Namespace) -> int:
    if args.per_example and len(args.paths) != 1:
        print("import-results: --per-example goes with exactly one results file", file=sys.stderr)
        return 2
    try:
        texts = load_benchmark_texts(args.dataset) if args.dataset else []
        # One transaction for all files: a bad file leaves the database as it was.
        with session_scope() as session:
            outcomes = [
                import_results_file(session, path, per_example=args.per_example, texts=texts)
                for path in args.paths
            ]
    except ResultsImportError as exc:
        print(f"import-results: {exc.message}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        score = "—" if outcome.score is None else f"{outcome.score * 100:.1f}"
        pairs = f", {outcome.pairs} pairs" if outcome.pairs else ""
        current = "" if outcome.is_current else " (kept; not the model's current result)"
        print(
            f"imported {outcome.path.name}: {outcome.hub_id} Score {score}{pairs} "
            f"-> result {outcome.result_id}{current}"
        )
    return 0
