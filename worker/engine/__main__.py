"""``python -m worker.engine evaluate|aggregate``: the engine's commands without the web app.

The same modules as ``rewardboard evaluate`` and ``rewardboard aggregate``; only the command's own module is
imported, so ``aggregate`` never loads torch and ``evaluate`` loads it when the model is built.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Final

COMMANDS: Final = {
    "evaluate": ("worker.engine.cli_evaluate", "score a reward model on a benchmark"),
    "aggregate": ("worker.engine.cli_aggregate", "recompute sections and Score from a results file"),
}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m worker.engine", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    chosen = next((word for word in arguments if not word.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module_name).add_arguments(subparser, name)
    args = parser.parse_args(arguments)
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
