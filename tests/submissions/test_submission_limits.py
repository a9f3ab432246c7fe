"""Submission limits hold under concurrency, on SQLite and PostgreSQL, on the Hub's case-insensitive ids.

- 12 concurrent submissions in one namespace over a limit of 5: exactly 5 accepted, the rest 429;
- 12 concurrent submissions from one client over its limit of 5 (12 namespaces): exactly 5 accepted;
- one model in four casings, at once: one submission, three 409s, one model row;
- casings of a namespace count as one namespace;
- dry runs are limited per client (429 with Retry-After); X-Forwarded-For counts only from a trusted proxy;
- with LIMITS_URL, two web processes share that limit through Redis, and a Redis that is down lets checks
  through.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from app.db.models import RewardModel, Submission
from app.main import create_app
from app.services.intake import submissions as service
from app.services.intake.client_limits import RedisSlidingWindowLimiter, Submitter, TooManyRequestsError
from app.services.intake.hub import HubClient
from app.services.intake.validation import SubmissionRequest
from tests.conftest import engine_url
from tests.submissions.conftest import RedisServer, SentMessages, build_client, make_settings, submission_body
from tests.support.hub_server import HubServer

CONCURRENT = 12
LIMIT = 5


@pytest.fixture(scope="module")
def limit_models(hub: HubServer, tiny_models: dict[str, Path]) -> dict[str, list[str]]:
    """Copies of the good model: 12 in one namespace, 12 in namespaces of their own, one mixed-case."""
    one_namespace = [f"limit-org/rm-{index}" for index in range(CONCURRENT)]
    own_namespaces = [f"client-org-{index}/rm" for index in range(CONCURRENT)]
    for name in (*one_namespace, *own_namespaces, "CaseOrg/Reward-RM", "case-ns/a", "case-ns/b", "case-ns/c"):
        hub.add_repo_from_dir(name, tiny_models["good"])
    return {"one_namespace": one_namespace, "own_namespaces": own_namespaces}


def run_at_once(calls: Sequence[Callable[[], Any]]) -> tuple[list[Any], list[service.SubmissionRejected]]:
    barrier = threading.Barrier(len(calls))
    accepted: list[Any] = []
    refused: list[service.SubmissionRejected] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            outcome = call()
            with lock:
                accepted.append(outcome)
        except service.SubmissionRejected as rejection:
            with lock:
                refused.append(rejection)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    return accepted, refused


def submissions_in(engine: Engine) -> int:
    with sessionmaker(bind=engine)() as session:
        return int(session.scalar(select(func.count()).select_from(Submission)) or 0)


def test_namespace_limit_holds_under_concurrency(
    db_engine: Engine, hub: HubServer, tmp_path: Path, limit_models: dict[str, list[str]]
) -> None:
    settings = make_settings(engine_url(db_engine), tmp_path / "data", rate_limit_count=LIMIT)
    factory = sessionmaker(bind=db_engine, expire_on_commit=False)
    client = HubClient(hub.url, cache_dir=tmp_path / "cache")
    sent = SentMessages()
    calls = [
        partial(service.submit, factory, settings, client, SubmissionRequest(model=model), sent)
        for model in limit_models["one_namespace"]
    ]
    accepted, refused = run_at_once(calls)
    assert len(accepted) == LIMIT and len(refused) == CONCURRENT - LIMIT
    assert {(error.status_code, error.report.first_failure().name) for error in refused} == {  # type: ignore[union-attr]
        (429, "rate_limit")
    }
    assert all(error.report.retry_after_s for error in refused)
    assert submissions_in(db_engine) == LIMIT


def test_client_limit_holds_under_concurrency(
    db_engine: Engine, hub: HubServer, tmp_path: Path, limit_models: dict[str, list[str]]
) -> None:
    settings = make_settings(engine_url(db_engine), tmp_path / "data", client_submission_limit=LIMIT)
    factory = sessionmaker(bind=db_engine, expire_on_commit=False)
    client = HubClient(hub.url, cache_dir=tmp_path / "cache")
    submitter = Submitter(address="203.0.113.7")
    calls = [
        partial(
            service.submit,
            factory,
            settings,
            client,
            SubmissionRequest(model=model),
            SentMessages(),
            submitter=submitter,
        )
        for model in limit_models["own_namespaces"]
    ]
    accepted, refused = run_at_once(calls)
    assert len(accepted) == LIMIT and len(refused) == CONCURRENT - LIMIT
    assert all(
        error.status_code == 429 and "You have made 5 submissions" in error.message for error in refused
    )
    # Another client is not affected; nor is a signed-in user on a fresh address, until the user's own limit.
    other = Submitter(address="198.51.100.1", user="someone")
    outcome = service.submit(
        factory, settings, client, SubmissionRequest(model="case-ns/a"), SentMessages(), submitter=other
    )
    with factory() as session:
        row = session.get(Submission, outcome.submission.id)
        assert row is not None and (row.submitter, row.client_address) == ("someone", "198.51.100.1")


def test_one_model_in_four_casings_is_one_submission(
    db_engine: Engine, hub: HubServer, tmp_path: Path, limit_models: dict[str, list[str]]
) -> None:
    settings = make_settings(engine_url(db_engine), tmp_path / "data")
    factory = sessionmaker(bind=db_engine, expire_on_commit=False)
    client = HubClient(hub.url, cache_dir=tmp_path / "cache")
    casings = ["CaseOrg/Reward-RM", "caseorg/reward-rm", "CASEORG/REWARD-RM", "caseOrg/reward-RM"]
    calls = [
        partial(service.submit, factory, settings, client, SubmissionRequest(model=model), SentMessages())
        for model in casings
    ]
    accepted, refused = run_at_once(calls)
    assert len(accepted) == 1 and len(refused) == 3
    assert {(error.status_code, error.report.duplicate_of) for error in refused} == {
        (409, accepted[0].submission.id)
    }
    assert accepted[0].submission.model == "CaseOrg/Reward-RM"  # the Hub's own spelling is stored
    with factory() as session:
        ids = session.scalars(
            select(RewardModel.hub_id).where(func.lower(RewardModel.hub_id) == "caseorg/reward-rm")
        )
        assert list(ids) == ["CaseOrg/Reward-RM"]


def test_casings_of_a_namespace_count_as_one(
    db_url: str, hub: HubServer, tmp_path: Path, limit_models: dict[str, list[str]]
) -> None:
    settings = make_settings(db_url, tmp_path / "data", rate_limit_count=2)
    with build_client(create_app(settings), hub, tmp_path / "cache", SentMessages()) as client:
        assert client.post("/api/v1/submissions", json=submission_body("case-ns/a")).status_code == 201
        assert client.post("/api/v1/submissions", json=submission_body("CASE-NS/b")).status_code == 201
        third = client.post("/api/v1/submissions", json=submission_body("Case-Ns/c"))
        assert third.status_code == 429 and "Retry-After" in third.headers
        again = client.post("/api/v1/submissions", json=submission_body("CASE-ns/A"))
        assert again.status_code in (409, 429)  # a duplicate, and over the limit either way


def test_dry_runs_are_limited_per_client(
    sqlite_url: str, sqlite_engine: Engine, hub: HubServer, tmp_path: Path
) -> None:
    settings = make_settings(sqlite_url, tmp_path / "data", client_validation_limit=3)
    with build_client(create_app(settings), hub, tmp_path / "cache", SentMessages()) as client:
        for _ in range(3):
            assert client.post("/api/v1/submissions/validate", json=submission_body()).status_code == 200
        refused = client.post("/api/v1/submissions/validate", json=submission_body())
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "Too many model checks" in refused.json()["detail"]
        # Submissions run the same checks and share the limit.
        assert client.post("/api/v1/submissions", json=submission_body()).status_code == 429
        # Without a trusted proxy, X-Forwarded-For changes nothing.
        spoofed = client.post(
            "/api/v1/submissions/validate", json=submission_body(), headers={"X-Forwarded-For": "192.0.2.9"}
        )
        assert spoofed.status_code == 429


def test_forwarded_address_counts_only_behind_a_trusted_proxy(
    sqlite_url: str, sqlite_engine: Engine, hub: HubServer, tmp_path: Path
) -> None:
    settings = make_settings(
        sqlite_url, tmp_path / "data", client_validation_limit=1, trusted_proxies=["testclient"]
    )
    with build_client(create_app(settings), hub, tmp_path / "cache", SentMessages()) as client:

        def check(forwarded_for: str) -> int:
            headers = {"X-Forwarded-For": forwarded_for}
            return client.post(
                "/api/v1/submissions/validate", json=submission_body(), headers=headers
            ).status_code

        assert check("192.0.2.1") == 200
        assert check("192.0.2.1") == 429
        assert check("192.0.2.2") == 200  # another client behind the proxy


def test_two_web_processes_share_the_check_limit_through_redis(
    sqlite_url: str, sqlite_engine: Engine, hub: HubServer, tmp_path: Path, throwaway_redis: RedisServer
) -> None:
    throwaway_redis.start(tmp_path)
    settings = make_settings(
        sqlite_url, tmp_path / "data", client_validation_limit=3, limits_url=throwaway_redis.url
    )
    first = build_client(create_app(settings), hub, tmp_path / "cache", SentMessages())
    second = build_client(create_app(settings), hub, tmp_path / "cache", SentMessages())
    with first, second:

        def check(client: TestClient) -> int:
            return client.post("/api/v1/submissions/validate", json=submission_body()).status_code

        assert [check(first), check(second), check(first)] == [200] * 3
        refused = second.post("/api/v1/submissions/validate", json=submission_body())
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert "Too many model checks" in refused.json()["detail"]
        assert check(first) == 429

        throwaway_redis.stop()  # the limiter is down: checks go through rather than fail
        assert check(first) == 200 and check(second) == 200


def test_redis_limit_frees_a_slot_when_the_oldest_hit_leaves_the_window(
    tmp_path: Path, throwaway_redis: RedisServer
) -> None:
    throwaway_redis.start(tmp_path)

    async def scenario() -> None:
        limiter = RedisSlidingWindowLimiter.from_url(
            throwaway_redis.url, limit=2, window_s=1, what="model checks", name="checks"
        )
        try:
            await limiter.hit(("ip:a",))
            await limiter.hit(("ip:a", "user:u"))
            with pytest.raises(TooManyRequestsError) as refused:
                await limiter.hit(("ip:a",))
            assert refused.value.headers["Retry-After"] == "1"
            with pytest.raises(TooManyRequestsError):  # the user key is not full, the address is
                await limiter.hit(("user:u", "ip:a"))
            await limiter.hit(("ip:b",))  # another client
            ttl = await limiter.client.pttl(limiter.prefix + "ip:a")
            assert 0 < ttl <= 1000  # keys expire with their window
            await asyncio.sleep(1.1)
            await limiter.hit(("ip:a", "user:u"))
        finally:
            await limiter.client.aclose()

    asyncio.run(scenario())
