"""Submissions and runs through the real runs service (claim, then save or fail), without the engine, and a
webhook receiver on loopback that records what it gets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.db.repositories import submissions as repo
from app.db.session import unit_of_work
from app.services.intake.run_spec import RunConfig, RunSpec
from app.services.operations.notifications import Notify
from app.services.results import runs
from tests.web.factories import SAMPLE, engine_result


def new_submission(
    factory: sessionmaker[Session],
    name: str = "org/model",
    *,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    commit: str = "a" * 40,
) -> int:
    """A queued RewardBench v1 classifier submission, as intake records it (with its webhook, if any)."""
    config = RunConfig(
        benchmark="rewardbench-v1",
        model_type="classifier",
        kind_settings={"chat_template": "auto"},
        max_length=2048,
        dataset=str(SAMPLE),
    )
    with unit_of_work(factory) as session:
        model = repo.lock_reward_model(session, hub_id=name)
        submission = repo.add_submission(
            session,
            repo.NewSubmission(
                reward_model_id=model.id,
                requested_revision="main",
                resolved_commit=commit,
                model_type=config.model_type,
                benchmark=config.benchmark,
                run_config=config.model_dump(mode="json"),
                config_key=config.key(),
                has_chat_template=True,
                submitter=None,
            ),
        )
        submission.webhook_url = webhook_url
        submission.webhook_secret = webhook_secret
        return submission.id


def start_run(factory: sessionmaker[Session], submission_id: int) -> RunSpec:
    spec = runs.claim(factory, submission_id, owner="test-worker", lease_seconds=60)
    assert spec is not None
    return spec


def finish_run(
    factory: sessionmaker[Session], submission_id: int, accuracy: float = 0.7, *, notify: Notify | None = None
) -> RunSpec:
    """Claim the submission and store a full v1 result for it, as the task does after the engine."""
    spec = start_run(factory, submission_id)
    assert runs.save(factory, spec, engine_result(spec.hub_id, accuracy), [], [], notify=notify)
    return spec


def fail_run(
    factory: sessionmaker[Session],
    submission_id: int,
    kind: str = "out_of_memory",
    message: str = "The model did not fit in the GPU's memory.",
    *,
    notify: Notify | None = None,
) -> RunSpec:
    spec = start_run(factory, submission_id)
    runs.fail(factory, spec, kind, message, notify=notify)
    return spec


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next of ``statuses`` (the last one repeats) and keeps what it got."""

    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/hooks/rewardboard") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self) -> int:
        index = min(len(self.received), len(self.statuses)) - 1
        return self.statuses[max(index, 0)]


@contextmanager
def webhook_receiver(*statuses: int) -> Iterator[Receiver]:
    receiver = Receiver(statuses=list(statuses) or [200])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            status = receiver.answer()
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
