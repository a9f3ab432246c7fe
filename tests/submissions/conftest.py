"""Fixtures for the submission tests: a Hub stand-in with tiny models, apps, workers, brokers.

The Hub stand-in (tests/support/hub_server.py) runs in this process on a random port. The web app reaches it
through a ``HubClient`` given by dependency override; worker subprocesses through ``HF_ENDPOINT``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.api.routes.submissions import get_hub_client, get_sender
from app.config import Settings
from app.services.intake.hub import HubClient
from app.services.intake.queues import Route
from tests.conftest import engine_url
from tests.support.hub_server import HubServer

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO_ROOT / "tests" / "data" / "rewardbench_sample.jsonl"
SAMPLE_DATA_V2 = REPO_ROOT / "tests" / "data" / "rewardbench2_sample.jsonl"
REDIS_ENV = "TEST_REDIS_URL"
TEST_SECRET_KEY = "test-only-secret-key-for-the-test-suite"

GOOD = "tiny-org/good-rm"
NO_TEMPLATE = "tiny-org/plain-rm"
CAUSAL_LM = "tiny-org/causal-lm"
TWO_LABELS = "tiny-org/two-labels"
PICKLE_ONLY = "tiny-org/pickle-only"
REMOTE_CODE = "tiny-org/remote-code"
BAD_CONFIG = "tiny-org/bad-config"
BAD_TOKENIZER = "tiny-org/bad-tokenizer"
PRIVATE = "tiny-org/private-rm"
GATED = "tiny-org/gated-rm"
NO_METADATA = "tiny-org/no-safetensors-info"
# Causal LMs for the other kinds: a DPO policy whose card names its SFT reference, that reference, a model
# with another vocabulary, judges that always answer "[[A]]", never answer readably, or always "Score: 4".
DPO_POLICY = "tiny-org/dpo-policy"
DPO_SFT = "tiny-org/dpo-sft"
OTHER_VOCAB = "tiny-org/other-vocab-lm"
JUDGE_A = "tiny-org/judge-always-a"
JUDGE_MUTE = "tiny-org/judge-mute"
JUDGE_FOUR = "tiny-org/judge-score-four"
NO_TEMPLATE_LM = "tiny-org/lm-no-template"
# Copies of the good model under other names, for tests that need models never submitted before.
SPARE = tuple(f"spare-org/rm-{index}" for index in range(8))
# Put before a Python command's arguments: it then starts with SIGINT ignored, as `cmd &` from a script does.
SIGINT_IGNORED = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])",
]
CHILD_STARTED = re.compile(r"^(web server|worker) started \(pid (\d+)\)$", re.MULTILINE)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.support.tiny_models import (
        build_tiny_causal_lm,
        build_tiny_classifier,
        build_tiny_judge,
        build_tokenizer,
    )

    root = tmp_path_factory.mktemp("tiny-models")
    tokenizer = build_tokenizer()
    lm_tokenizer = build_tokenizer()
    return {
        "good": build_tiny_classifier(root / "good", tokenizer=tokenizer),
        "plain": build_tiny_classifier(root / "plain", chat_template=None, seed=1),
        "two_labels": build_tiny_classifier(root / "two-labels", num_labels=2, tokenizer=tokenizer),
        "causal": build_tiny_causal_lm(root / "causal"),
        "policy": build_tiny_causal_lm(root / "policy", seed=1, tokenizer=lm_tokenizer, base_model=DPO_SFT),
        "sft": build_tiny_causal_lm(root / "sft", seed=2, tokenizer=lm_tokenizer),
        "other_vocab": build_tiny_causal_lm(root / "other-vocab", tokenizer=build_tokenizer(vocab_size=400)),
        "no_template_lm": build_tiny_causal_lm(root / "no-template-lm", chat_template=None),
        "judge_a": build_tiny_judge(root / "judge-a", ["[[A]]"]),
        "judge_mute": build_tiny_judge(root / "judge-mute", ["I cannot decide."]),
        "judge_four": build_tiny_judge(root / "judge-four", ["Score: 4"]),
    }


@pytest.fixture(scope="session")
def hub(tiny_models: dict[str, Path]) -> Iterator[HubServer]:
    server = HubServer().start()
    good = tiny_models["good"]
    config = json.loads((good / "config.json").read_text())
    server.add_repo_from_dir(GOOD, good)
    server.add_repo_from_dir(NO_TEMPLATE, tiny_models["plain"])
    server.add_repo_from_dir(CAUSAL_LM, tiny_models["causal"])
    server.add_repo_from_dir(TWO_LABELS, tiny_models["two_labels"])
    server.add_repo_from_dir(
        PICKLE_ONLY, good, drop=("model.safetensors",), extra={"pytorch_model.bin": b"not really a pickle"}
    )
    remote = {**config, "auto_map": {"AutoModelForSequenceClassification": "modeling_rm.RewardModel"}}
    server.add_repo_from_dir(REMOTE_CODE, good, extra={"config.json": json.dumps(remote).encode()})
    broken = {**config, "model_type": "no-such-architecture"}
    server.add_repo_from_dir(BAD_CONFIG, good, extra={"config.json": json.dumps(broken).encode()})
    bad_tokenizer = {"tokenizer_class": "NoSuchTokenizerFast"}
    server.add_repo_from_dir(
        BAD_TOKENIZER,
        good,
        drop=("tokenizer.json",),
        extra={"tokenizer_config.json": json.dumps(bad_tokenizer).encode()},
    )
    server.add_repo_from_dir(PRIVATE, good, private=True)
    server.add_repo_from_dir(GATED, good, gated="auto")
    server.add_repo_from_dir(NO_METADATA, good, safetensors_info=False)
    for name in SPARE:
        server.add_repo_from_dir(name, good)
    server.add_repo_from_dir(DPO_POLICY, tiny_models["policy"])
    server.add_repo_from_dir(DPO_SFT, tiny_models["sft"])
    server.add_repo_from_dir(OTHER_VOCAB, tiny_models["other_vocab"])
    server.add_repo_from_dir(NO_TEMPLATE_LM, tiny_models["no_template_lm"])
    server.add_repo_from_dir(JUDGE_A, tiny_models["judge_a"])
    server.add_repo_from_dir(JUDGE_MUTE, tiny_models["judge_mute"])
    server.add_repo_from_dir(JUDGE_FOUR, tiny_models["judge_four"])
    yield server
    server.stop()


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "broker_url": f"sqla+sqlite:///{(data_dir / 'broker.db').as_posix()}",
        "dataset_path": str(SAMPLE_DATA),
        "dataset_paths": {"rewardbench-v2": str(SAMPLE_DATA_V2)},
        "eval_limit_per_subset": 1,
        "secret_key": TEST_SECRET_KEY,
        # Tests submit many models from one address; the tests of these limits set them low.
        "client_submission_limit": 1000,
        "client_validation_limit": 1000,
        **overrides,
    }
    return Settings(**values)


@dataclass
class SentMessages:
    ids: list[int] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    fail: bool = False

    def __call__(self, submission_id: int, route: Route) -> None:
        if self.fail:
            raise ConnectionError("broker down (test)")
        self.ids.append(submission_id)
        self.routes.append(route)


def build_client(
    app: FastAPI, hub: HubServer, cache_dir: Path, send: Callable[[int, Route], None] | None
) -> TestClient:
    app.dependency_overrides[get_hub_client] = lambda: HubClient(hub.url, cache_dir=cache_dir)
    if send is not None:
        app.dependency_overrides[get_sender] = lambda: send
    return TestClient(app)


@pytest.fixture
def sent() -> SentMessages:
    return SentMessages()


@pytest.fixture
def settings(sqlite_engine: Engine, tmp_path: Path) -> Settings:
    return make_settings(engine_url(sqlite_engine), tmp_path / "data")


@pytest.fixture
def client(settings: Settings, hub: HubServer, tmp_path: Path, sent: SentMessages) -> Iterator[TestClient]:
    """The web app on a fresh migrated SQLite database; sent messages are recorded, not sent."""
    from app.main import create_app

    with build_client(create_app(settings), hub, tmp_path / "hub-cache", sent) as test_client:
        yield test_client


def submission_body(model: str = GOOD, **overrides: Any) -> dict[str, Any]:
    return {"model": model, "revision": "main", "model_type": "classifier", **overrides}


# Processes --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.5, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """SIGKILL the whole process group: the worker and its pool children die at once."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def started_children(process: Process) -> dict[str, list[int]]:
    """The pids of the children an `up` process says it started (each leads its own process group)."""
    pids: dict[str, list[int]] = {"web server": [], "worker": []}
    for name, pid in CHILD_STARTED.findall(process.log.read_text(errors="replace")):
        pids[name].append(int(pid))
    return pids


def group_alive(group: int) -> bool:
    """Whether any process (not a zombie) is left in process group ``group``."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def kill_up(process: Process) -> None:
    """SIGKILL an `up` process, its process group and the group of every child it started."""
    process.kill()
    for group in (pid for pids in started_children(process).values() for pid in pids):
        if group_alive(group):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


def wait_for_run(
    read_status: Callable[[], dict[str, Any]], process: Process, *, timeout: float, log_lines: int = 60
) -> dict[str, Any]:
    """Poll a submission's JSON until its run has finished; on a timeout, fail with the process's log."""

    def finished() -> dict[str, Any] | None:
        body = read_status()
        return body if body["status"] in ("succeeded", "failed") else None

    try:
        body: dict[str, Any] = wait_until(finished, timeout=timeout, what="the submission to finish")
    except AssertionError:
        raise AssertionError(process.tail(log_lines)) from None
    return body


def start_process(command: list[str], env: dict[str, str], log: Path) -> Process:
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = log.open("ab")
    popen = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    handle.close()
    return Process(popen, log)


def worker_env(settings: Settings, hub: HubServer, home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGINGFACE"))}
    env.update(
        {
            "DATABASE_URL": settings.resolved_database_url(),
            "BROKER_URL": settings.resolved_broker_url(),
            "DATA_DIR": str(settings.data_dir),
            "HF_ENDPOINT": hub.url,
            "HF_HOME": str(home / "hf-home"),
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "DATASET_PATH": str(SAMPLE_DATA),
            "DATASET_PATHS": json.dumps({"rewardbench-v2": str(SAMPLE_DATA_V2)}),
            "EVAL_LIMIT_PER_SUBSET": str(settings.eval_limit_per_subset or 1),
            "EVAL_BATCH_TOKENS": "2048",
            "RECONCILE_INTERVAL_S": "1",
            "DISPATCH_GRACE_S": "2",
            "PYTHONUNBUFFERED": "1",
            "SECRET_KEY": settings.secret_key,
            "CLIENT_SUBMISSION_LIMIT": str(settings.client_submission_limit),
            "CLIENT_VALIDATION_LIMIT": str(settings.client_validation_limit),
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Process]]:
    started: list[Process] = []

    def start(env: dict[str, str]) -> Process:
        index = len(started)
        command = [
            sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
            "--concurrency", "1", "--pool", "prefork", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", f"test{index}-{os.getpid()}@%h",
        ]  # fmt: skip
        process = start_process(command, env, tmp_path / f"worker-{index}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_until(answers, timeout=20, interval=0.1, what="redis-server to answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of our own on a free port, not started yet: tests start and stop it."""
    server = RedisServer(free_port())
    yield server
    server.stop()


def redis_url_or_skip() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set (e.g. redis://127.0.0.1:6379/15)")
    return url
