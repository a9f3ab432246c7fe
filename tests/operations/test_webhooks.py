"""Webhooks: a run's outcome delivered signed to a real receiver on loopback (through the runs service and the
Celery task), retried with backoff and given up in words, sent once however often the task runs; the
public-address rule with the resolver stubbed; the secret returned once and never in a GET. Every test that
touches the database runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.models import DeliveryStatus, EvaluationResult, Submission, WebhookDelivery
from app.db.session import unit_of_work
from app.main import create_app
from app.services.operations import notifications
from app.services.operations.webhook_urls import (
    WebhookUnresolvedError,
    WebhookUrlError,
    check_webhook_url,
    parse_webhook_url,
)
from tests.operations.runs_support import fail_run, finish_run, new_submission, webhook_receiver
from tests.submissions.conftest import (
    GOOD,
    SentMessages,
    build_client,
    make_settings,
    start_process,
    wait_until,
    worker_env,
)
from tests.support.hub_server import HubServer
from worker.reconciler import reconcile
from worker.settings import WorkerSettings

SECRET = "a-test-webhook-secret-0123456789"
PUBLIC_URL = "https://board.example"


def resolver(table: dict[str, Sequence[str]]) -> Any:
    """A stand-in for socket.getaddrinfo: names in ``table`` resolve to its addresses, others fail."""

    def getaddrinfo(
        host: str, port: int, family: int = 0, type: int = 0, *rest: Any
    ) -> list[tuple[Any, ...]]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        entries: list[tuple[Any, ...]] = []
        for address in table[host]:
            if ":" in address:
                entries.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                entries.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return entries

    return getaddrinfo


def webhook_settings(db_url: str, data_dir: Path, **overrides: Any) -> WorkerSettings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "secret_key": "test-only-secret",
        "public_url": PUBLIC_URL,
        "webhook_allow_private": True,  # the receiver is on loopback; the rule is tested with a stub
        "webhook_timeout_s": 5.0,
        "webhook_max_attempts": 3,
        "webhook_retry_delays_s": [0.0],
        **overrides,
    }
    return WorkerSettings(**values)


def delivery_rows(factory: sessionmaker[Session], submission_id: int) -> list[WebhookDelivery]:
    with unit_of_work(factory) as session:
        statement = select(WebhookDelivery).where(WebhookDelivery.submission_id == submission_id)
        return list(session.scalars(statement.order_by(WebhookDelivery.id)))


def expected_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# Delivery ---------------------------------------------------------------------------------------------------


def test_a_finished_run_is_delivered_signed_to_a_receiver_on_loopback(
    db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker import webhook_tasks

    settings = webhook_settings(db_url, tmp_path)
    monkeypatch.setattr(webhook_tasks, "worker_settings", lambda: settings)
    with webhook_receiver(200) as receiver:
        submission_id = new_submission(
            db_session_factory, "org/model", webhook_url=receiver.url(), webhook_secret=SECRET
        )
        sent: list[int] = []
        finish_run(db_session_factory, submission_id, 0.75, notify=sent.append)
        [row] = delivery_rows(db_session_factory, submission_id)
        assert sent == [row.id]  # sent to the worker after the commit
        assert (row.event, row.status) == ("finished", DeliveryStatus.PENDING)

        assert webhook_tasks.deliver.apply(args=[row.id]).get() == "delivered"
        # The task again (a redelivered message): nothing is sent twice.
        assert webhook_tasks.deliver.apply(args=[row.id]).get() == "skipped"

    [request] = receiver.received
    assert request.path == "/hooks/rewardboard"
    assert request.headers["X-RewardBoard-Event"] == "finished"
    assert request.headers["X-RewardBoard-Delivery"] == str(row.id)
    assert request.headers["Content-Type"] == "application/json"
    signature = request.headers["X-RewardBoard-Signature"]
    assert signature == expected_signature(SECRET, request.body)
    assert not hmac.compare_digest(signature, expected_signature("another-secret-entirely", request.body))
    body = json.loads(request.body)
    with unit_of_work(db_session_factory) as session:
        result = session.scalars(
            select(EvaluationResult).where(EvaluationResult.submission_id == submission_id)
        ).one()
        result_id = result.id
    assert body["event"] == "finished"
    assert body["submission_id"] == submission_id
    assert body["model"] == "org/model"
    assert body["benchmark"] == "rewardbench-v1"
    assert body["kind"] == "classifier"
    assert body["status"] == "succeeded"
    assert body["score"] == pytest.approx(0.75)
    assert body["result_url"] == f"{PUBLIC_URL}/models/org/model?result={result_id}"
    assert body["submission_url"] == f"{PUBLIC_URL}/submissions/{submission_id}"
    assert body["failure_reason"] is None
    assert body["delivery_id"] == row.id
    assert str(body["timestamp"]) == request.headers["X-RewardBoard-Timestamp"]
    assert SECRET not in request.body.decode()
    [done] = delivery_rows(db_session_factory, submission_id)
    assert (done.status, done.attempts, done.response_status, done.last_error) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
        None,
    )
    assert done.delivered_at is not None


def test_a_failing_receiver_is_retried_with_backoff_then_marked_failed(
    db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    settings = webhook_settings(db_url, tmp_path)
    with webhook_receiver(500) as receiver:
        submission_id = new_submission(db_session_factory, webhook_url=receiver.url(), webhook_secret=SECRET)
        fail_run(db_session_factory, submission_id, "out_of_memory", "The model did not fit in memory.")
        [row] = delivery_rows(db_session_factory, submission_id)
        first = notifications.deliver(db_session_factory, settings, row.id)
        assert (first.status, first.retry_in_s) == ("retrying", 0.0)
        [waiting] = delivery_rows(db_session_factory, submission_id)
        assert waiting.status == DeliveryStatus.PENDING and waiting.attempts == 1
        assert "answered 500" in (waiting.last_error or "") and "try 1 of 3" in (waiting.last_error or "")
        # The next tries come from the reconciler, as after a lost message or a restart.
        for _ in range(2):
            report = reconcile(
                db_session_factory,
                lambda submission_id, route: None,
                settings=settings,
                dispatch_grace_s=0,
                stalled_queue_s=600,
            )
            assert report.webhooks == [row.id]
        assert notifications.deliver(db_session_factory, settings, row.id).status == "skipped"

    assert len(receiver.received) == 3
    bodies = [json.loads(request.body) for request in receiver.received]
    assert [body["attempt"] for body in bodies] == [1, 2, 3]
    assert {body["event"] for body in bodies} == {"failed"}
    assert bodies[0]["failure_kind"] == "out_of_memory"
    assert bodies[0]["failure_reason"] == "The model did not fit in memory."
    for request in receiver.received:  # each try is signed again (its timestamp is in the body)
        assert request.headers["X-RewardBoard-Signature"] == expected_signature(SECRET, request.body)
    [failed] = delivery_rows(db_session_factory, submission_id)
    assert (failed.status, failed.attempts, failed.response_status) == (DeliveryStatus.FAILED, 3, 500)
    assert "answered 500 Internal Server Error" in (failed.last_error or "")
    assert "gave up after 3 tries" in (failed.last_error or "")


def test_the_backoff_follows_the_configured_delays(
    db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    settings = webhook_settings(
        db_url, tmp_path, webhook_retry_delays_s=[30.0, 120.0], webhook_max_attempts=6
    )
    with webhook_receiver(503, 429, 200) as receiver:
        submission_id = new_submission(db_session_factory, webhook_url=receiver.url(), webhook_secret=SECRET)
        finish_run(db_session_factory, submission_id)
        [row] = delivery_rows(db_session_factory, submission_id)
        first = notifications.deliver(db_session_factory, settings, row.id)
        assert (first.status, first.retry_in_s) == ("retrying", 30.0)
        # Not due yet: a second sender does nothing.
        assert notifications.deliver(db_session_factory, settings, row.id).status == "skipped"
        [waiting] = delivery_rows(db_session_factory, submission_id)
        assert waiting.next_attempt_at is not None
        later = waiting.next_attempt_at
        second = notifications.deliver(db_session_factory, settings, row.id, now=_aware(later))
        assert (second.status, second.retry_in_s) == ("retrying", 120.0)  # the last delay repeats from here
        [again] = delivery_rows(db_session_factory, submission_id)
        third = notifications.deliver(db_session_factory, settings, row.id, now=_aware(again.next_attempt_at))
        assert third.status == "delivered"
    assert [request.headers["X-RewardBoard-Delivery"] for request in receiver.received] == [str(row.id)] * 3
    [done] = delivery_rows(db_session_factory, submission_id)
    assert (done.status, done.attempts, done.response_status) == (DeliveryStatus.DELIVERED, 3, 200)


def test_deliveries_are_queued_once_per_event_and_only_with_a_webhook(
    db_session_factory: sessionmaker[Session],
) -> None:
    with_hook = new_submission(
        db_session_factory, "org/a", webhook_url="https://hooks.example/x", webhook_secret=SECRET
    )
    without = new_submission(db_session_factory, "org/b")
    with unit_of_work(db_session_factory) as session:
        first = notifications.queue_delivery(session, with_hook, "flagged", reason="Looks contaminated.")
        assert first is not None
        assert notifications.queue_delivery(session, with_hook, "flagged") is None
        assert notifications.queue_delivery(session, without, "flagged") is None
        assert notifications.queue_delivery(session, 999_999, "finished") is None
        with pytest.raises(ValueError, match="unknown webhook event"):
            notifications.queue_delivery(session, with_hook, "exploded")
    [row] = delivery_rows(db_session_factory, with_hook)
    assert row.payload["reason"] == "Looks contaminated."
    assert delivery_rows(db_session_factory, without) == []


def test_a_newer_run_tells_the_earlier_submitter_their_result_was_superseded(
    db_session_factory: sessionmaker[Session],
) -> None:
    hook = "https://hooks.example/x"
    first = new_submission(
        db_session_factory, "org/m", webhook_url=hook, webhook_secret=SECRET, commit="1" * 40
    )
    finish_run(db_session_factory, first, 0.6)
    second = new_submission(
        db_session_factory, "org/m", webhook_url=hook, webhook_secret=SECRET, commit="2" * 40
    )
    sent: list[int] = []
    finish_run(db_session_factory, second, 0.8, notify=sent.append)
    [finished] = delivery_rows(db_session_factory, second)
    events = [(row.event, row.payload["reason"]) for row in delivery_rows(db_session_factory, first)]
    assert events[0] == ("finished", None)
    assert events[1][0] == "superseded" and "a newer run of the same model" in events[1][1]
    superseded = delivery_rows(db_session_factory, first)[1]
    assert sent == [finished.id, superseded.id]


def test_a_host_that_resolves_to_a_private_address_at_delivery_is_refused(
    db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    """DNS can change after the submission: the address is checked again before each try."""
    settings = webhook_settings(db_url, tmp_path, webhook_allow_private=False)
    with webhook_receiver(200) as receiver:
        submission_id = new_submission(
            db_session_factory, webhook_url="http://hooks.example/notify", webhook_secret=SECRET
        )
        finish_run(db_session_factory, submission_id)
        [row] = delivery_rows(db_session_factory, submission_id)
        rebound = resolver({"hooks.example": ["127.0.0.1"]})
        outcome = notifications.deliver(db_session_factory, settings, row.id, resolve=rebound)
        assert outcome.status == "failed"
        gone = resolver({})
        second = new_submission(
            db_session_factory, "org/other", webhook_url="http://gone.example/", webhook_secret=SECRET
        )
        finish_run(db_session_factory, second)
        [other] = delivery_rows(db_session_factory, second)
        assert (
            notifications.deliver(db_session_factory, settings, other.id, resolve=gone).status == "retrying"
        )
    assert receiver.received == []
    [refused] = delivery_rows(db_session_factory, submission_id)
    assert refused.status == DeliveryStatus.FAILED
    assert "resolves to 127.0.0.1, a loopback address" in (refused.last_error or "")


def test_a_delivery_connects_to_the_checked_address_and_keeps_the_host_name(
    db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    """The name is resolved once, by the check; the request goes to that address (no second lookup could
    swap in another) with the name in the Host header."""
    settings = webhook_settings(db_url, tmp_path)
    with webhook_receiver(204) as receiver:
        url = f"http://hooks.example:{receiver.port}/in?team=7"
        submission_id = new_submission(db_session_factory, webhook_url=url, webhook_secret=SECRET)
        finish_run(db_session_factory, submission_id)
        [row] = delivery_rows(db_session_factory, submission_id)
        stub = resolver({"hooks.example": ["127.0.0.1"]})  # the real resolver knows no such name
        assert notifications.deliver(db_session_factory, settings, row.id, resolve=stub).status == "delivered"
    [request] = receiver.received
    assert request.headers["Host"] == f"hooks.example:{receiver.port}"
    assert request.path == "/in?team=7"


def _aware(moment: datetime | None) -> datetime:
    assert moment is not None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# The public-address rule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "addresses",
    [["93.184.216.34"], ["2606:4700:4700::1111"], ["93.184.216.34", "2606:4700:4700::1111"]],
)
def test_a_name_that_resolves_only_to_public_addresses_is_accepted(addresses: list[str]) -> None:
    target = check_webhook_url("https://hooks.example/in", resolve=resolver({"hooks.example": addresses}))
    assert [str(address) for address in target.addresses] == addresses
    assert (target.host, target.port, target.host_header) == ("hooks.example", 443, "hooks.example")


@pytest.mark.parametrize(
    ("addresses", "words"),
    [
        (["127.0.0.1"], "a loopback address"),
        (["10.1.2.3"], "a private address"),
        (["192.168.1.20"], "a private address"),
        (["172.16.5.4"], "a private address"),
        (["::1"], "a loopback address"),
        (["fd00::1"], "a private address"),
        (["169.254.169.254"], "a link-local address"),
        (["fe80::1"], "a link-local address"),
        (["100.64.0.1"], "carrier-grade NAT"),
        (["0.0.0.0"], "the unspecified address"),
        (["224.0.0.251"], "a multicast address"),
        (["::ffff:10.0.0.1"], "a private address (inside the IPv6 address ::ffff:a00:1)"),
        (["2002:a00:1::1"], "a private address (inside the IPv6 address 2002:a00:1::1)"),
        (["240.0.0.1"], "a reserved address"),
        (["93.184.216.34", "10.0.0.7"], "resolves to 10.0.0.7, a private address"),
    ],
)
def test_a_name_with_any_address_that_is_not_public_is_refused(addresses: list[str], words: str) -> None:
    with pytest.raises(WebhookUrlError) as refused:
        check_webhook_url("https://hooks.example/in", resolve=resolver({"hooks.example": addresses}))
    message = str(refused.value)
    assert words in message
    assert "webhooks are sent only to public internet addresses" in message


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"),
        ("http://[::1]/hook", "::1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://[fd00::5]:9000/", "fd00::5 is a private address"),
    ],
)
def test_an_address_literal_is_checked_the_same(url: str, words: str) -> None:
    never = resolver({})  # an address literal needs no lookup
    with pytest.raises(WebhookUrlError, match=words.replace(".", r"\.")):
        check_webhook_url(url, resolve=never)


def test_loopback_is_allowed_only_with_the_setting() -> None:
    target = check_webhook_url("http://127.0.0.1:8080/hook", allow_private=True, resolve=resolver({}))
    assert (target.host_header, [str(a) for a in target.addresses]) == ("127.0.0.1:8080", ["127.0.0.1"])


def test_a_name_that_does_not_resolve_is_refused_in_words() -> None:
    with pytest.raises(WebhookUnresolvedError, match="does not resolve"):
        check_webhook_url("https://nowhere.example/", resolve=resolver({}))


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://hooks.example/in", "must start with http:// or https://"),
        ("file:///etc/passwd", "must start with http:// or https://"),
        ("https://user:pass@hooks.example/in", "must not contain a user name or password"),
        ("https://token@hooks.example/in", "must not contain a user name or password"),
        ("https:///in", "has no host name"),
        ("https://hooks.example:99999/in", "port"),
        ("https://hooks.example/in here", "spaces or control characters"),
        ("https://hooks.example/" + "a" * 2000, "longer than 2000 characters"),
    ],
)
def test_a_url_of_the_wrong_form_is_refused(url: str, words: str) -> None:
    with pytest.raises(WebhookUrlError, match=words):
        parse_webhook_url(url)


# Submitting with a webhook ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    from tests.support.tiny_models import build_tiny_classifier

    server = HubServer().start()
    server.add_repo_from_dir(GOOD, build_tiny_classifier(tmp_path_factory.mktemp("tiny") / "good"))
    yield server
    server.stop()


@pytest.fixture
def submit_client(db_url: str, tmp_path: Path, hub: HubServer) -> Iterator[TestClient]:
    settings: Settings = make_settings(db_url, tmp_path / "data", webhook_allow_private=True)
    with build_client(create_app(settings), hub, tmp_path / "hub-cache", SentMessages()) as client:
        yield client


@pytest.mark.slow
def test_the_embedded_worker_delivers_the_webhook_of_a_run_it_finished(
    tmp_path: Path, hub: HubServer, sqlite_url: str, sqlite_engine: Any
) -> None:
    """``rewardboard worker`` (what ``up`` runs) on the embedded SQLite database and broker: the run's
    "finished" message goes through the notifications queue, which it consumes (the reconciler is kept out
    of it by a long grace), to a receiver on loopback."""
    settings = make_settings(sqlite_url, tmp_path / "data", webhook_allow_private=True)
    with webhook_receiver(200) as receiver:
        env = worker_env(
            settings,
            hub,
            tmp_path,
            WEBHOOK_ALLOW_PRIVATE="true",
            PUBLIC_URL=PUBLIC_URL,
            DISPATCH_GRACE_S="600",
        )
        command = [sys.executable, "-m", "app.cli", "worker", "--loglevel", "INFO"]
        worker = start_process(command, env, tmp_path / "worker.log")
        try:
            with build_client(create_app(settings), hub, tmp_path / "cache", send=None) as client:
                created = client.post(
                    "/api/v1/submissions", json={"model": GOOD, "webhook_url": receiver.url()}
                )
                assert created.status_code == 201, created.text
                secret = created.json()["webhook_secret"]
                submission_id = created.json()["submission"]["id"]
                try:
                    wait_until(lambda: receiver.received, timeout=300, what="the webhook")
                except AssertionError:
                    raise AssertionError(worker.tail()) from None
                [delivery] = wait_until(
                    lambda: [
                        item
                        for item in client.get(f"/api/v1/submissions/{submission_id}").json()[
                            "webhook_deliveries"
                        ]
                        if item["status"] == "delivered"
                    ],
                    timeout=30,
                    what="the delivery to be marked delivered",
                )
        finally:
            worker.kill()
    assert "notifications" in worker.tail(400)  # the queues it said it takes
    [request] = receiver.received
    assert request.headers["X-RewardBoard-Signature"] == expected_signature(secret, request.body)
    body = json.loads(request.body)
    assert (body["event"], body["status"], body["model"]) == ("finished", "succeeded", GOOD)
    assert body["submission_url"] == f"{PUBLIC_URL}/submissions/{submission_id}"
    assert (delivery["event"], delivery["attempts"], delivery["response_status"]) == ("finished", 1, 200)


def test_a_private_webhook_is_refused_at_submission_before_any_hub_check(
    db_url: str, tmp_path: Path, hub: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(db_url, tmp_path / "data")  # WEBHOOK_ALLOW_PRIVATE off, as in production
    real = socket.getaddrinfo
    stub = resolver({"hooks.example": ["93.184.216.34", "192.168.0.9"], "fine.example": ["93.184.216.34"]})

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        return stub(host, *args, **kwargs) if host.endswith(".example") else real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    before = len(hub.requests)
    with build_client(create_app(settings), hub, tmp_path / "hub-cache", SentMessages()) as client:
        body = {"model": GOOD, "webhook_url": "https://hooks.example/in"}
        refused = client.post("/api/v1/submissions", json=body)
        assert refused.status_code == 422
        detail = refused.json()["detail"]
        assert "resolves to 192.168.0.9, a private address" in detail
        assert refused.json()["checks"][0]["name"] == "webhook"
        assert len(hub.requests) == before  # refused before asking the Hub
        scheme = client.post(
            "/api/v1/submissions", json={"model": GOOD, "webhook_url": "ftp://fine.example/"}
        )
        assert scheme.status_code == 422 and "http:// or https://" in str(scheme.json()["detail"])
        orphan = client.post("/api/v1/submissions", json={"model": GOOD, "webhook_secret": SECRET})
        assert orphan.status_code == 422 and "without a webhook_url" in str(orphan.json()["detail"])
        dry_run = client.post(
            "/api/v1/submissions/validate", json={"model": GOOD, "webhook_url": "https://fine.example/in"}
        )
        assert dry_run.status_code == 200
        checks = {check["name"]: check for check in dry_run.json()["checks"]}
        assert checks["webhook"]["ok"] and "fine.example" in checks["webhook"]["message"]


def test_the_generated_secret_is_returned_once_and_never_in_a_get(
    submit_client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    hook = "http://127.0.0.1:9/hooks/T0PSECRETPATH?token=abc"
    created = submit_client.post("/api/v1/submissions", json={"model": GOOD, "webhook_url": hook})
    assert created.status_code == 201, created.text
    secret = created.json()["webhook_secret"]
    assert isinstance(secret, str) and len(secret) >= 40
    submission = created.json()["submission"]
    assert submission["webhook_host"] == "127.0.0.1"
    with unit_of_work(db_session_factory) as session:
        row = session.get(Submission, submission["id"])
        assert row is not None and (row.webhook_url, row.webhook_secret) == (hook, secret)

    one = submit_client.get(f"/api/v1/submissions/{submission['id']}")
    assert one.status_code == 200
    assert one.json()["webhook_host"] == "127.0.0.1"
    assert one.json()["webhook_deliveries"] == []
    for path in (
        f"/api/v1/submissions/{submission['id']}",
        "/api/v1/submissions",
        f"/api/v1/submissions/{submission['id']}/status",
        f"/submissions/{submission['id']}",
        "/queue",
        "/api/v1/queue",
        "/changelog.atom",
    ):
        page = submit_client.get(path)
        assert page.status_code == 200, path
        assert secret not in page.text, path
        assert "T0PSECRETPATH" not in page.text and "token=abc" not in page.text, path


def test_a_secret_the_submitter_gives_is_kept_and_not_echoed(
    submit_client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    body = {"model": GOOD, "webhook_url": "http://127.0.0.1:9/in", "webhook_secret": SECRET}
    created = submit_client.post("/api/v1/submissions", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["webhook_secret"] is None
    assert SECRET not in created.text
    with unit_of_work(db_session_factory) as session:
        row = session.get(Submission, created.json()["submission"]["id"])
        assert row is not None and row.webhook_secret == SECRET


def test_the_form_shows_the_generated_secret_once(submit_client: TestClient) -> None:
    from bs4 import BeautifulSoup

    form_page = submit_client.get("/submit")
    soup = BeautifulSoup(form_page.text, "html.parser")
    assert soup.find("input", attrs={"name": "webhook_url"}) is not None
    token = soup.find("input", attrs={"name": "csrf_token"})
    assert token is not None
    fields = {
        "model": GOOD,
        "revision": "main",
        "model_type": "classifier",
        "classifier.chat_template": "auto",
        "webhook_url": "http://127.0.0.1:9/in",
        "csrf_token": str(token["value"]),  # type: ignore[index]
    }
    answer = submit_client.post("/submit", data=fields, follow_redirects=False)
    assert answer.status_code == 201, answer.text
    shown = BeautifulSoup(answer.text, "html.parser").select_one(".webhook-secret code")
    assert shown is not None
    secret = shown.get_text()
    assert len(secret) >= 40
    assert answer.headers["cache-control"] == "no-store"
    heading = BeautifulSoup(answer.text, "html.parser").select_one("h1")
    assert heading is not None and heading.get_text() == GOOD
    [item] = submit_client.get("/api/v1/submissions").json()["items"]
    status_page = submit_client.get(f"/submissions/{item['id']}")
    assert status_page.status_code == 200
    assert "127.0.0.1" in status_page.text  # the host, shown again
    assert secret not in status_page.text  # the secret, never again


def test_the_submission_json_shows_its_deliveries(
    submit_client: TestClient, db_session_factory: sessionmaker[Session], db_url: str, tmp_path: Path
) -> None:
    settings = webhook_settings(db_url, tmp_path)
    with webhook_receiver(502) as receiver:
        created = submit_client.post(
            "/api/v1/submissions", json={"model": GOOD, "webhook_url": receiver.url()}
        )
        submission_id = created.json()["submission"]["id"]
        finish_run(db_session_factory, submission_id)
        notifications.deliver_due(db_session_factory, settings)
    [delivery] = submit_client.get(f"/api/v1/submissions/{submission_id}").json()["webhook_deliveries"]
    assert delivery["event"] == "finished"
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == 1
    assert delivery["response_status"] == 502
    assert "answered 502 Bad Gateway" in delivery["last_error"]
    assert delivery["next_attempt_at"] is not None
    page = submit_client.get(f"/submissions/{submission_id}").text
    assert "answered 502 Bad Gateway" in page and "Notifications" in page
