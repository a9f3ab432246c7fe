"""A model card's YAML metadata, and the base model it names (a DPO model's reference when asked)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from worker.engine.errors import EngineError, HubUnreachableError, InvalidSpecError
from worker.engine.hub_errors import first_line, is_network_error
from worker.engine.model_source import ModelSource


def card_metadata(source: ModelSource) -> dict[str, Any]:
    """The YAML header of the model's README.md; empty when there is no card or no header."""
    readme = source.path / "README.md"
    if not readme.is_file() and source.resolved_commit is not None:
        readme = _download_card(source) or readme
    return read_card(readme)


def read_card(readme: Path) -> dict[str, Any]:
    from huggingface_hub.repocard import metadata_load

    if not readme.is_file():
        return {}
    try:
        metadata = metadata_load(readme)
    except Exception as exc:  # a malformed YAML header fails with yaml's own exception types
        raise InvalidSpecError(f"the model card's metadata cannot be read ({first_line(exc)})") from None
    return dict(metadata or {})


def base_model_of(card: Mapping[str, Any], model: str) -> str:
    """The one base model the card names; an error in words when it names none or several."""
    value = card.get("base_model")
    names = [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []
    names = [str(name).strip() for name in names if str(name).strip()]
    if not names:
        raise InvalidSpecError(
            f"{model}: the model card names no base_model, so the DPO reference cannot be taken from it; "
            "name the reference model instead"
        )
    if len(names) > 1:
        raise InvalidSpecError(
            f"{model}: the model card names several base models ({', '.join(names[:3])}); "
            "name the reference model instead"
        )
    return names[0]


def _download_card(source: ModelSource) -> Path | None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return Path(
            hf_hub_download(source.model, "README.md", revision=source.resolved_commit or source.revision)
        )
    except EntryNotFoundError:
        return None
    except EngineError:
        raise
    except Exception as exc:
        if is_network_error(exc):
            raise HubUnreachableError(f"could not read the model card of {source.model}") from None
        raise
