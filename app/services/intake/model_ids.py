"""What counts as a model id here: a Hub repo id (org/name), checked with huggingface_hub's own rules."""

from __future__ import annotations

import re
from typing import Final

# API judges are published under vendor names that have no repository on the Hub.
_API_ORGS: Final = frozenset({"openai", "anthropic", "poll", "cohere"})
_ALLOWED: Final = re.compile(r"[A-Za-z0-9_.\-/]")
_MAX_PART: Final = 96


def invalid_hub_id(model: str) -> str | None:
    """Why ``model`` is not a Hub model id of the form org/name, in this board's words, or None when it is
    one. huggingface_hub's own rules are checked last, so nothing passes here that the Hub refuses."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if any(ord(character) < 32 or ord(character) == 127 for character in model):
        return "contains control characters"
    not_an_id = "is not a valid Hub model id"
    wrong = next((character for character in model if not _ALLOWED.match(character)), None)
    if wrong is not None:
        return f"{not_an_id}: {wrong!r} is not allowed; use letters, digits, '-', '_' and '.'"
    parts = model.split("/")
    if len(parts) > 2 or any(not part.strip(".") for part in parts):
        return f"{not_an_id}: use the form 'org/name', one owner and one model name"
    for part in parts:
        if len(part) > _MAX_PART:
            return f"{not_an_id}: the owner and the name have at most {_MAX_PART} characters each"
        if part[0] in "-." or part[-1] in "-.":
            return f"{not_an_id}: {part!r} starts or ends with '-' or '.'"
        if "--" in part or ".." in part:
            return f"{not_an_id}: {part!r} contains '--' or '..'"
    if model.endswith(".git"):
        return f"{not_an_id}: it ends in '.git'"
    if len(parts) == 1:
        return "is not a Hub id of the form org/name"
    try:
        validate_repo_id(model)
    except HFValidationError:
        return not_an_id
    return None


def is_api_model(name: str) -> bool:
    """A published name with no Hub repository behind it: an API model or an ensemble of them."""
    org, slash, model = name.partition("/")
    if not slash:
        return True
    lowered = org.lower()
    if lowered in _API_ORGS:
        return True
    return (lowered == "google" and model.lower().startswith("gemini")) or (
        lowered == "meta-llama" and model.endswith("-Turbo")
    )
