"""Library and code versions recorded with every result."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

_PACKAGES = ("torch", "transformers", "datasets", "huggingface_hub", "tokenizers", "safetensors")
_REPO_ROOT = Path(__file__).resolve().parents[2]


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


@cache
def code_version() -> dict[str, Any]:
    """This package's version and, when running from a git checkout, the commit and whether it is dirty."""
    try:
        package = metadata.version("rewardboard")
    except metadata.PackageNotFoundError:
        package = None
    return {"package": package, "git_sha": _git("rev-parse", "HEAD"), "git_dirty": _git_dirty()}


def _git(*args: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", "-C", str(_REPO_ROOT), *args], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None


def _git_dirty() -> bool | None:
    status = _git("status", "--porcelain", "--untracked-files=no", "--", "worker/engine")
    if status is None:
        return None if _git("rev-parse", "HEAD") is None else False
    return bool(status)
