"""``rewardboard up | serve | worker``: run the web server, an evaluation worker, or both together.

``up`` is the one-machine command: it migrates the database, seeds an empty one, then runs the web server and
one worker as child processes on the configured (by default embedded: SQLite + SQLite broker) stores. Ctrl-C
stops both; a run cut short is picked up again by the reconciler when a worker next starts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from app.config import Settings, get_settings

STOP_GRACE_S = 10.0


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    if name in ("up", "serve"):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    if name in ("up", "worker"):
        parser.add_argument("--loglevel", default="INFO", help="worker log level (default INFO)")
    if name == "worker":
        parser.add_argument(
            "--concurrency", type=int, default=1, help="evaluations at once; keep 1 per GPU (default 1)"
        )
    if name == "up":
        parser.add_argument("--no-seed", action="store_true", help="do not import the published seed results")


def run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return serve(args.host, args.port)
    if args.command == "worker":
        return work(get_settings(), concurrency=args.concurrency, loglevel=args.loglevel)
    if args.command == "up":
        settings = get_settings()
        return up(settings, host=args.host, port=args.port, loglevel=args.loglevel, seed=not args.no_seed)
    raise ValueError(f"unknown command {args.command!r}")


def serve(host: str, port: int) -> int:
    import uvicorn

    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, proxy_headers=True)
    return 0


def work(settings: Settings, *, concurrency: int, loglevel: str) -> int:
    from worker.broker import QUEUE
    from worker.celery_app import app
    from worker.settings import use_weights_cache

    use_weights_cache(settings)
    options = ["--pool", "prefork", "--concurrency", str(concurrency), "--loglevel", loglevel, "-Q", QUEUE]
    app.worker_main(["worker", *options])
    return 0


def prepare_database(settings: Settings, *, seed: bool) -> None:
    """Migrate to the newest schema; seed the published results into an empty database."""
    from app.commands.database import upgrade
    from app.db.session import make_engine, session_scope

    engine = make_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
        if seed:
            try:
                from app.services.seed import seed_if_empty
            except ImportError:
                return
            with session_scope(engine) as session:
                seeded = seed_if_empty(session)
            if seeded:
                print(f"seeded {len(seeded)} published results into the empty database", flush=True)
    finally:
        engine.dispose()


def up(settings: Settings, *, host: str, port: int, loglevel: str, seed: bool) -> int:
    prepare_database(settings, seed=seed)
    cli = [sys.executable, "-m", "app.cli"]
    children = {
        # Own process groups: the children get our signals, not the terminal's, and die as a group.
        "web": subprocess.Popen([*cli, "serve", "--host", host, "--port", str(port)], start_new_session=True),
        "worker": subprocess.Popen([*cli, "worker", "--loglevel", loglevel], start_new_session=True),
    }
    print(f"RewardBoard is up on http://{host}:{port} (Ctrl-C stops web server and worker)", flush=True)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        while True:
            for name, child in children.items():
                code = child.poll()
                if code is not None:
                    print(f"the {name} process exited ({code}); stopping", file=sys.stderr, flush=True)
                    return code or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop_children(list(children.values()))


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT, then SIGTERM, then SIGQUIT (Celery's cold shutdown), then SIGKILL to each child's group."""
    for child in children:
        _signal_group(child, signal.SIGINT)
    for escalate in (signal.SIGTERM, getattr(signal, "SIGQUIT", signal.SIGTERM), signal.SIGKILL):
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(child.poll() is None for child in children):
            time.sleep(0.2)
        for child in children:
            _signal_group(child, escalate)
    for child in children:
        child.wait()


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    if child.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signum)
