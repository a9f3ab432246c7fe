"""`rewardboard up`: migrate, seed, web server and one worker on the embedded default; Ctrl-C stops both."""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from tests.submissions.conftest import (
    SPARE,
    free_port,
    kill_up,
    make_settings,
    start_process,
    wait_for_run,
    wait_until,
    worker_env,
)
from tests.support.hub_server import HubServer

pytestmark = pytest.mark.slow


def test_up_serves_evaluates_and_stops_on_ctrl_c(tmp_path: Path, hub: HubServer) -> None:
    data_dir = tmp_path / "data"
    env = worker_env(make_settings("unused", data_dir), hub, tmp_path)
    for name in ("DATABASE_URL", "BROKER_URL"):  # the embedded defaults under DATA_DIR
        env.pop(name)
    port = free_port()
    up = start_process([sys.executable, "-m", "app.cli", "up", "--port", str(port)], env, tmp_path / "up.log")
    base = f"http://127.0.0.1:{port}"
    try:

        def serving() -> bool:
            try:
                return httpx.get(f"{base}/", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(serving, timeout=120, what="rewardboard up to serve /")
        assert (data_dir / "rewardboard.db").exists()
        model = SPARE[5]
        created = httpx.post(f"{base}/api/v1/submissions", json={"model": model}, timeout=60)
        assert created.status_code == 201, created.text + up.tail()
        url = f"{base}/api/v1/submissions/{created.json()['submission']['id']}"

        body = wait_for_run(lambda: httpx.get(url, timeout=10).json(), up, timeout=240, log_lines=120)
        assert body["status"] == "succeeded", (body, up.tail())
        assert httpx.get(f"{base}/api/v1/models/{model}", timeout=10).status_code == 200
        assert (data_dir / "broker.db").exists()

        up.popen.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
        assert up.popen.wait(timeout=90) == 0, up.tail()
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, "the web server is still listening"
    finally:
        kill_up(up)
