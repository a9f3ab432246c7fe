"""Child processes kept running: restarted with a backoff when they exit, stopped together, and stopping
themselves when the process that started them is gone (even after a SIGKILL, which it cannot catch)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0  # a child that ran this long starts again from the first backoff
STOP_GRACE_S = 2.0
PARENT_POLL_S = 0.5
ORPHAN_GRACE_S = 5.0


@dataclass
class Child:
    name: str
    command: list[str]
    pass_fds: tuple[int, ...] = ()
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    restart_at: float | None = None
    backoff_s: float = field(default=FIRST_BACKOFF_S)

    def start(self) -> None:
        # Its own process group: the terminal's Ctrl-C reaches only the supervisor, which stops the group.
        self.popen = subprocess.Popen(self.command, pass_fds=self.pass_fds, start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None
        print(f"{self.name} started (pid {self.popen.pid})", flush=True)

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.running():
            assert self.popen is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)


class Supervisor:
    def __init__(self, children: Sequence[Child]) -> None:
        self.children = list(children)

    def start_all(self) -> None:
        for child in self.children:
            child.start()

    def check(self, now: float | None = None) -> None:
        """Restart children that exited, each after its backoff; the others keep running."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            if child.running():
                continue
            if child.restart_at is None:
                assert child.popen is not None
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.popen.pid, signal.SIGKILL)  # what it left behind (pool processes)
                if now - child.started_at >= STABLE_AFTER_S:
                    child.backoff_s = FIRST_BACKOFF_S
                code = child.popen.returncode
                print(
                    f"the {child.name} process exited ({_describe_exit(code)}); "
                    f"restarting it in {child.backoff_s:g} s",
                    file=sys.stderr,
                    flush=True,
                )
                child.restart_at = now + child.backoff_s
                child.backoff_s = min(child.backoff_s * 2, MAX_BACKOFF_S)
            elif now >= child.restart_at:
                child.restarts += 1
                child.start()

    def run_forever(self, interval_s: float = 0.5) -> None:
        while True:
            self.check()
            time.sleep(interval_s)

    def stop_all(self) -> None:
        """SIGINT, then SIGTERM, then SIGQUIT (Celery's cold shutdown), then SIGKILL to each child's group,
        ``STOP_GRACE_S`` apart: everything is gone within a few seconds."""
        for child in self.children:
            child.signal_group(signal.SIGINT)
        for escalate in (signal.SIGTERM, getattr(signal, "SIGQUIT", signal.SIGTERM), signal.SIGKILL):
            deadline = time.monotonic() + STOP_GRACE_S
            while time.monotonic() < deadline and any(child.running() for child in self.children):
                time.sleep(0.1)
            for child in self.children:
                child.signal_group(escalate)
        for child in self.children:
            if child.popen is not None:
                child.popen.wait()


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def watch_parent(parent_pid: int) -> None:
    """In a child: when ``parent_pid`` is no longer our parent (it died), stop our whole process group,
    politely first (SIGTERM), then for good (SIGKILL)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        print(f"the supervising process {parent_pid} is gone; stopping", file=sys.stderr, flush=True)
        group = os.getpgrp()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        time.sleep(ORPHAN_GRACE_S)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
