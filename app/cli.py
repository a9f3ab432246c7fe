"""The ``rewardboard`` command. Each subcommand lives in the module that owns its work; only the chosen
command's module is imported, so ``rewardboard evaluate`` starts without the web app."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from worker.engine.__main__ import COMMANDS as ENGINE_COMMANDS
from worker.engine.command_table import run_command

# name -> (module, help). A module exposes add_arguments(parser, name) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    **ENGINE_COMMANDS,
    "import-results": ("app.commands.import_results", "load result files into the database"),
    "up": ("app.commands.service", "run web and worker together on the embedded default"),
    "serve": ("app.commands.service", "run the web server"),
    "worker": ("app.commands.service", "run a Celery evaluation worker"),
    "db": ("app.commands.database", "database schema commands (upgrade, downgrade)"),
    "snapshot": ("app.commands.snapshot", "make today's data snapshot of each benchmark (Parquet)"),
}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    return run_command("rewardboard", "RewardBoard: a reward model leaderboard.", COMMANDS, arguments)


if __name__ == "__main__":
    sys.exit(main())
