"""What the submission checks need from the Hugging Face Hub, behind one small client.

Only metadata is fetched here: model info, safetensors parameter counts, ``config.json`` and the tokenizer
files. Weights are never downloaded by the web process. huggingface_hub and transformers are imported lazily,
so that importing the web app stays cheap and the endpoint can be chosen per client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Files a config or tokenizer may need; never weights.
METADATA_FILES: frozenset[str] = frozenset(
    {
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.json",
        "vocab.txt",
        "merges.txt",
        "tokenizer.model",
        "spiece.model",
        "sentencepiece.bpe.model",
        "chat_template.jinja",
        "chat_template.json",
    }
)
SAFETENSORS_SUFFIX = ".safetensors"
CARD_FILE = "README.md"
PICKLE_SUFFIXES: tuple[str, ...] = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


class HubError(Exception):
    """A Hub answer that stops a check; ``message`` is written for the submitter."""

    kind = "hub_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class HubNotFoundError(HubError):
    kind = "not_found"


class HubGatedError(HubError):
    kind = "gated"


class HubUnreachableError(HubError):
    kind = "hub_unreachable"


@dataclass(frozen=True, slots=True)
class HubModel:
    repo_id: str
    revision: str
    sha: str
    filenames: tuple[str, ...]
    parameter_count: int | None
    gated: bool

    def has_safetensors(self) -> bool:
        return any(name.endswith(SAFETENSORS_SUFFIX) for name in self.filenames)

    def pickle_files(self) -> list[str]:
        return [name for name in self.filenames if name.endswith(PICKLE_SUFFIXES)]


class HubClient:
    """Reads public model metadata from the Hub at ``endpoint`` (default: huggingface_hub's HF_ENDPOINT)."""

    def __init__(
        self, endpoint: str | None = None, *, cache_dir: Path | None = None, timeout: float = 15.0
    ) -> None:
        self._endpoint = endpoint
        self.cache_dir = cache_dir
        self.timeout = timeout

    @property
    def endpoint(self) -> str:
        if self._endpoint:
            return self._endpoint.rstrip("/")
        from huggingface_hub import constants

        return constants.ENDPOINT

    def model_info(self, repo_id: str, revision: str, *, timeout: float | None = None) -> HubModel:
        """The model at ``revision``, pinned to its commit sha. Anonymous: private repos read as missing.

        ``repo_id`` of the answer is the Hub's own spelling of the id (Hub ids are case-insensitive), so
        every casing a submitter types names one model here.
        """
        from huggingface_hub import HfApi

        api = HfApi(endpoint=self.endpoint, token=False)
        with _hub_errors(repo_id, revision):
            info = api.model_info(repo_id, revision=revision, timeout=timeout or self.timeout)
        if not info.sha:
            raise HubUnreachableError("The Hub did not say which commit this revision points to.")
        filenames = tuple(sibling.rfilename for sibling in info.siblings or [])
        count = info.safetensors.total if info.safetensors is not None else None
        canonical = info.id if info.id and info.id.lower() == repo_id.lower() else repo_id
        return HubModel(
            repo_id=canonical,
            revision=revision,
            sha=info.sha,
            filenames=filenames,
            parameter_count=count,
            gated=bool(info.gated),
        )

    def safetensors_parameter_count(self, repo_id: str, sha: str, *, timeout: float | None = None) -> int:
        """Parameters counted from the safetensors headers (HTTP range reads, no weights downloaded)."""
        from huggingface_hub import HfApi

        api = HfApi(endpoint=self.endpoint, token=False)
        with _hub_errors(repo_id, sha):
            metadata = api.get_safetensors_metadata(repo_id, revision=sha, timeout=timeout or self.timeout)
        return sum(metadata.parameter_count.values())

    def download_metadata(self, model: HubModel, *, timeout: float | None = None) -> Path:
        """Download config and tokenizer files of the pinned commit; return the local snapshot folder."""
        wanted = [name for name in model.filenames if name in METADATA_FILES]
        folder: Path | None = None
        for filename in wanted:
            folder = self._download(model, filename, timeout).parent
        if folder is None:
            raise HubNotFoundError("The repository has no config.json or tokenizer files.")
        return folder

    def card_metadata(self, model: HubModel, *, timeout: float | None = None) -> dict[str, Any]:
        """The YAML metadata of the model card (README.md) at the pinned commit; empty without a card."""
        from huggingface_hub.repocard import metadata_load

        if CARD_FILE not in model.filenames:
            return {}
        path = self._download(model, CARD_FILE, timeout)
        try:
            return dict(metadata_load(path) or {})
        except Exception as error:  # a malformed YAML header fails with yaml's own exception types
            raise HubError(f"The model card of {model.repo_id} has unreadable metadata ({error}).") from None

    def _download(self, model: HubModel, filename: str, timeout: float | None) -> Path:
        from huggingface_hub import hf_hub_download

        with _hub_errors(model.repo_id, model.sha):
            path = hf_hub_download(
                model.repo_id,
                filename,
                revision=model.sha,
                endpoint=self.endpoint,
                cache_dir=self.cache_dir,
                token=False,
                etag_timeout=timeout or self.timeout,
            )
        return Path(path)


def read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


class _hub_errors:
    """Turn huggingface_hub and network exceptions into HubError subclasses with readable messages."""

    def __init__(self, repo_id: str, revision: str) -> None:
        self.repo_id = repo_id
        self.revision = revision

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, HubError):
            return
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            HFValidationError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        if isinstance(exc, HFValidationError):
            raise HubNotFoundError(f"{self.repo_id!r} is not a valid Hub model id.") from exc
        if isinstance(exc, GatedRepoError):
            raise HubGatedError(
                f"{self.repo_id} is gated; the evaluation workers cannot accept its terms. "
                "Submit an ungated copy."
            ) from exc
        if isinstance(exc, RevisionNotFoundError):
            raise HubNotFoundError(f"{self.repo_id} has no revision {self.revision!r}.") from exc
        if isinstance(exc, RepositoryNotFoundError):
            raise HubNotFoundError(
                f"{self.repo_id} was not found on the Hub, or it is private. "
                "Only public models can be submitted."
            ) from exc
        if isinstance(exc, HfHubHTTPError):
            status = exc.response.status_code if exc.response is not None else None
            if status is not None and status < 500 and status != 429:
                raise HubNotFoundError(f"The Hub refused to serve {self.repo_id} (HTTP {status}).") from exc
            raise HubUnreachableError("The Hub is not answering right now; please try again later.") from exc
        if isinstance(exc, OSError | TimeoutError) or type(exc).__module__.startswith(
            ("httpx", "httpcore", "httpx2")
        ):
            raise HubUnreachableError("The Hub could not be reached; please try again later.") from exc
        return
