"""``rewardboard up | serve | worker``: run the web server, an evaluation worker, or both together.

``up`` is the one-machine command: it takes its port first (a busy port stops it before anything else),
migrates the database, seeds an empty one, then runs the web server and one worker as supervised child
processes on the configured (by default embedded: SQLite + SQLite broker) stores. A child that exits is
restarted with a backoff while the other keeps running; the children stop by themselves if ``up`` is
killed. Ctrl-C (SIGINT, even when it was started with SIGINT ignored) and SIGTERM stop both within a few
seconds; a run cut short is picked up again by the reconciler.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from types import FrameType

from app.commands.supervisor import Child, Supervisor, watch_parent
from app.config import ConfigurationError, Settings, get_settings
from app.services.operations.maintainers import ensure_embedded_token


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
        parser.add_argument(
            "--memory-gb",
            type=float,
            default=None,
            help="memory of each of this worker's GPUs (default: the smallest GPU's, or half the RAM "
            "without a GPU)",
        )
        parser.add_argument(
            "--gpus",
            type=int,
            default=None,
            help="GPUs this worker splits a model over (default: every visible GPU); it takes the queue of "
            "every worker class with no more GPUs, none larger",
        )
        parser.add_argument(
            "--beat",
            action="store_true",
            help="also run Celery beat, which sends the daily data snapshot (one per deployment)",
        )
    if name == "up":
        parser.add_argument("--no-seed", action="store_true", help="do not import the published seed results")
    if name == "serve":
        parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    if name in ("serve", "worker"):
        parser.add_argument("--watch-parent", type=int, default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "watch_parent", None):
        watch_parent(args.watch_parent)
    if args.command == "serve":
        try:
            get_settings().check_safe_to_serve()
        except ConfigurationError as error:
            print(f"rewardboard serve: {error}", file=sys.stderr, flush=True)
            return 2
        return serve(args.host, args.port, fd=args.fd)
    if args.command == "worker":
        return work(
            get_settings(),
            concurrency=args.concurrency,
            loglevel=args.loglevel,
            memory_gb=args.memory_gb,
            gpus=args.gpus,
            beat=args.beat,
        )
    if args.command == "up":
        settings = get_settings()
        return up(settings, host=args.host, port=args.port, loglevel=args.loglevel, seed=not args.no_seed)
    raise ValueError(f"unknown command {args.command!r}")


def serve(host: str, port: int, *, fd: int | None = None) -> int:
    """The web server; on ``fd`` (a socket already listening, from ``up``) when given.

    X-Forwarded-For is read by the app itself, from TRUSTED_PROXIES only, so uvicorn's own reading is off.
    """
    import uvicorn

    if fd is not None:
        uvicorn.run("app.main:create_app", factory=True, fd=fd, proxy_headers=False)
    else:
        uvicorn.run("app.main:create_app", factory=True, host=host, port=port, proxy_headers=False)
    return 0


def work(
    settings: Settings,
    *,
    concurrency: int,
    loglevel: str,
    memory_gb: float | None = None,
    gpus: int | None = None,
    beat: bool = False,
) -> int:
    # Read by the worker settings, here and in the children.
    if memory_gb is not None:
        os.environ["WORKER_MEMORY_GB"] = str(memory_gb)
    if gpus is not None:
        os.environ["WORKER_GPUS"] = str(gpus)
    from worker.celery_app import app
    from worker.settings import WorkerSettings, consumed_queues, use_weights_cache

    use_weights_cache(settings)
    queues = ",".join(consumed_queues(WorkerSettings()))
    print(f"rewardboard worker: taking queues {queues}", flush=True)
    options = ["--pool", "prefork", "--concurrency", str(concurrency), "--loglevel", loglevel, "-Q", queues]
    if beat:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        options += ["--beat", "--schedule", str(settings.data_dir / "celerybeat-schedule")]
    app.worker_main(["worker", *options])
    return 0


def prepare_database(settings: Settings, *, seed: bool) -> None:
    """Migrate to the newest schema; seed the published results into an empty database; compute the
    intervals that results lack or that an older scoring version made stale."""
    from app.commands.database import upgrade
    from app.db.session import make_engine, session_scope

    engine = make_engine(settings.resolved_database_url())
    try:
        upgrade(engine)
        if seed:
            try:
                from app.services.results.seed import seed_if_empty
            except ImportError:
                return
            with session_scope(engine) as session:
                seeded = seed_if_empty(session)
            if seeded:
                print(f"seeded {len(seeded)} published results into the empty database", flush=True)
        from app.commands.database import refresh_stale_intervals

        refreshed = refresh_stale_intervals(engine)
        if refreshed:
            print(f"computed the intervals of {refreshed} results", flush=True)
    finally:
        engine.dispose()


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, taken before anything else; OSError when the port is busy."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


def up(settings: Settings, *, host: str, port: int, loglevel: str, seed: bool) -> int:
    try:
        settings.check_safe_to_serve()
        listener = listen(host, port)
    except ConfigurationError as error:
        print(f"rewardboard up: {error}", file=sys.stderr, flush=True)
        return 2
    except OSError as error:
        print(
            f"rewardboard up: cannot listen on {host}:{port} ({error.strerror or error}). "
            "Is RewardBoard or another server already running there? Stop it or choose --port.",
            file=sys.stderr,
            flush=True,
        )
        return 2
    # Explicit for SIGINT too: a process started in the background from a script inherits it ignored.
    previous = {signum: signal.signal(signum, _raise_interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    supervisor: Supervisor | None = None
    try:
        prepare_database(settings, seed=seed)
        token_file = ensure_embedded_token(settings)
        if token_file is not None:
            print(f"The operator token for /admin and /api/v1/admin is in {token_file}", flush=True)
        cli = [sys.executable, "-m", "app.cli"]
        watch = ["--watch-parent", str(os.getpid())]
        fd = listener.fileno()
        supervisor = Supervisor(
            [
                Child("web server", [*cli, "serve", "--fd", str(fd), *watch], pass_fds=(fd,)),
                # The one machine's worker also runs beat: the daily data snapshot.
                Child("worker", [*cli, "worker", "--beat", "--loglevel", loglevel, *watch]),
            ]
        )
        supervisor.start_all()
        print(f"RewardBoard is up on http://{host}:{port} (Ctrl-C stops web server and worker)", flush=True)
        supervisor.run_forever()
    except KeyboardInterrupt:
        return 0
    finally:
        if supervisor is not None:
            supervisor.stop_all()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        listener.close()
    return 0


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
