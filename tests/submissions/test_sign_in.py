"""Sign in with Hugging Face against a local OpenID Connect provider: the signed-in user is the submitter,
is counted by the limits on top of the address, and can be required; without configuration nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from app.db.models import Submission
from app.http.csrf import CSRF_COOKIE
from app.main import create_app
from tests.submissions.conftest import SPARE, build_client, make_settings, submission_body
from tests.support.hub_server import HubServer
from tests.support.oidc_provider import OidcProvider

CLIENT_ID, CLIENT_SECRET = "rewardboard-test", "test-client-secret"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    server = OidcProvider(CLIENT_ID, CLIENT_SECRET).start()
    yield server
    server.stop()


def signed_in_app(sqlite_url: str, tmp_path: Path, provider: OidcProvider, **overrides: Any) -> FastAPI:
    settings = make_settings(
        sqlite_url,
        tmp_path / "data",
        hf_oauth_client_id=CLIENT_ID,
        hf_oauth_client_secret=CLIENT_SECRET,
        hf_oauth_provider_url=provider.url,
        environment="development",  # the session cookie may travel over http in the test
        **overrides,
    )
    return create_app(settings)


def sign_in(client: TestClient) -> None:
    """The browser's round trip: to the provider, which agrees at once, and back to the callback."""
    to_provider = client.get("/auth/login", follow_redirects=False)
    assert to_provider.status_code == 302, to_provider.text
    back = httpx.get(to_provider.headers["location"], follow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["location"])
    assert callback.path == "/auth/callback"
    done = client.get(f"{callback.path}?{callback.query}", follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/submit"


def test_signed_in_user_is_the_submitter_and_has_a_limit(
    sqlite_url: str, sqlite_engine: Engine, hub: HubServer, tmp_path: Path, provider: OidcProvider
) -> None:
    app = signed_in_app(sqlite_url, tmp_path, provider, client_submission_limit=2)
    with build_client(app, hub, tmp_path / "cache", None) as first:
        form = first.get("/submit")
        assert "Sign in with Hugging Face" in form.text and "Signed in" not in form.text
        sign_in(first)
        assert "Signed in with Hugging Face as <strong>alice</strong>" in first.get("/submit").text
        for model in SPARE[:2]:
            created = first.post("/api/v1/submissions", json=submission_body(model))
            assert created.status_code == 201, created.text
        with sessionmaker(bind=sqlite_engine)() as session:
            assert set(session.scalars(select(Submission.submitter))) == {"alice"}

    # The same user from another address: the user's own limit still counts.
    with TestClient(app, client=("192.0.2.50", 4000)) as second:
        sign_in(second)
        refused = second.post("/api/v1/submissions", json=submission_body(SPARE[2]))
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        assert "You have made 2 submissions" in refused.json()["detail"]
        # Signing out: an anonymous visitor from this address is counted by address alone.
        token = second.get("/submit").cookies.get(CSRF_COOKIE) or second.cookies[CSRF_COOKIE]
        assert (
            second.post("/auth/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
        )
        assert "Sign in with Hugging Face" in second.get("/submit").text
        anonymous = second.post("/api/v1/submissions", json=submission_body(SPARE[3]))
        assert anonymous.status_code == 201, anonymous.text


def test_sign_in_can_be_required(
    sqlite_url: str, sqlite_engine: Engine, hub: HubServer, tmp_path: Path, provider: OidcProvider
) -> None:
    app = signed_in_app(sqlite_url, tmp_path, provider, submit_requires_sign_in=True)
    with build_client(app, hub, tmp_path / "cache", None) as client:
        refused = client.post("/api/v1/submissions/validate", json=submission_body())
        assert refused.status_code == 401 and "Sign in with Hugging Face" in refused.json()["detail"]
        sign_in(client)
        assert client.post("/api/v1/submissions/validate", json=submission_body()).status_code == 200


def test_a_forged_callback_is_refused(
    sqlite_url: str, sqlite_engine: Engine, tmp_path: Path, provider: OidcProvider
) -> None:
    with TestClient(signed_in_app(sqlite_url, tmp_path, provider)) as client:
        client.get("/auth/login", follow_redirects=False)
        forged = client.get("/auth/callback?code=made-up&state=not-ours", follow_redirects=False)
        assert forged.status_code == 400 and "Sign-in failed" in forged.text
        assert "Signed in" not in client.get("/submit").text


def test_without_configuration_there_is_no_sign_in(client: TestClient) -> None:
    assert client.get("/auth/login").status_code == 404
    assert "Sign in" not in client.get("/submit").text
    assert "set-cookie" not in {key.lower() for key in client.get("/").headers}


def test_signed_in_maintainers_run_the_board(
    sqlite_url: str, sqlite_engine: Engine, hub: HubServer, tmp_path: Path, provider: OidcProvider
) -> None:
    """A user on MAINTAINERS gets the admin API and pages once signed in; anyone else gets a 403."""
    maintained = signed_in_app(sqlite_url, tmp_path, provider, maintainers=["Alice"])
    with build_client(maintained, hub, tmp_path / "cache", None) as client:
        assert client.get("/api/v1/admin/whoami").status_code == 401
        sign_in(client)
        assert client.get("/api/v1/admin/whoami").json() == {"name": "alice", "via": "session"}
        assert "Signed in as <strong>alice</strong>" in client.get("/admin").text
    other = signed_in_app(sqlite_url, tmp_path, provider, maintainers=["bob"])
    with build_client(other, hub, tmp_path / "cache", None) as client:
        sign_in(client)
        refused = client.get("/api/v1/admin/queue")
        assert refused.status_code == 403
        assert refused.json()["detail"] == "alice is not a maintainer of this board."
