"""Find a model's files: a local directory (hashed) or a Hub repo at a revision (resolved to a commit sha).

Hub models are checked before any weight is downloaded: the repo must exist at that revision and hold
``*.safetensors`` weights. Then only the files a sequence classifier needs are fetched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from worker.engine.errors import (
    EngineError,
    HubUnreachableError,
    InvalidModelError,
    InvalidSpecError,
    ModelNotFoundError,
)
from worker.engine.hub_errors import first_line, is_network_error
from worker.engine.model_size import model_sizes

_FETCH_PATTERNS: Final = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]


@dataclass(frozen=True, slots=True)
class ModelSource:
    """Where the model's files are and which exact version they are."""

    path: Path
    model: str
    revision: str | None
    resolved_commit: str | None
    local_hash: str | None

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "revision": self.revision,
            "resolved_commit": self.resolved_commit,
            "local_files_sha256": self.local_hash,
            "parameters": model_sizes(self.path),
        }


def resolve_model(
    model: str, revision: str | None = None, cache_dir: str | None = None, *, allow_local: bool = True
) -> ModelSource:
    """The model's files. With ``allow_local`` off, ``model`` is only ever looked up on the Hub."""
    if not allow_local:
        return _download(model, revision, cache_dir)
    local = Path(model).expanduser()
    if local.is_dir():
        if revision is not None:
            raise InvalidSpecError(f"{model}: a revision ({revision}) cannot be used with a local directory")
        _require_local_files(local)
        return ModelSource(local, model, None, None, hash_directory(local))
    if local.exists() or model.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"{model}: no such model directory")
    return _download(model, revision, cache_dir)


def hash_directory(path: Path) -> str:
    """sha256 over every file's relative path and content, in sorted path order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not _is_hidden(p, path)):
        digest.update(file.relative_to(path).as_posix().encode("utf-8") + b"\0")
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def _require_local_files(path: Path) -> None:
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"{path}: no config.json in this directory, so it is not a saved model")
    if not any(path.glob("*.safetensors")):
        raise InvalidModelError(f"{path}: no .safetensors weights (pickle .bin weights are not loaded)")


def _download(repo_id: str, revision: str | None, cache_dir: str | None) -> ModelSource:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        info = HfApi().model_info(repo_id, revision=revision)
        files = [sibling.rfilename for sibling in info.siblings or []]
        if not any(name.endswith(".safetensors") for name in files):
            raise InvalidModelError(
                f"{repo_id}: no .safetensors weights at this revision (pickle .bin weights are not loaded)"
            )
        commit = info.sha
        folder = snapshot_download(
            repo_id, revision=commit or revision, cache_dir=cache_dir, allow_patterns=_FETCH_PATTERNS
        )
    except EngineError:
        raise
    except GatedRepoError:
        raise ModelNotFoundError(
            f"{repo_id}: the repository is gated; it needs accepted terms and a token"
        ) from None
    except RevisionNotFoundError:
        raise ModelNotFoundError(f"{repo_id}: revision {revision!r} not found") from None
    except RepositoryNotFoundError:
        raise ModelNotFoundError(f"{repo_id}: model not found on the Hub (or it is private)") from None
    except HFValidationError:
        raise ModelNotFoundError(
            f"{repo_id!r} is neither a local directory nor a valid Hub model id"
        ) from None
    except Exception as exc:
        if is_network_error(exc):
            raise HubUnreachableError(f"could not reach the Hub for {repo_id}: {first_line(exc)}") from None
        raise
    return ModelSource(Path(str(folder)), repo_id, revision, commit, None)


def _is_hidden(file: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in file.relative_to(root).parts)
