"""What counts as a model id here: a Hub repo id (org/name), checked with huggingface_hub's own rules."""

from __future__ import annotations

from typing import Final

# API judges are published under vendor names that have no repository on the Hub.
_API_ORGS: Final = frozenset({"openai", "anthropic", "poll", "cohere"})


def invalid_hub_id(model: str) -> str | None:
    """Why ``model`` is not a Hub model id of the form org/name, or None when it is one."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if any(ord(character) < 32 or ord(character) == 127 for character in model):
        return "contains control characters"
    try:
        validate_repo_id(model)
    except HFValidationError as error:
        return f"is not a valid Hub model id ({str(error).splitlines()[0]})"
    if "/" not in model:
        return "is not a Hub id of the form org/name"
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
