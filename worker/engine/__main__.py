"""``python -m worker.engine evaluate|aggregate``: the engine's commands without the web app.

The same modules as ``rewardboard evaluate`` and ``rewardboard aggregate``; only the command's own module is
imported, so ``aggregate`` never loads torch and ``evaluate`` loads it when the model is built.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Final

from worker.engine.command_table import run_command

COMMANDS: Final = {
    "evaluate": ("worker.engine.cli_evaluate", "score a reward model on a benchmark"),
    "aggregate": ("worker.engine.cli_aggregate", "recompute sections and Score from a results file"),
}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    return run_command("python -m worker.engine", __doc__.splitlines()[0], COMMANDS, arguments)


if __name__ == "__main__":
    sys.exit(main())
