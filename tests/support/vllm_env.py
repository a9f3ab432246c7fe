"""The vLLM test venv and vLLM's servers, for tests that run judges on vLLM's CPU build.

vLLM and the project's own ``.venv`` need different transformers releases, so vLLM lives in ``.venv-vllm``
(built and cached by ``scripts/vllm_env.sh``, which ``scripts/test.sh`` runs); tests run its python in a
subprocess. ``vllm_python()`` finds it (``$REWARDBOARD_VLLM_PYTHON``, else ``.venv-vllm/bin/python``);
``require_vllm_python()`` skips a test without it, with the line the build script left when the package
registry could not serve vLLM, and fails it in CI (``CI`` set) when the venv is missing for any other reason.

``vllm_environment()`` is the environment for such a subprocess (vLLM's CPU variables, never overriding
the caller's); ``serve_openai(model_dir)`` runs vLLM's OpenAI-compatible server on 127.0.0.1 for the length
of a ``with`` block and yields its base URL once ``/health`` answers (about a minute on two cores).
Note for endpoint tests: ``/v1/completions`` re-tokenises a text prompt with special tokens (a template
that starts with BOS then gets two); send the engine's prompt token ids instead, or use the chat route.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import httpx
import pytest

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
PYTHON_ENV: Final = "REWARDBOARD_VLLM_PYTHON"
DEFAULT_PYTHON: Final = REPO_ROOT / ".venv-vllm" / "bin" / "python"
# Written by scripts/vllm_env.sh when the registry could not serve vLLM's wheel: the skip reason.
UNAVAILABLE_NOTE: Final = REPO_ROOT / "build" / "vllm-env-unavailable.txt"
# vLLM's CPU build: run on the CPU, with a 1 GiB KV cache (the tiny test models need far less).
CPU_ENVIRONMENT: Final = {"VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "1"}
SERVER_START_TIMEOUT_S: Final = 240.0


def vllm_python() -> Path | None:
    """The python of the vLLM venv, or None when it is not built."""
    configured = os.environ.get(PYTHON_ENV)
    path = Path(configured) if configured else DEFAULT_PYTHON
    return path if path.is_file() and os.access(path, os.X_OK) else None


def missing_reason() -> str:
    """Why there is no vLLM venv, in one line."""
    if UNAVAILABLE_NOTE.is_file():
        return UNAVAILABLE_NOTE.read_text(encoding="utf-8").strip()
    configured = os.environ.get(PYTHON_ENV)
    if configured:
        return f"{PYTHON_ENV}={configured} is not an executable python"
    return f"no vLLM venv at {DEFAULT_PYTHON.relative_to(REPO_ROOT)}: run `bash scripts/vllm_env.sh`"


def require_vllm_python() -> Path:
    """The vLLM venv's python; skips the test without it (in CI fails it, unless the registry was why)."""
    python = vllm_python()
    if python is not None:
        return python
    if os.environ.get("CI") and not UNAVAILABLE_NOTE.is_file():
        pytest.fail(f"CI must run the vLLM tests: {missing_reason()}")
    pytest.skip(missing_reason())


def vllm_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with vLLM's CPU variables where unset, then ``extra``."""
    environment = dict(os.environ)
    environment.pop("VIRTUAL_ENV", None)  # the subprocess runs the other venv's python
    for name, value in CPU_ENVIRONMENT.items():
        environment.setdefault(name, value)
    environment.update(extra or {})
    return environment


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve_openai(
    model_dir: Path,
    *,
    log_path: Path,
    port: int | None = None,
    served_model_name: str | None = None,
    extra_args: Sequence[str] = (),
    timeout_s: float = SERVER_START_TIMEOUT_S,
) -> Iterator[str]:
    """vLLM's OpenAI-compatible server on ``model_dir`` (fp32, eager, 127.0.0.1); yields its base URL
    (``http://127.0.0.1:PORT/v1``) once ``/health`` answers, and stops it (and its engine) on exit.
    Its output goes to ``log_path``; a server that exits or does not answer in ``timeout_s`` fails the test
    with the end of that log."""
    python = require_vllm_python()
    port = port or free_port()
    command = [
        str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
        "--dtype", "float32", "--enforce-eager", "--host", "127.0.0.1", "--port", str(port),
        *(["--served-model-name", served_model_name] if served_model_name else []), *extra_args,
    ]  # fmt: skip
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=vllm_environment(),
            cwd=REPO_ROOT,
            start_new_session=True,  # its own process group: the engine's children stop with it
        )
    try:
        _wait_healthy(process, f"http://127.0.0.1:{port}/health", log_path, timeout_s)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(process)


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"vLLM's server exited with {process.returncode}:\n{log_tail(log_path)}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1.0)
    pytest.fail(f"vLLM's server did not answer {url} in {timeout_s:.0f} s:\n{log_tail(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
