"""Command-line options for every kind's settings, made from the kinds' settings types.

Each setting ``name`` of any kind becomes ``--name-with-dashes`` (booleans are flags), plus the aliases its
field lists under ``cli_aliases``. Options absent from the command line take the kind's default; an option
that the chosen kind does not have is refused. ``--seed`` is the run's seed: it also seeds a kind that has a
``seed`` setting (a judge's answer order).
"""

from __future__ import annotations

import argparse
from typing import Any

from worker.engine.kinds import KINDS
from worker.engine.model_kinds.base import ModelKind, SettingField

SHARED_WITH_RUN = frozenset({"seed"})
# Options that exist on the command line for other reasons and also set a kind's setting of that name.
_PREDEFINED = frozenset({"chat_template"})


def _fields() -> dict[str, tuple[SettingField, list[str]]]:
    fields: dict[str, tuple[SettingField, list[str]]] = {}
    for kind in KINDS.values():
        infos = kind.settings_type.model_fields
        for field in kind.settings_fields():
            if field.name in fields or field.name in SHARED_WITH_RUN:
                continue
            extra = infos[field.name].json_schema_extra
            aliases = extra.get("cli_aliases", []) if isinstance(extra, dict) else []
            names = [str(alias) for alias in aliases] if isinstance(aliases, list) else []
            fields[field.name] = (field, names)
    return fields


def add_kind_setting_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model type settings (each applies to the types that have it)")
    for name, (field, aliases) in _fields().items():
        if name in _PREDEFINED:
            continue
        flags = [f"--{name.replace('_', '-')}", *aliases]
        owners = ", ".join(key for key, kind in KINDS.items() if name in kind.settings_type.model_fields)
        help_text = f"{field.help} [{owners}]".replace("%", "%%")
        common: dict[str, Any] = {"dest": f"setting_{name}", "default": argparse.SUPPRESS, "help": help_text}
        if field.input == "checkbox":
            group.add_argument(*flags, action="store_true", **common)
        elif field.input == "select":
            group.add_argument(*flags, choices=field.choices, **common)
        else:
            value_type = int if field.input == "number" else str
            group.add_argument(*flags, type=value_type, metavar=name.upper(), **common)


def kind_settings_from_args(args: argparse.Namespace, kind: ModelKind) -> dict[str, Any]:
    """The settings the command line gives the chosen kind; an error for options of other kinds."""
    own = kind.settings_type.model_fields
    values: dict[str, Any] = {}
    for key, value in vars(args).items():
        if not key.startswith("setting_"):
            continue
        name = key.removeprefix("setting_")
        if name not in own:
            raise argparse.ArgumentTypeError(
                f"--{name.replace('_', '-')} is not a setting of model type {kind.key}"
            )
        values[name] = value
    if "chat_template" in own and getattr(args, "chat_template", None) is not None:
        values["chat_template"] = args.chat_template
    elif getattr(args, "chat_template", None) not in (None, "auto"):
        raise argparse.ArgumentTypeError(f"--chat-template is not a setting of model type {kind.key}")
    for name in SHARED_WITH_RUN & set(own):
        values[name] = getattr(args, name)
    return values
