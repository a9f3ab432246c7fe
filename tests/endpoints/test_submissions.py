"""Submitting a judge on an endpoint: maintainers only (401 without credentials, 403 signed in but not on the
list), the endpoint's checks instead of the Hub's (registered, the model id its own, not a Hub model here),
an API model recorded with the served model pinned, duplicates by endpoint and served model, the smallest
queue; the maintainers' list of endpoints shows no key. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.api.routes.submissions import get_sender
from app.config import ConfigurationError, Settings
from app.db.models import RewardModel, Submission
from app.http.csrf import CSRF_COOKIE
from app.main import create_app
from app.services.intake.queues import Route
from tests.endpoints.conftest import ADMIN_TOKEN, APP_SECRET, KEY_ENV, SECRET_KEY_VALUE, definition
from tests.support.oidc_provider import OidcProvider
from tests.web.factories import make_result

MODEL = "test-lab/judge-70b"
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CLIENT_ID, CLIENT_SECRET = "rewardboard-endpoint-test", "endpoint-test-client-secret"


def body(**overrides: Any) -> dict[str, Any]:
    settings = {"endpoint": "test-judge", "max_new_tokens": 16, **overrides.pop("settings", {})}
    return {"model": MODEL, "model_type": "judge-pairwise-endpoint", "settings": settings, **overrides}


def endpoint_settings(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": tmp_path / "data",
        "secret_key": APP_SECRET,
        "admin_token": ADMIN_TOKEN,
        "judge_endpoints": {"test-judge": definition("http://127.0.0.1:9/v1")},
        "client_submission_limit": 1000,
        "client_validation_limit": 1000,
        **overrides,
    }
    return Settings(**values)


class Sent(list[tuple[int, Route]]):
    def __call__(self, submission_id: int, route: Route) -> None:
        self.append((submission_id, route))


def client_for(app: FastAPI, sent: Sent) -> TestClient:
    app.dependency_overrides[get_sender] = lambda: sent
    return TestClient(app)


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def client(db_url: str, tmp_path: Path, sent: Sent) -> Iterator[TestClient]:
    with client_for(create_app(endpoint_settings(db_url, tmp_path)), sent) as test_client:
        yield test_client


def stored(factory: sessionmaker[Session]) -> tuple[list[RewardModel], list[Submission]]:
    with factory() as session:
        return list(session.scalars(select(RewardModel))), list(session.scalars(select(Submission)))


def test_without_a_maintainers_credentials_nothing_is_checked_or_queued(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    for path in ("/api/v1/submissions", "/api/v1/submissions/validate"):
        refused = client.post(path, json=body())
        assert refused.status_code == 401, refused.text
        detail = refused.json()["detail"]
        assert "maintainers only" in detail and "operator token" in detail
        wrong = client.post(path, json=body(), headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"]
    refused_listing = client.get("/api/v1/admin/endpoints")
    assert refused_listing.status_code == 401
    assert stored(db_session_factory) == ([], [])


def test_a_maintainer_checks_and_submits_an_api_model(
    client: TestClient, sent: Sent, db_session_factory: sessionmaker[Session]
) -> None:
    checked = client.post("/api/v1/submissions/validate", json=body(), headers=OPERATOR)
    assert checked.status_code == 200, checked.text
    report = checked.json()
    assert report["ok"] is True and report["commit"] == "judge-70b"
    names = [check["name"] for check in report["checks"]]
    assert names == [
        "endpoint",
        "model_type",
        "model_id",
        "iteration_of",
        "opt_out",
        "rate_limit",
        "duplicate",
        "queue",
    ]
    assert (
        "serves 'judge-70b'" in report["checks"][0]["message"]
        and "API mark" in report["checks"][0]["message"]
    )

    created = client.post("/api/v1/submissions", json=body(), headers=OPERATOR)
    assert created.status_code == 201, created.text
    submission = created.json()["submission"]
    assert submission["model"] == MODEL and submission["model_type_label"] == "Pairwise judge (API)"
    assert submission["settings"]["endpoint"] == "test-judge"
    assert submission["settings"]["served_model"] == "judge-70b"
    assert [route.queue for _, route in sent] == ["evaluations-4g"]  # the smallest class: no GPU needed
    models, submissions = stored(db_session_factory)
    assert [(model.hub_id, model.hub_repo) for model in models] == [(MODEL, False)]
    assert submissions[0].resolved_commit == "judge-70b"

    again = client.post("/api/v1/submissions", json=body(), headers=OPERATOR)
    assert again.status_code == 409 and again.json()["duplicate_url"] == f"/submissions/{submission['id']}"
    other_order = client.post(
        "/api/v1/submissions", json=body(settings={"both_orders": True}), headers=OPERATOR
    )
    assert other_order.status_code == 201, other_order.text


def test_the_served_model_is_part_of_the_runs_identity(
    db_url: str, tmp_path: Path, sent: Sent, db_session_factory: sessionmaker[Session]
) -> None:
    first = endpoint_settings(db_url, tmp_path)
    with client_for(create_app(first), sent) as client:
        assert client.post("/api/v1/submissions", json=body(), headers=OPERATOR).status_code == 201
    # The operator points the endpoint at a new snapshot under the same board id: a new run, not a duplicate.
    newer = {"test-judge": definition("http://127.0.0.1:9/v1", model="judge-70b-v2")}
    with client_for(create_app(endpoint_settings(db_url, tmp_path, judge_endpoints=newer)), sent) as client:
        created = client.post("/api/v1/submissions", json=body(), headers=OPERATOR)
        assert created.status_code == 201, created.text
        assert created.json()["submission"]["settings"]["served_model"] == "judge-70b-v2"
    _, submissions = stored(db_session_factory)
    assert len({row.config_key for row in submissions}) == 2


@pytest.mark.parametrize(
    ("request_body", "words"),
    [
        (body(settings={"endpoint": "nope"}), "No judge endpoint named 'nope' is registered (test-judge)."),
        (body(model="test-lab/other"), "submit it with model 'test-lab/judge-70b'"),
        (body(settings={"served_model": "judge-8b"}), "served_model is set by the checks"),
    ],
)
def test_an_endpoint_judge_that_does_not_match_the_registry_is_refused(
    client: TestClient, request_body: dict[str, Any], words: str
) -> None:
    refused = client.post("/api/v1/submissions", json=request_body, headers=OPERATOR)
    assert refused.status_code == 422, refused.text
    assert words in refused.json()["detail"]
    assert [check["name"] for check in refused.json()["checks"]] == ["endpoint"]


def test_an_endpoint_is_never_mixed_with_a_hub_model_of_the_same_id(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    with db_session_factory.begin() as session:
        make_result(session, MODEL, 0.8)  # a Hub model with a result, evaluated here
    refused = client.post("/api/v1/submissions", json=body(), headers=OPERATOR)
    assert refused.status_code == 422, refused.text
    assert "as a model with a Hub repository" in refused.json()["detail"]
    models, submissions = stored(db_session_factory)
    assert [model.hub_repo for model in models] == [True] and submissions == []


def test_a_misconfigured_registry_is_said_in_words(db_url: str, tmp_path: Path, sent: Sent) -> None:
    broken = {"test-judge": {**definition("http://127.0.0.1:9/v1"), "api_key": SECRET_KEY_VALUE}}
    with pytest.raises(ConfigurationError, match="never holds the key itself") as refused_start:
        create_app(endpoint_settings(db_url, tmp_path, judge_endpoints=broken))
    assert SECRET_KEY_VALUE not in str(refused_start.value)
    # The file is read again for every check: broken after the start, the checks and the list say so.
    registry_file = tmp_path / "endpoints.json"
    registry_file.write_text(json.dumps({"test-judge": definition("http://127.0.0.1:9/v1")}))
    settings = endpoint_settings(db_url, tmp_path, judge_endpoints={}, judge_endpoints_file=registry_file)
    with client_for(create_app(settings), sent) as client:
        assert client.get("/api/v1/admin/endpoints", headers=OPERATOR).status_code == 200
        registry_file.write_text(json.dumps(broken))
        refused = client.post("/api/v1/submissions", json=body(), headers=OPERATOR)
        assert refused.status_code == 503 and "never holds the key itself" in refused.json()["detail"]
        listing = client.get("/api/v1/admin/endpoints", headers=OPERATOR)
        assert listing.status_code == 503 and "misconfigured" in listing.json()["detail"]
        assert SECRET_KEY_VALUE not in refused.text + listing.text


def test_maintainers_list_the_endpoints_without_their_keys(client: TestClient) -> None:
    listing = client.get("/api/v1/admin/endpoints", headers=OPERATOR)
    assert listing.status_code == 200, listing.text
    (item,) = listing.json()["items"]
    assert item["name"] == "test-judge" and item["provider"] == "vLLM" and item["model"] == "judge-70b"
    assert (
        item["model_id"] == MODEL and item["host"] == "127.0.0.1:9" and item["key"] == "environment variable"
    )
    assert item["limits"]["max_retries"] == 2 and item["supports_seed"] is True
    assert SECRET_KEY_VALUE not in listing.text and KEY_ENV not in listing.text


def test_the_submit_form_offers_endpoint_judges_to_maintainers_only(client: TestClient) -> None:
    assert "judge-pairwise-endpoint" not in client.get("/submit").text
    assert "judge-pairwise-endpoint" in client.get("/submit", headers=OPERATOR).text
    form = client.get("/submit")
    token = form.cookies.get(CSRF_COOKIE) or client.cookies[CSRF_COOKIE]
    fields = {
        "model": MODEL,
        "model_type": "judge-pairwise-endpoint",
        "judge-pairwise-endpoint.endpoint": "test-judge",
        "csrf_token": token,
    }
    refused = client.post("/submit", data=fields)
    assert refused.status_code == 401 and "maintainers only" in refused.text
    accepted = client.post("/submit", data=fields, headers=OPERATOR, follow_redirects=False)
    assert accepted.status_code == 303, accepted.text


# Signed in with Hugging Face --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    server = OidcProvider(CLIENT_ID, CLIENT_SECRET).start()
    yield server
    server.stop()


def sign_in(client: TestClient) -> None:
    to_provider = client.get("/auth/login", follow_redirects=False)
    back = httpx.get(to_provider.headers["location"], follow_redirects=False, timeout=10)
    callback = httpx.URL(back.headers["location"])
    done = client.get(f"{callback.path}?{callback.query.decode()}", follow_redirects=False)
    assert done.status_code == 303, done.text


@pytest.mark.parametrize(("maintainers", "status"), [(["bob"], 403), (["alice"], 201)])
def test_a_signed_in_user_submits_only_when_on_the_maintainers_list(
    db_url: str, tmp_path: Path, sent: Sent, provider: OidcProvider, maintainers: list[str], status: int
) -> None:
    settings = endpoint_settings(
        db_url,
        tmp_path,
        maintainers=maintainers,
        hf_oauth_client_id=CLIENT_ID,
        hf_oauth_client_secret=CLIENT_SECRET,
        hf_oauth_provider_url=provider.url,
        environment="development",
    )
    with client_for(create_app(settings), sent) as client:
        sign_in(client)  # as alice
        answer = client.post("/api/v1/submissions", json=body())
        assert answer.status_code == status, answer.text
        if status == 403:
            assert "alice is not a maintainer" in answer.json()["detail"]
