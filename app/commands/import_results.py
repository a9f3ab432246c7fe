"""``rewardboard import-results PATH... [--per-example FILE.jsonl] [--dataset FILE] [--board]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.db.session import session_scope
from app.services.results.importer import (
    ImportOutcome,
    ResultsImportError,
    import_results_file,
    load_benchmark_texts,
)
from app.services.results.published_boards import import_board
from worker.engine.benchmarks import BENCHMARKS, DEFAULT_BENCHMARK


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="results files: upstream eval-set JSON ({model, model_type, chat_template, <subset>: value}) "
        "or this project's results.json; with --board, published leaderboard files (<benchmark>.jsonl)",
    )
    parser.add_argument(
        "--per-example",
        type=Path,
        metavar="FILE.jsonl",
        help="per-example scores of the (single) results file: JSON lines of subset, id and scores "
        "(or score_chosen and score_rejected)",
    )
    parser.add_argument(
        "--dataset",
        type=Path,
        metavar="FILE",
        help="a local copy of the benchmark's data (JSONL/parquet): texts for the example browser",
    )
    parser.add_argument(
        "--benchmark",
        choices=tuple(BENCHMARKS),
        default=DEFAULT_BENCHMARK,
        help="the benchmark of --dataset (default: %(default)s)",
    )
    parser.add_argument("--board", action="store_true", help="the paths are published leaderboard files")


def run(args: argparse.Namespace) -> int:
    if args.per_example and len(args.paths) != 1:
        print("import-results: --per-example goes with exactly one results file", file=sys.stderr)
        return 2
    try:
        texts = load_benchmark_texts(args.benchmark, args.dataset) if args.dataset else []
        # One transaction for all files: a bad file leaves the database as it was.
        with session_scope() as session:
            outcomes: list[ImportOutcome] = []
            for path in args.paths:
                if args.board:
                    outcomes += import_board(session, path)
                else:
                    outcomes.append(
                        import_results_file(session, path, per_example=args.per_example, texts=texts)
                    )
    except ResultsImportError as exc:
        print(f"import-results: {exc.message}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        score = "—" if outcome.score is None else f"{outcome.score * 100:.1f}"
        examples = f", {outcome.examples} examples" if outcome.examples else ""
        current = "" if outcome.is_current else " (kept; not the model's current result)"
        print(
            f"imported {outcome.path.name}: {outcome.hub_id} Score {score}{examples} "
            f"-> result {outcome.result_id}{current}"
        )
    return 0
