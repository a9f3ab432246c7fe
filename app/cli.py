"""The ``rewardboard`` command. Each subcommand lives in the module that owns its work."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, help). A module exposes add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "evaluate": ("worker.engine.cli_evaluate", "score a reward model on RewardBench v1"),
    "aggregate": ("worker.engine.cli_aggregate", "recompute sections and Score from a results file"),
    "import-results": ("app.commands.import_results", "load result files into the database"),
    "up": ("app.commands.service", "run web and worker together on the embedded default"),
    "serve": ("app.commands.service", "run the web server"),
    "worker": ("app.commands.service", "run a Celery evaluation worker"),
    "db": ("app.commands.database", "database schema commands (upgrade, downgrade)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rewardboard", description="RewardBoard: a reward model leaderboard."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        subparser.set_defaults(_module=module_name)
        module = importlib.import_module(module_name)
        module.add_arguments(subparser, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(args._module)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
