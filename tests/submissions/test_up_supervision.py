"""`rewardboard up` supervises, with real processes: a killed worker is restarted while the web server keeps
answering; a second `up` on a busy port fails before it migrates or says it is up; after a SIGKILL of `up`
its children stop by themselves and free the port; Ctrl-C stops everything within a few seconds, also when
`up` was started with SIGINT ignored (as `cmd &` from a script starts it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.submissions.conftest import (
    SIGINT_IGNORED,
    Process,
    free_port,
    group_alive,
    kill_up,
    make_settings,
    start_process,
    started_children,
    wait_until,
    worker_env,
)
from tests.support.hub_server import HubServer

pytestmark = pytest.mark.slow


def embedded_env(tmp_path: Path, hub: HubServer, data_dir: Path) -> dict[str, str]:
    env = worker_env(make_settings("unused", data_dir), hub, tmp_path)
    for name in ("DATABASE_URL", "BROKER_URL"):  # the embedded defaults under DATA_DIR
        env.pop(name)
    return env


def serving(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def start_up(
    tmp_path: Path, hub: HubServer, port: int, name: str, *, sigint_ignored: bool = False
) -> Process:
    env = embedded_env(tmp_path, hub, tmp_path / "data")
    python = SIGINT_IGNORED if sigint_ignored else [sys.executable]
    command = [*python, "-m", "app.cli", "up", "--port", str(port), "--no-seed"]
    return start_process(command, env, tmp_path / f"{name}.log")


def test_up_restarts_a_killed_worker_and_its_children_die_with_it(tmp_path: Path, hub: HubServer) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    up = start_up(tmp_path, hub, port, "up")
    try:
        wait_until(lambda: serving(f"{base}/api/v1/sections"), timeout=120, what="rewardboard up to serve")
        wait_until(lambda: all(started_children(up).values()), timeout=30, what="both children")
        first = started_children(up)
        web, worker = first["web server"][0], first["worker"][0]

        # A second `up` on the busy port: refused at once, nothing migrated, never "is up".
        other_data = tmp_path / "other-data"
        second = subprocess.run(
            [sys.executable, "-m", "app.cli", "up", "--port", str(port)],
            env=embedded_env(tmp_path, hub, other_data),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2, second.stderr
        assert "cannot listen on 127.0.0.1" in second.stderr and "already running" in second.stderr
        assert "is up" not in second.stdout and not (other_data / "rewardboard.db").exists()

        # kill -9 of the worker: restarted with a message; the web server answers all along.
        os.kill(worker, signal.SIGKILL)

        def restarted() -> bool:
            assert serving(f"{base}/"), "the web server stopped answering"
            return len(started_children(up)["worker"]) >= 2

        wait_until(restarted, timeout=60, interval=0.2, what="the worker to be restarted")
        assert "the worker process exited (killed by SIGKILL); restarting it in 1 s" in up.tail(200)
        assert started_children(up)["web server"] == [web]
        new_worker = started_children(up)["worker"][-1]
        assert up.popen.poll() is None

        # kill -9 of `up` itself: the children notice and stop; the port is free again.
        os.killpg(up.popen.pid, signal.SIGKILL)
        up.popen.wait(timeout=10)
        wait_until(
            lambda: not any(group_alive(group) for group in (web, new_worker)),
            timeout=30,
            interval=0.2,
            what="the orphaned children to stop",
        )
        wait_until(lambda: port_free(port), timeout=10, what="the port to be free")

        # The next `up` on the same port starts, and Ctrl-C stops it and its children within seconds.
        again = start_up(tmp_path, hub, port, "up-again")
        try:
            wait_until(lambda: serving(f"{base}/"), timeout=120, what="the next rewardboard up to serve")
            wait_until(lambda: all(started_children(again).values()), timeout=30, what="both children")
            children = [pids[0] for pids in started_children(again).values()]
            stopping = time.monotonic()
            again.popen.send_signal(signal.SIGINT)
            assert again.popen.wait(timeout=30) == 0, again.tail()
            assert time.monotonic() - stopping < 10
            assert not any(group_alive(group) for group in children)
            assert port_free(port)
        finally:
            kill_up(again)
    finally:
        kill_up(up)


def test_ctrl_c_stops_up_started_with_sigint_ignored(tmp_path: Path, hub: HubServer) -> None:
    shown = subprocess.run(
        [*SIGINT_IGNORED, "-c", "import signal; print(signal.getsignal(signal.SIGINT) == signal.SIG_IGN)"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert shown.stdout.strip() == "True", shown
    port = free_port()
    up = start_up(tmp_path, hub, port, "up-ignoring-sigint", sigint_ignored=True)
    try:
        wait_until(lambda: serving(f"http://127.0.0.1:{port}/"), timeout=120, what="rewardboard up to serve")
        wait_until(lambda: all(started_children(up).values()), timeout=30, what="both children")
        children = [pids[0] for pids in started_children(up).values()]
        stopping = time.monotonic()
        up.popen.send_signal(signal.SIGINT)
        assert up.popen.wait(timeout=30) == 0, up.tail()
        assert time.monotonic() - stopping < 10
        assert not any(group_alive(group) for group in children)
        assert port_free(port)
    finally:
        kill_up(up)
