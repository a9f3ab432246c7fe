"""``rewardboard snapshot [--benchmark B]``: make today's data snapshot now (for operators and cron)."""

from __future__ import annotations

import argparse
import sys

from app.config import get_settings
from app.db.session import session_scope
from app.errors import DomainError
from app.services.operations.snapshots import make_and_prune, remove_directories
from worker.engine.benchmarks import BENCHMARKS

OPERATOR = "operator"


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument(
        "--benchmark",
        choices=tuple(BENCHMARKS),
        action="append",
        help="the benchmark to snapshot (repeat for several; default: each)",
    )


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    status = 0
    for benchmark in args.benchmark or list(BENCHMARKS):
        try:
            # One unit of work per benchmark: one that fails leaves the others' snapshots made.
            with session_scope() as session:
                outcome = make_and_prune(session, settings, benchmark, created_by=OPERATOR)
                files = outcome.snapshot.manifest["files"]
                line = (
                    f"snapshot {benchmark} {outcome.snapshot.snapshot_date}: "
                    f"{files['results']['rows']} results, {files['examples']['rows']} examples"
                )
        except DomainError as error:
            print(f"snapshot: {error.message}", file=sys.stderr)
            status = 1
            continue
        remove_directories(outcome.expired)
        removed = (
            f"; removed {len(outcome.expired)} older than {settings.snapshot_keep_days} days"
            if outcome.expired
            else ""
        )
        print(line + removed)
    return status
