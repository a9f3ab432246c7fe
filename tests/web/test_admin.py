"""The admin API and the public audit log: maintainers only, every action logged, the board follows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import ConfigurationError, Settings
from app.db.models import AuditEvent, EvaluationResult, Submission, SubmissionStatus
from app.db.repositories import submissions as submissions_repo
from app.db.repositories.results import get_or_create_reward_model
from app.services.operations.maintainers import MaintainerAccess, ensure_embedded_token
from tests.support.web_app import board_app
from tests.web.factories import make_result

TOKEN = "test-operator-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RUN_CONFIG = {"benchmark": "rewardbench-v1", "model_type": "classifier", "max_length": 2048}


@pytest.fixture
def admin_app(db_url: str, tmp_path: Path) -> FastAPI:
    settings = Settings(
        database_url=db_url, data_dir=tmp_path, secret_key="test-only-secret", admin_token=TOKEN
    )
    return board_app(settings)


@pytest.fixture
def admin(admin_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(admin_app) as test_client:
        yield test_client


def board_models(client: TestClient, **params: str) -> dict[str, dict[str, Any]]:
    answer = client.get("/api/v1/leaderboard", params={"per_page": "1000", **params})
    assert answer.status_code == 200, answer.text
    return {row["model"]: row for row in answer.json()["rows"]}


def changelog_actions(client: TestClient, **params: str) -> list[tuple[str, str | None]]:
    entries = client.get("/api/v1/changelog", params=params).json()["entries"]
    return [(entry["action"], entry["model"]) for entry in entries]


def queued_submission(session: Session, hub_id: str, *, queue: str = "gpu-16") -> int:
    model = get_or_create_reward_model(session, hub_id=hub_id)
    submission = submissions_repo.add_submission(
        session,
        submissions_repo.NewSubmission(
            reward_model_id=model.id,
            requested_revision="main",
            resolved_commit="a" * 40,
            model_type="classifier",
            benchmark="rewardbench-v1",
            run_config=RUN_CONFIG,
            config_key=hub_id,
            has_chat_template=True,
            submitter=None,
            queue=queue,
        ),
    )
    return submission.id


def test_admin_api_needs_a_maintainer(admin: TestClient) -> None:
    missing = admin.get("/api/v1/admin/queue")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "operator token" in missing.json()["detail"]
    assert admin.get("/api/v1/admin/queue", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert admin.get("/api/v1/admin/queue", headers={"Authorization": "Basic eDp5"}).status_code == 401
    hide = admin.post("/api/v1/admin/results/1/hide", json={"reason": "x"})
    assert hide.status_code == 401
    assert admin.get("/api/v1/admin/whoami", headers=AUTH).json() == {"name": "operator", "via": "token"}
    paths = admin.get("/openapi.json").json()["paths"]
    assert "/api/v1/admin/results/{result_id}/hide" in paths


def test_signed_in_users_need_the_list() -> None:
    access = MaintainerAccess(TOKEN, ["Alice"], "secret")
    assert access.actor(authorization=None, session_user="alice", session_mark=None).name == "alice"
    with pytest.raises(Exception) as refused:
        access.actor(authorization=None, session_user="mallory", session_mark=None)
    assert getattr(refused.value, "status_code", None) == 403
    assert access.actor(authorization=None, session_user=None, session_mark=access.session_mark()).name == (
        "operator"
    )
    other = MaintainerAccess(TOKEN + "-rotated", ["Alice"], "secret")
    with pytest.raises(Exception) as stale:
        other.actor(authorization=None, session_user=None, session_mark=access.session_mark())
    assert getattr(stale.value, "status_code", None) == 401


def test_guessable_tokens_are_refused(tmp_path: Path) -> None:
    for token in ("short-token", "change-me", "test-only-secret-test-only-secret-xx"):
        settings = Settings(
            data_dir=tmp_path, secret_key="test-only-secret-test-only-secret-xx", admin_token=token
        )
        with pytest.raises(ConfigurationError):
            settings.check_safe_to_serve()
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    from_file = Settings(data_dir=tmp_path, admin_token_file=token_file)
    assert from_file.resolved_admin_token() == TOKEN
    embedded = Settings(data_dir=tmp_path / "embedded")
    made = ensure_embedded_token(embedded)
    assert made is not None and made.stat().st_mode & 0o077 == 0
    assert len(embedded.resolved_admin_token()) >= 32
    assert ensure_embedded_token(embedded) is None  # kept, not replaced


def test_hidden_result_leaves_the_board_and_is_logged(
    admin: TestClient, seeded: None, db_session_factory: sessionmaker[Session]
) -> None:
    before = board_models(admin)
    model, row = next(iter(before.items()))
    result_id = row["result_id"]
    body = {"reason": "Trained on the test set", "link": "https://github.com/org/repo/issues/1"}
    hidden = admin.post(f"/api/v1/admin/results/{result_id}/hide", json=body, headers=AUTH)
    assert hidden.status_code == 200, hidden.text
    assert hidden.json()["visibility"] == "hidden"

    after = admin.get("/api/v1/leaderboard", params={"per_page": "1000"}).json()
    assert model not in {r["model"] for r in after["rows"]}
    assert after["hidden_results"] == 1
    ranks = sorted(r["rank"] for r in after["rows"] if r["rank"] is not None)
    assert ranks[0] == 1 and len(after["rows"]) == len(before) - 1
    listed = board_models(admin, hidden="true")
    assert list(listed) == [model]
    assert listed[model]["visibility_reason"] == "Trained on the test set" and listed[model]["rank"] is None

    page = admin.get("/")
    assert page.status_code == 200 and "1 hidden result" in page.text
    detail = admin.get(f"/api/v1/models/{model}").json()
    shown = next(r for r in detail["results"] if r["id"] == result_id)
    assert shown["visibility"] == "hidden" and shown["visibility_link"] == body["link"]
    assert shown["rank"] is None
    model_page = admin.get(f"/models/{model}")
    assert "Hidden from the leaderboard" in model_page.text and "Trained on the test set" in model_page.text

    log = admin.get("/api/v1/changelog").json()["entries"]
    assert log[0]["action"] == "result_hidden" and log[0]["actor"] == "operator"
    assert log[0]["reason"] == "Trained on the test set" and log[0]["model"] == model
    assert "Trained on the test set" in admin.get("/changelog").text

    again = admin.post(f"/api/v1/admin/results/{result_id}/hide", json=body, headers=AUTH)
    assert again.status_code == 409
    shown_again = admin.post(f"/api/v1/admin/results/{result_id}/unhide", json={}, headers=AUTH)
    assert shown_again.status_code == 200
    assert model in board_models(admin)
    assert changelog_actions(admin)[0] == ("result_unhidden", model)
    with db_session_factory() as session:
        assert session.scalar(select(func.count(AuditEvent.id))) == 2


def test_flagged_result_stays_marked(admin: TestClient, seeded: None) -> None:
    model, row = next(iter(board_models(admin).items()))
    flagged = admin.post(
        f"/api/v1/admin/results/{row['result_id']}/flag", json={"reason": "Under discussion"}, headers=AUTH
    )
    assert flagged.status_code == 200
    again = board_models(admin)[model]
    assert again["visibility"] == "flagged" and again["rank"] == row["rank"]
    assert "badge-flagged" in admin.get("/").text
    no_reason = admin.post(
        f"/api/v1/admin/results/{row['result_id']}/hide", json={"reason": ""}, headers=AUTH
    )
    assert no_reason.status_code == 422


def test_supersede_moves_the_board_to_the_newer_result(
    admin: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    with db_session_factory.begin() as session:
        newer = make_result(session, "org/model", 0.6).id
        older = make_result(session, "org/model", 0.9, revision="v2", config={"max_length": 2048}).id
        other = make_result(session, "org/other", 0.5).id
    current = board_models(admin)["org/model"]["result_id"]
    stale = older if current == older else newer
    fresh = newer if stale == older else older
    wrong = admin.post(
        f"/api/v1/admin/results/{stale}/supersede", json={"by_result_id": other, "reason": "x"}, headers=AUTH
    )
    assert wrong.status_code == 409 and "same model" in wrong.json()["detail"]
    done = admin.post(
        f"/api/v1/admin/results/{stale}/supersede",
        json={"by_result_id": fresh, "reason": "re-run with the fixed template"},
        headers=AUTH,
    )
    assert done.status_code == 200, done.text
    assert done.json()["superseded_by_id"] == fresh and done.json()["is_current"] is False
    assert board_models(admin)["org/model"]["result_id"] == fresh
    assert changelog_actions(admin)[0] == ("result_superseded", "org/model")


def test_queue_cancel_retry_and_move_up(admin: TestClient, db_session_factory: sessionmaker[Session]) -> None:
    with db_session_factory.begin() as session:
        first = queued_submission(session, "org/first")
        second = queued_submission(session, "org/second")
        third = queued_submission(session, "org/third")
    order = [entry["id"] for entry in admin.get("/api/v1/admin/queue", headers=AUTH).json()]
    assert order == [first, second, third]
    moved = admin.post(f"/api/v1/admin/submissions/{third}/move-up", headers=AUTH)
    assert moved.status_code == 200
    order = [entry["id"] for entry in admin.get("/api/v1/admin/queue", headers=AUTH).json()]
    assert order == [third, first, second]
    with db_session_factory.begin() as session:
        # The worker's message for the first submission runs the moved-up one; the moved-up one's own
        # message then runs the one passed over.
        assert submissions_repo.run_in_slot_of(session, first) == third
        assert submissions_repo.run_in_slot_of(session, second) == third

    cancelled = admin.post(
        f"/api/v1/admin/submissions/{second}/cancel", json={"reason": "duplicate"}, headers=AUTH
    )
    assert cancelled.status_code == 200
    twice = admin.post(f"/api/v1/admin/submissions/{second}/cancel", json={}, headers=AUTH)
    assert twice.status_code == 409
    status = admin.get(f"/api/v1/submissions/{second}").json()
    assert status["status"] == "cancelled" and "duplicate" in (status.get("failure_message") or "")
    retried = admin.post(f"/api/v1/admin/submissions/{second}/retry", headers=AUTH)
    assert retried.status_code == 200  # the broker of the test app may be unreachable: queued either way
    with db_session_factory() as session:
        again = session.get(Submission, second)
        assert again is not None and again.status == SubmissionStatus.QUEUED and again.failure_message is None
    actions = [action for action, _ in changelog_actions(admin)]
    assert actions[:3] == ["submission_retried", "submission_cancelled", "submission_moved_up"]


def test_moved_up_submission_frees_its_slot(db_session_factory: sessionmaker[Session]) -> None:
    from datetime import UTC, datetime

    with db_session_factory.begin() as session:
        first = queued_submission(session, "org/a")
        moved = queued_submission(session, "org/b")
        other_queue = queued_submission(session, "org/c", queue="gpu-80")
        now = datetime.now(UTC)
        for submission_id in (first, moved, other_queue):
            submissions_repo.mark_enqueued(session, submission_id, now=now)
        session.get(Submission, moved).priority = 1  # type: ignore[union-attr]
    with db_session_factory.begin() as session:
        assert submissions_repo.run_in_slot_of(session, first) == moved
        assert submissions_repo.run_in_slot_of(session, other_queue) == other_queue
        claimed = submissions_repo.claim_run(session, moved, owner="w", now=now, lease_seconds=60)
        assert claimed == 1
    with db_session_factory.begin() as session:
        assert (
            submissions_repo.run_in_slot_of(session, moved) == first
        )  # its own message runs the passed-over one
        assert submissions_repo.run_in_slot_of(session, first) == first


def test_delete_model_on_request(admin: TestClient, db_session_factory: sessionmaker[Session]) -> None:
    with db_session_factory.begin() as session:
        make_result(session, "org/gone", 0.7)
        queued_submission(session, "org/gone")
        make_result(session, "org/kept", 0.6)
    refused = admin.post("/api/v1/admin/models/org/gone/delete", json={"reason": ""}, headers=AUTH)
    assert refused.status_code == 422
    done = admin.post(
        "/api/v1/admin/models/org/gone/delete", json={"reason": "author's request"}, headers=AUTH
    )
    assert done.status_code == 200, done.text
    assert done.json()["detail"] == {"submissions": 1, "results": 1}
    assert admin.get("/api/v1/models/org/gone").status_code == 404
    assert set(board_models(admin)) == {"org/kept"}
    assert changelog_actions(admin)[0] == ("model_deleted", "org/gone")
    assert (
        admin.post("/api/v1/admin/models/org/gone/delete", json={"reason": "x"}, headers=AUTH).status_code
        == 404
    )


def test_namespace_policy_is_read_by_the_checks(
    admin: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    from app.services.operations import namespaces

    answer = admin.put(
        "/api/v1/admin/namespaces/SomeOrg",
        json={"opted_out": True, "note": "the authors asked"},
        headers=AUTH,
    )
    assert answer.status_code == 200 and answer.json()["namespace"] == "someorg"
    quota = admin.put("/api/v1/admin/namespaces/busy", json={"submission_quota": 50}, headers=AUTH)
    assert quota.status_code == 200
    bad = admin.put("/api/v1/admin/namespaces/bad name", json={}, headers=AUTH)
    assert bad.status_code in (404, 422)
    with db_session_factory() as session:
        assert namespaces.opted_out(session, "someorg")
        assert namespaces.quota(session, "busy", 5) == 50
        assert namespaces.quota(session, "someorg", 5) == 5
    listed = admin.get("/api/v1/admin/namespaces", headers=AUTH).json()
    assert [policy["namespace"] for policy in listed] == ["busy", "someorg"]


def test_reports_reach_the_inbox(admin: TestClient, db_session_factory: sessionmaker[Session]) -> None:
    with db_session_factory.begin() as session:
        result_id = make_result(session, "org/reported", 0.7).id
    sent = admin.post(
        f"/api/v1/results/{result_id}/reports", json={"reason": "contamination", "text": "see x"}
    )
    assert sent.status_code == 201, sent.text
    assert admin.post(f"/api/v1/results/{result_id}/reports", json={"reason": "nope"}).status_code == 422
    assert admin.post(f"/api/v1/results/{result_id}/reports", json={"reason": "other"}).status_code == 422
    assert admin.post("/api/v1/results/999999/reports", json={"reason": "abuse"}).status_code == 404
    for _ in range(4):
        assert admin.post(f"/api/v1/results/{result_id}/reports", json={"reason": "abuse"}).status_code == 201
    limited = admin.post(f"/api/v1/results/{result_id}/reports", json={"reason": "abuse"})
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    inbox = admin.get("/api/v1/admin/reports", headers=AUTH).json()
    assert len(inbox) == 5 and inbox[-1]["reason"] == "contamination" and inbox[-1]["text"] == "see x"
    assert "client_address" not in inbox[0]
    closed = admin.post(
        f"/api/v1/admin/reports/{inbox[-1]['id']}/close",
        json={"status": "resolved", "resolution": "flagged"},
        headers=AUTH,
    )
    assert closed.status_code == 200 and closed.json()["resolved_by"] == "operator"
    assert len(admin.get("/api/v1/admin/reports", headers=AUTH).json()) == 4
    actions = [action for action, _ in changelog_actions(admin)]
    assert actions[0] == "report_resolved" and actions.count("report_received") == 5


def test_report_form_page(admin: TestClient, db_session_factory: sessionmaker[Session]) -> None:
    with db_session_factory.begin() as session:
        result_id = make_result(session, "org/paged", 0.7).id
    form = admin.get(f"/report?result={result_id}")
    assert form.status_code == 200 and "org/paged" in form.text
    token = admin.cookies.get("rewardboard_csrf")
    expired = admin.post("/report", data={"result": str(result_id), "reason": "abuse", "csrf_token": "x"})
    assert expired.status_code == 403
    sent = admin.post(
        "/report",
        data={"result": str(result_id), "reason": "wrong_score", "text": "odd", "csrf_token": token},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert admin.get("/api/v1/admin/reports", headers=AUTH).json()[0]["text"] == "odd"
    assert f"/report?result={result_id}" in admin.get("/models/org/paged").text


def test_rerun_stale_results_once(admin: TestClient, db_session_factory: sessionmaker[Session]) -> None:
    with db_session_factory.begin() as session:
        model = get_or_create_reward_model(session, hub_id="org/stale")
        origin = submissions_repo.add_submission(
            session,
            submissions_repo.NewSubmission(
                reward_model_id=model.id,
                requested_revision="main",
                resolved_commit="b" * 40,
                model_type="classifier",
                benchmark="rewardbench-v1",
                run_config=RUN_CONFIG,
                config_key="k",
                has_chat_template=True,
                submitter=None,
            ),
        )
        origin.status = SubmissionStatus.SUCCEEDED
        result = make_result(session, "org/stale", 0.7, submission_id=origin.id)
        make_result(session, "org/fresh", 0.7)
        session.get(EvaluationResult, result.id).scoring_version = "old-version"  # type: ignore[union-attr]
    first = admin.post("/api/v1/admin/rerun-stale", json={"benchmark": "rewardbench-v1"}, headers=AUTH)
    assert first.status_code == 200, first.text
    queued = first.json()["detail"]["submission_ids"]
    assert len(queued) == 1
    second = admin.post("/api/v1/admin/rerun-stale", json={}, headers=AUTH)
    assert second.json()["detail"]["submission_ids"] == []
    assert second.json()["detail"]["already_waiting_result_ids"] == [result.id]
    with db_session_factory() as session:
        rerun = session.get(Submission, queued[0])
        assert rerun is not None and rerun.resolved_commit == "b" * 40 and rerun.run_config == RUN_CONFIG
    assert changelog_actions(admin)[0] == ("stale_rerun", "org/stale")


def test_admin_pages(admin_app: FastAPI, seeded: None) -> None:
    # The session cookie is Secure outside development: the browser signs in over https.
    with TestClient(admin_app, base_url="https://testserver") as admin:
        admin_page_flow(admin)


def admin_page_flow(admin: TestClient) -> None:
    sign_in = admin.get("/admin")
    assert sign_in.status_code == 200 and "Operator token" in sign_in.text
    token = admin.cookies.get("rewardboard_csrf")
    wrong = admin.post("/admin/sign-in", data={"token": "nope", "csrf_token": token})
    assert wrong.status_code == 401
    signed = admin.post("/admin/sign-in", data={"token": TOKEN, "csrf_token": token}, follow_redirects=False)
    assert signed.status_code == 303
    page = admin.get("/admin")
    assert "Signed in as" in page.text and "Queue" in page.text
    result_id = next(iter(board_models(admin).values()))["result_id"]
    acted = admin.post(
        "/admin/actions/hide",
        data={"result_id": str(result_id), "reason": "spam", "csrf_token": token},
        follow_redirects=False,
    )
    assert acted.status_code == 303 and "done=" in acted.headers["location"]
    assert changelog_actions(admin)[0][0] == "result_hidden"
    refused = admin.post(
        "/admin/actions/hide",
        data={"result_id": str(result_id), "reason": "spam", "csrf_token": token},
        follow_redirects=False,
    )
    assert "error=" in refused.headers["location"]
    admin.post("/admin/sign-out", data={"csrf_token": token})
    assert "Operator token" in admin.get("/admin").text


def test_cancelling_a_running_submission_stops_its_worker(
    admin: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    from datetime import UTC, datetime

    from app.services.results import runs

    with db_session_factory.begin() as session:
        submission_id = queued_submission(session, "org/running")
    spec = runs.claim(db_session_factory, submission_id, owner="worker-1", lease_seconds=60)
    assert spec is not None
    assert runs.heartbeat(db_session_factory, spec, lease_seconds=60, done=1, total=10)
    cancelled = admin.post(f"/api/v1/admin/submissions/{submission_id}/cancel", json={}, headers=AUTH)
    assert cancelled.status_code == 200
    # The worker's next heartbeat finds its lease gone and stops; nothing it finishes is stored.
    assert not runs.heartbeat(db_session_factory, spec, lease_seconds=60, done=2, total=10)
    with db_session_factory.begin() as session:
        assert not submissions_repo.finish_succeeded(
            session, submission_id, attempt=spec.attempt, now=datetime.now(UTC)
        )


def test_moderation_notifies_the_submitters_webhook(
    admin: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    from app.db.models import WebhookDelivery

    with db_session_factory.begin() as session:
        submission_id = queued_submission(session, "org/hooked")
        submission = session.get(Submission, submission_id)
        assert submission is not None
        submission.webhook_url, submission.webhook_secret = "https://example.org/hook", "s" * 32
        submission.status = SubmissionStatus.SUCCEEDED
        result_id = make_result(session, "org/hooked", 0.7, submission_id=submission_id).id
    hidden = admin.post(f"/api/v1/admin/results/{result_id}/hide", json={"reason": "duplicate"}, headers=AUTH)
    assert hidden.status_code == 200
    with db_session_factory() as session:
        events = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.submission_id == submission_id)
        )
        deliveries = {delivery.event: delivery for delivery in events}
    assert set(deliveries) == {"hidden"}
    assert deliveries["hidden"].payload.get("reason") == "duplicate"
