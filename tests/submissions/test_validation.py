"""Every submission check refuses with its own message, through POST /api/v1/submissions and /validate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.services.intake.hub import HubClient, HubNotFoundError
from tests.submissions.conftest import (
    BAD_CONFIG,
    BAD_TOKENIZER,
    CAUSAL_LM,
    DPO_POLICY,
    GATED,
    GOOD,
    NO_METADATA,
    NO_TEMPLATE,
    PICKLE_ONLY,
    PRIVATE,
    REMOTE_CODE,
    SPARE,
    TWO_LABELS,
    SentMessages,
    build_client,
    make_settings,
    submission_body,
)
from tests.support.hub_server import HubServer


def failed_check(response: Any) -> dict[str, Any]:
    body = response.json()
    failures = [check for check in body["checks"] if not check["ok"]]
    assert failures, body
    assert body["detail"] == failures[0]["message"]
    return failures[0]


@pytest.mark.parametrize(
    ("body", "check", "words"),
    [
        (submission_body("not a repo id!"), "repo_id", "not a valid Hub model id: ' ' is not allowed"),
        (
            submission_body("org/a--b"),
            "repo_id",
            "'org/a--b' is not a valid Hub model id: 'a--b' contains '--'",
        ),
        (submission_body("just-a-name"), "repo_id", "namespace"),
        (submission_body(model_type="generative"), "model_type", "imported from published files only"),
        (submission_body(model_type="custom-classifier"), "model_type", "cannot be submitted"),
        (submission_body("tiny-org/does-not-exist"), "hub_model", "not found on the Hub, or it is private"),
        (submission_body(PRIVATE), "hub_model", "not found on the Hub, or it is private"),
        (submission_body(GOOD, revision="no-such-branch"), "hub_model", "has no revision 'no-such-branch'"),
        (submission_body(GATED), "hub_model", "is gated"),
        (submission_body(PICKLE_ONLY), "safetensors", "Only pickle weights were found (pytorch_model.bin)"),
        (submission_body(REMOTE_CODE), "config", "needs custom code"),
        (submission_body(BAD_CONFIG), "config", "transformers could not read config.json"),
        (submission_body(CAUSAL_LM), "architecture", "needs a *ForSequenceClassification head"),
        (
            submission_body(GOOD, model_type="dpo", settings={"reference_model": CAUSAL_LM}),
            "architecture",
            "A DPO policy needs a causal language-model head",
        ),
        (
            submission_body(GOOD, model_type="judge-rubric"),
            "architecture",
            "A judge needs a causal language-model head",
        ),
        (submission_body(TWO_LABELS), "architecture", "has 2 labels"),
        (submission_body(BAD_TOKENIZER), "tokenizer", "tokenizer could not be loaded"),
    ],
)
def test_each_check_refuses_with_its_message(
    client: TestClient, sent: SentMessages, body: dict[str, Any], check: str, words: str
) -> None:
    response = client.post("/api/v1/submissions", json=body)
    assert response.status_code == 422, response.text
    failure = failed_check(response)
    assert failure["name"] == check
    assert words in failure["message"]
    assert sent.ids == []
    assert client.get("/api/v1/submissions").json()["items"] == []


def test_pickle_only_repo_is_refused_before_any_weight_is_downloaded(
    client: TestClient, hub: HubServer
) -> None:
    client.post("/api/v1/submissions", json=submission_body(PICKLE_ONLY))
    assert not hub.downloaded(".bin")


def test_parameter_limit(tmp_path: Path, hub: HubServer, sqlite_url: str, sqlite_engine: Any) -> None:
    settings = make_settings(sqlite_url, tmp_path / "data", max_parameters=1000)
    with build_client(create_app(settings), hub, tmp_path / "cache", SentMessages()) as client:
        response = client.post("/api/v1/submissions", json=submission_body())
        assert response.status_code == 422
        failure = failed_check(response)
        assert failure["name"] == "parameters"
        assert "the limit here is 1,000" in failure["message"]
        # Without safetensors info in the model info, the count comes from the file headers.
        response = client.post("/api/v1/submissions", json=submission_body(NO_METADATA))
        assert failed_check(response)["name"] == "parameters"


def test_opt_out(tmp_path: Path, hub: HubServer, sqlite_url: str, sqlite_engine: Any) -> None:
    settings = make_settings(sqlite_url, tmp_path / "data", opt_out_namespaces=["Tiny-Org"])
    with build_client(create_app(settings), hub, tmp_path / "cache", SentMessages()) as client:
        response = client.post("/api/v1/submissions", json=submission_body())
        assert response.status_code == 403
        assert "asked that their models not be evaluated" in failed_check(response)["message"]


def test_namespace_policies_of_maintainers(
    tmp_path: Path, hub: HubServer, sqlite_url: str, sqlite_engine: Any
) -> None:
    """A maintainer's opt-out refuses the namespace; a quota of its own replaces RATE_LIMIT_COUNT."""
    from sqlalchemy.orm import sessionmaker

    from app.services.operations import namespaces
    from app.services.operations.maintainers import Actor

    settings = make_settings(sqlite_url, tmp_path / "data", rate_limit_count=5)
    factory = sessionmaker(sqlite_engine)
    operator = Actor("operator", "token")
    with factory.begin() as session:
        namespaces.set_policy(session, operator, "tiny-org", opted_out=True, submission_quota=None, note=None)
    with build_client(create_app(settings), hub, tmp_path / "cache", SentMessages()) as client:
        response = client.post("/api/v1/submissions", json=submission_body())
        assert response.status_code == 403
        assert "asked that their models not be evaluated" in failed_check(response)["message"]
        with factory.begin() as session:
            namespaces.set_policy(
                session, operator, "tiny-org", opted_out=False, submission_quota=0, note=None
            )
        response = client.post("/api/v1/submissions", json=submission_body())
        assert response.status_code == 429
        assert "the limit is 0" in failed_check(response)["message"]


def test_rate_limit_answers_429_with_retry_after(
    tmp_path: Path, hub: HubServer, sqlite_url: str, sqlite_engine: Any
) -> None:
    settings = make_settings(sqlite_url, tmp_path / "data", rate_limit_count=2, rate_limit_days=7)
    with build_client(create_app(settings), hub, tmp_path / "cache", SentMessages()) as client:
        for name in SPARE[:2]:
            assert client.post("/api/v1/submissions", json=submission_body(name)).status_code == 201
        response = client.post("/api/v1/submissions", json=submission_body(SPARE[2]))
        assert response.status_code == 429
        retry_after = int(response.headers["Retry-After"])
        assert 6 * 86400 < retry_after <= 7 * 86400
        assert "spare-org has made 2 submissions in the last 7 days" in failed_check(response)["message"]
        # Other namespaces are not affected.
        assert client.post("/api/v1/submissions", json=submission_body(GOOD)).status_code == 201


def test_maintainers_are_not_rate_limited(
    tmp_path: Path, hub: HubServer, sqlite_url: str, sqlite_engine: Any
) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import sessionmaker

    from app.db.models import Submission

    token = "maintainer-token-0123456789abcdefghij"
    settings = make_settings(sqlite_url, tmp_path / "data", rate_limit_count=1, admin_token=token)
    with build_client(create_app(settings), hub, tmp_path / "cache", SentMessages()) as client:
        assert client.post("/api/v1/submissions", json=submission_body(SPARE[0])).status_code == 201
        assert client.post("/api/v1/submissions", json=submission_body(SPARE[1])).status_code == 429
        as_operator = client.post(
            "/api/v1/submissions",
            json=submission_body(SPARE[1]),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert as_operator.status_code == 201, as_operator.text
    with sessionmaker(sqlite_engine)() as session:
        submitters = session.scalars(select(Submission.submitter).order_by(Submission.id)).all()
    assert submitters == [None, "operator"]


def test_duplicate_is_refused_with_a_link(client: TestClient, hub: HubServer) -> None:
    first = client.post("/api/v1/submissions", json=submission_body())
    assert first.status_code == 201, first.text
    submission_id = first.json()["submission"]["id"]
    sha = hub.repo(GOOD).sha  # type: ignore[union-attr]
    for revision in ("main", sha):  # the branch and the commit it points to are the same submission
        again = client.post("/api/v1/submissions", json=submission_body(revision=revision))
        assert again.status_code == 409
        assert again.json()["duplicate_url"] == f"/submissions/{submission_id}"
        assert failed_check(again)["name"] == "duplicate"
    # Another configuration of the same commit is a different submission.
    other = client.post("/api/v1/submissions", json=submission_body(settings={"chat_template": "tulu"}))
    assert other.status_code == 201


def test_accepted_submission_is_pinned_queued_and_sent(
    client: TestClient, hub: HubServer, sent: SentMessages
) -> None:
    response = client.post("/api/v1/submissions", json=submission_body(NO_TEMPLATE))
    assert response.status_code == 201, response.text
    body = response.json()
    submission = body["submission"]
    assert submission["commit"] == hub.repo(NO_TEMPLATE).sha  # type: ignore[union-attr]
    assert submission["status"] == "queued"
    assert submission["has_chat_template"] is False
    assert submission["sent_to_worker"] is True
    assert submission["queue_position"] == 1
    assert submission["eta_seconds"] > 0
    assert body["message"] == "Queued for evaluation."
    assert response.headers["Location"] == f"/api/v1/submissions/{submission['id']}"
    assert sent.ids == [submission["id"]]
    assert client.get(f"/api/v1/submissions/{submission['id']}").json()["status"] == "queued"


def test_validate_runs_every_check_and_records_nothing(client: TestClient, sent: SentMessages) -> None:
    response = client.post("/api/v1/submissions/validate", json=submission_body())
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    names = [check["name"] for check in body["checks"]]
    assert names == [
        "repo_id", "model_type", "iteration_of", "opt_out", "rate_limit", "hub_model", "safetensors",
        "parameters", "config", "architecture", "tokenizer", "duplicate", "memory",
    ]  # fmt: skip
    assert all(check["ok"] and check["message"] for check in body["checks"])
    assert client.get("/api/v1/submissions").json()["items"] == [] and sent.ids == []


def test_validate_reports_several_failures_and_skips_what_depends_on_them(client: TestClient) -> None:
    body = client.post(
        "/api/v1/submissions/validate", json=submission_body(PICKLE_ONLY, model_type="generative")
    ).json()
    by_name = {check["name"]: check for check in body["checks"]}
    assert body["ok"] is False
    assert not by_name["model_type"]["ok"]
    assert by_name["hub_model"]["ok"] and by_name["config"]["ok"]
    for name in ("architecture", "tokenizer", "duplicate"):
        assert by_name[name]["skipped"] and "model_type" in by_name[name]["message"]
    body = client.post("/api/v1/submissions/validate", json=submission_body(PICKLE_ONLY)).json()
    by_name = {check["name"]: check for check in body["checks"]}
    assert not by_name["safetensors"]["ok"] and not by_name["safetensors"]["skipped"]
    assert by_name["parameters"]["skipped"] and by_name["memory"]["skipped"]
    assert by_name["config"]["ok"] and by_name["tokenizer"]["ok"]


@pytest.mark.parametrize("model", ["a/b/c", "../x", "a//b", "org/"])
def test_a_path_like_model_id_is_refused_in_the_boards_words(
    client: TestClient, hub: HubServer, model: str
) -> None:
    expected = (
        f"{model!r} is not a valid Hub model id: use the form 'org/name', one owner and one model name."
    )
    before = len(hub.requests)
    response = client.post("/api/v1/submissions", json=submission_body(model))
    assert response.status_code == 422, response.text
    assert failed_check(response) == {"name": "repo_id", "ok": False, "skipped": False, "message": expected}
    response = client.post("/api/v1/submissions/validate", json=submission_body(model))
    assert response.status_code == 200, response.text
    assert response.json()["checks"][0] == {
        "name": "repo_id",
        "ok": False,
        "skipped": False,
        "message": expected,
    }
    assert len(hub.requests) == before


@pytest.mark.parametrize("reference", ["a/b/c", "../x"])
def test_a_path_like_reference_model_is_refused_in_the_boards_words(
    client: TestClient, reference: str
) -> None:
    body = submission_body(DPO_POLICY, model_type="dpo", settings={"reference_model": reference})
    expected = f"{reference!r} is not a valid Hub model id: use the form 'org/name'"
    for url, status in (("/api/v1/submissions", 422), ("/api/v1/submissions/validate", 200)):
        response = client.post(url, json=body)
        assert response.status_code == status, response.text
        check = {check["name"]: check for check in response.json()["checks"]}["reference_model"]
        assert not check["ok"] and not check["skipped"]
        assert expected in check["message"] and "repo_type" not in check["message"], check


@pytest.mark.parametrize("model", [REMOTE_CODE, BAD_CONFIG])
def test_validate_reports_what_needs_an_unreadable_config_as_not_checked(
    client: TestClient, model: str
) -> None:
    response = client.post("/api/v1/submissions/validate", json=submission_body(model))
    assert response.status_code == 200, response.text
    by_name = {check["name"]: check for check in response.json()["checks"]}
    assert not by_name["config"]["ok"] and not by_name["config"]["skipped"]
    assert by_name["parameters"]["ok"]
    for name in ("architecture", "tokenizer", "memory"):
        assert by_name[name]["skipped"], by_name[name]
        assert by_name[name]["message"] == "Not checked: needs the 'config' check to pass first."


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (submission_body(model_type="dpo"), "scored against a reference model"),
        (submission_body(settings={"reference_model": "org/ref"}), "is not a setting of this model type"),
        (submission_body(model_type="judge-pairwise", settings={"seed": -1}), "settings.seed"),
        (submission_body(model_type="judge-rubric", settings={"max_new_tokens": 10**5}), "less than"),
        (submission_body(model_type="reranker"), "unknown model type"),
    ],
)
def test_settings_are_checked_against_the_kind_before_any_hub_call(
    client: TestClient, hub: HubServer, body: dict[str, Any], words: str
) -> None:
    before = len(hub.requests)
    for url in ("/api/v1/submissions", "/api/v1/submissions/validate"):
        response = client.post(url, json=body)
        assert response.status_code == 422, response.text
        assert words in response.text
    assert len(hub.requests) == before


def test_hub_down_answers_503(client: TestClient, hub: HubServer) -> None:
    hub.down = True
    try:
        response = client.post("/api/v1/submissions", json=submission_body())
    finally:
        hub.down = False
    assert response.status_code == 503
    assert "Hub" in response.json()["detail"]


def test_unknown_submission_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/submissions/12345").status_code == 404


def test_hub_client_refuses_an_id_the_hub_library_rejects_in_words(hub: HubServer, tmp_path: Path) -> None:
    with pytest.raises(HubNotFoundError) as refused:
        HubClient(hub.url, cache_dir=tmp_path).model_info("a/b/c", "main")
    assert refused.value.message == "'a/b/c' is not a valid Hub model id."


def test_hub_client_dependency_default_uses_the_configured_cache(tmp_path: Path) -> None:
    client = HubClient(cache_dir=tmp_path)
    assert client.endpoint.startswith("http")


def test_list_filters_by_status_and_reports_the_queue(client: TestClient) -> None:
    created = client.post("/api/v1/submissions", json=submission_body()).json()["submission"]
    listing = client.get("/api/v1/submissions", params={"status": "queued"}).json()
    assert [item["id"] for item in listing["items"]] == [created["id"]]
    assert (
        listing["items"][0]["queue_position"] == 1
        and listing["items"][0]["url"] == f"/submissions/{created['id']}"
    )
    assert listing["queue"] == {
        "running": 0,
        "waiting": 1,
        "typical_run_seconds": 900,
        "estimate_is_default": True,
    }
    assert client.get("/api/v1/submissions", params={"status": "succeeded"}).json()["items"] == []
    assert client.get("/api/v1/submissions", params={"status": "bogus"}).status_code == 422
