"""``rewardboard aggregate``: sections and Score recomputed from a file of per-subset values, as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from worker.engine.benchmarks.base import ScoringVersionError
from worker.engine.results import ResultsFormatError, load_results_file


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("results", type=Path, help="results.json or an upstream eval-set file")
    parser.add_argument(
        "--scoring-version",
        help="aggregation formula (default: the benchmark's current one; see /api/v1/benchmarks)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        result = load_results_file(args.results)
        agg = result.aggregate(args.scoring_version)
    except (ResultsFormatError, ScoringVersionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    document = {
        "model": result.model,
        "benchmark": result.benchmark,
        "scoring_version": agg.scoring_version,
        "sections": agg.sections,
        "score": agg.score,
        "subsets": len(result.subset_scores),
    }
    print(json.dumps(document, indent=2))
    return 0
