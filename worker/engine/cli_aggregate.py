"""``rewardboard aggregate``: sections and Score recomputed from a file of per-subset accuracies, as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from worker.engine.results import ResultsFormatError, load_results_file
from worker.engine.scoring import CURRENT_SCORING_VERSION, SCORING_VERSIONS


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("results", type=Path, help="results.json or an upstream eval-set file")
    parser.add_argument(
        "--scoring-version",
        choices=tuple(SCORING_VERSIONS),
        default=CURRENT_SCORING_VERSION,
        help=f"aggregation formula (default: {CURRENT_SCORING_VERSION})",
    )


def run(args: argparse.Namespace) -> int:
    try:
        result = load_results_file(args.results)
    except ResultsFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result.scoring_version = args.scoring_version
    agg = result.aggregate()
    document = {
        "model": result.model,
        "scoring_version": agg.scoring_version,
        "sections": agg.sections,
        "score": agg.score,
        "subsets": len(result.accuracies),
    }
    print(json.dumps(document, indent=2))
    return 0
