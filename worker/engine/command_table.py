"""A command line made of subcommands, each in its own module, importing only the module it runs.

A module named in the table exposes ``add_arguments(parser, name)`` and ``run(args) -> int``. Only the
chosen command's module is imported (all of them for ``--help``), so a light command stays light.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Mapping, Sequence

# name -> (module, help)
CommandTable = Mapping[str, tuple[str, str]]


def run_command(prog: str, description: str, commands: CommandTable, argv: Sequence[str]) -> int:
    arguments = list(argv)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    subparsers = parser.add_subparsers(dest="command", required=True)
    chosen = next((word for word in arguments if not word.startswith("-")), None)
    for name, (module_name, help_text) in commands.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        if chosen is None or name == chosen:
            importlib.import_module(module_name).add_arguments(subparser, name)
    args = parser.parse_args(arguments)
    module = importlib.import_module(commands[args.command][0])
    return int(module.run(args) or 0)
