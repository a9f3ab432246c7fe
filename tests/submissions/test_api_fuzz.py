"""Schemathesis against /openapi.json of a real uvicorn server: no generated request gets a 5xx."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.submissions.conftest import free_port, start_process, wait_until, worker_env
from tests.submissions.conftest import make_settings as _make_settings
from tests.support.hub_server import HubServer

pytestmark = pytest.mark.slow
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))
# One worker: hypothesis parses lambda sources with ast.parse, which is not thread-safe on CPython 3.11
# ("SystemError: AST constructor recursion depth mismatch").


def test_no_server_errors(tmp_path: Path, hub: HubServer, sqlite_url: str, sqlite_engine: Any) -> None:
    settings = _make_settings(sqlite_url, tmp_path / "data")
    port = free_port()
    env = worker_env(settings, hub, tmp_path)
    server = start_process(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env,
        tmp_path / "uvicorn.log",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=60, what="uvicorn to serve /openapi.json")
        command = [
            str(Path(sys.executable).with_name("st")), "run", f"{base}/openapi.json",
            "--checks", "not_a_server_error", "--max-examples", str(MAX_EXAMPLES),
            "--phases", "examples,coverage,fuzzing", "--workers", "1",
            "--request-timeout", "30", "--seed", "1", "--no-shrink",
            "--suppress-health-check", "all", "--warnings", "off",
            # Its 503 is the answer it exists to give when no worker runs (tests/operations/test_health.py).
            "--exclude-path", "/readyz",
        ]  # fmt: skip
        completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=420)
        assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:] + server.tail()
    finally:
        server.stop()
