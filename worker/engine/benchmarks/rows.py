"""Checks shared by the benchmarks' row parsers: each failure is a ``DatasetError`` naming the row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from worker.engine.errors import DatasetError
from worker.engine.types import Message


def require_columns(row: object, columns: Sequence[str], where: str) -> Mapping[str, Any]:
    if not isinstance(row, Mapping):
        raise DatasetError(f"{where}: expected an object with columns {', '.join(columns)}")
    missing = [column for column in columns if column not in row]
    if missing:
        raise DatasetError(f"{where}: missing column(s) {', '.join(missing)}")
    return row


def text(row: Mapping[str, Any], column: str, where: str) -> str:
    value = row[column]
    if not isinstance(value, str):
        raise DatasetError(f"{where}: column {column!r} must be a string, found {type_name(value)}")
    return value


def text_list(row: Mapping[str, Any], column: str, where: str) -> tuple[str, ...]:
    value = row[column]
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise DatasetError(f"{where}: column {column!r} must be a list of strings, found {type_name(value)}")
    return tuple(value)


def integer(row: Mapping[str, Any], column: str, where: str) -> int:
    value = row[column]
    if isinstance(value, bool) or not isinstance(value, int):
        raise DatasetError(f"{where}: column {column!r} must be an integer, found {type_name(value)}")
    return value


def turns_by_position(prompt: object, where: str) -> tuple[Message, ...]:
    """A prompt given as a string or a list of ``{role, content}`` turns, roles assigned by position.

    Upstream alternates user and assistant by index whatever the rows say, and requires the last turn to be
    the user's; so does this.
    """
    if isinstance(prompt, str):
        return (("user", prompt),)
    if not isinstance(prompt, list | tuple) or not prompt:
        raise DatasetError(f"{where}: 'prompt' must be a string or a non-empty list of turns")
    turns: list[Message] = []
    for index, turn in enumerate(prompt):
        content = turn.get("content") if isinstance(turn, Mapping) else None
        if not isinstance(content, str):
            raise DatasetError(f"{where}: prompt turn {index + 1} has no text 'content'")
        turns.append(("user" if index % 2 == 0 else "assistant", content))
    if turns[-1][0] != "user":
        raise DatasetError(f"{where}: the prompt must end with a user turn (it has {len(turns)} turns)")
    return tuple(turns)


def type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__
