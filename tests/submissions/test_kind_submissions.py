"""Submitting each kind: its settings, its own checks (a DPO reference checked like the model), pinning,
routing by memory and time, and model series (no worker: messages are recorded, not run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.submissions.conftest import (
    CAUSAL_LM,
    DPO_POLICY,
    DPO_SFT,
    GOOD,
    JUDGE_A,
    JUDGE_FOUR,
    NO_TEMPLATE_LM,
    OTHER_VOCAB,
    SPARE,
    SentMessages,
    build_client,
    make_settings,
    submission_body,
)
from tests.support.hub_server import HubServer


def checks_of(response: Any) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in response.json()["checks"]}


def dpo(model: str = DPO_POLICY, **settings: Any) -> dict[str, Any]:
    return submission_body(model, model_type="dpo", settings=settings)


def test_dpo_reference_is_checked_like_the_model_and_pinned(
    client: TestClient, hub: HubServer, sent: SentMessages
) -> None:
    report = client.post("/api/v1/submissions/validate", json=dpo(reference_model=DPO_SFT))
    assert report.status_code == 200 and report.json()["ok"], report.text
    checks = checks_of(report)
    for name in ("reference_model", "reference_architecture", "reference_tokenizer", "memory"):
        assert checks[name]["ok"], checks[name]
    sft_sha = hub.repo(DPO_SFT).sha  # type: ignore[union-attr]
    assert sft_sha in checks["reference_model"]["message"]
    assert "LlamaForCausalLM" in checks["architecture"]["message"]

    created = client.post("/api/v1/submissions", json=dpo(reference_model=DPO_SFT))
    assert created.status_code == 201, created.text
    stored = created.json()["submission"]["settings"]
    assert stored == {
        "reference_model": DPO_SFT,
        "reference_revision": sft_sha,  # the branch is pinned to its commit
        "reference_from_card": False,
        "chat_template": "auto",
    }
    # The reference named by its commit is the same configuration: a duplicate.
    again = client.post("/api/v1/submissions", json=dpo(reference_model=DPO_SFT, reference_revision=sft_sha))
    assert again.status_code == 409
    # Taken from the model card, the reference is the card's base_model, pinned the same way: also a duplicate
    # only in its from-card flag, so a new configuration.
    from_card = client.post("/api/v1/submissions", json=dpo(reference_from_card=True))
    assert from_card.status_code == 201, from_card.text
    assert from_card.json()["submission"]["settings"]["reference_model"] == DPO_SFT
    assert len(sent.ids) == 2


@pytest.mark.parametrize(
    ("body", "check", "words"),
    [
        (dpo(reference_model="tiny-org/no-such-sft"), "reference_model", "not found on the Hub"),
        (dpo(reference_model=DPO_POLICY), "reference_model", "another model than the policy"),
        (dpo(reference_model=OTHER_VOCAB), "reference_tokenizer", "another vocabulary"),
        (dpo(reference_model=GOOD), "reference_architecture", "causal language-model head"),
        (dpo(DPO_SFT, reference_from_card=True), "reference_model", "names no base_model"),
        (
            dpo(reference_model=CAUSAL_LM, reference_from_card=True),
            "reference_model",
            "names tiny-org/dpo-sft",
        ),
        (
            submission_body(NO_TEMPLATE_LM, model_type="judge-pairwise"),
            "tokenizer",
            "prompted through its chat template",
        ),
        (submission_body(GOOD, model_type="dpo-ref-free"), "architecture", "causal language-model head"),
    ],
)
def test_kind_checks_refuse_in_words(
    client: TestClient, sent: SentMessages, body: dict[str, Any], check: str, words: str
) -> None:
    response = client.post("/api/v1/submissions", json=body)
    assert response.status_code == 422, response.text
    failures = [item for item in response.json()["checks"] if not item["ok"]]
    assert failures[0]["name"] == check and words in failures[0]["message"], failures
    assert sent.ids == []


def test_judges_and_reference_free_are_accepted_with_their_settings(
    client: TestClient, sent: SentMessages
) -> None:
    judge = submission_body(
        JUDGE_A, model_type="judge-pairwise", settings={"both_orders": True, "seed": 7, "max_new_tokens": 64}
    )
    created = client.post("/api/v1/submissions", json=judge)
    assert created.status_code == 201, created.text
    assert created.json()["submission"]["settings"] == {
        "both_orders": True,
        "seed": 7,
        "max_new_tokens": 64,
        "score_with_ratings": False,
    }
    rubric = submission_body(JUDGE_FOUR, model_type="judge-rubric", benchmark="rewardbench-v2")
    assert client.post("/api/v1/submissions", json=rubric).status_code == 201
    free = submission_body(DPO_POLICY, model_type="dpo-ref-free", settings={"normalization": "sum"})
    assert client.post("/api/v1/submissions", json=free).status_code == 201
    kinds = {item["model_type"] for item in client.get("/api/v1/submissions").json()["items"]}
    assert kinds == {"judge-pairwise", "judge-rubric", "dpo-ref-free"}
    assert len(sent.ids) == 3


def test_model_types_route_lists_each_kind_and_its_settings(client: TestClient) -> None:
    types = {item["key"]: item for item in client.get("/api/v1/model-types").json()}
    assert {"classifier", "dpo", "dpo-ref-free", "judge-pairwise", "judge-rubric"} <= set(types)
    assert not types["generative"]["evaluable"] and types["dpo"]["evaluable"]
    assert types["judge-pairwise"]["ties"] == "shared" and types["dpo"]["ties"] == "strict"
    assert types["dpo-ref-free"]["ranked_with_others"] is False
    settings = {field["name"]: field for field in types["judge-pairwise"]["settings"]}
    assert settings["both_orders"]["input"] == "checkbox" and settings["max_new_tokens"]["maximum"] == 4096


def test_routing_by_memory_and_time_by_kind(
    tmp_path: Path, hub: HubServer, sqlite_url: str, sqlite_engine: Any
) -> None:
    # Every run needs its weights plus about 1 GB; a 1 GB tier holds none of them, a 2 GB tier the tiny ones.
    settings = make_settings(sqlite_url, tmp_path / "data", queue_memory_tiers_gb=[1.0, 2.0])
    sent = SentMessages()
    with build_client(create_app(settings), hub, tmp_path / "cache", sent) as client:
        classifier = client.post("/api/v1/submissions", json=submission_body(SPARE[5]))
        assert classifier.status_code == 201, classifier.text
        judge = client.post("/api/v1/submissions", json=submission_body(JUDGE_A, model_type="judge-pairwise"))
        assert judge.status_code == 201, judge.text
        both = client.post(
            "/api/v1/submissions",
            json=submission_body(JUDGE_FOUR, model_type="judge-pairwise", settings={"both_orders": True}),
        )
        assert both.status_code == 201
        queue = client.get("/api/v1/submissions").json()["items"]
    assert [route.queue for route in sent.routes] == ["evaluations-2g"] * 3
    limits = [route.time_limit_s for route in sent.routes]
    assert limits[0] == settings.eval_time_limit_s < limits[1] < limits[2] <= settings.eval_max_time_limit_s
    assert all(route.soft_time_limit_s < route.time_limit_s for route in sent.routes)
    # ETAs: a judge waits behind a judge far longer than behind a classifier.
    etas = {item["model"]: item["eta_seconds"] for item in queue}
    assert etas[JUDGE_FOUR] - etas[JUDGE_A] > etas[JUDGE_A] - etas[SPARE[5]] > 0
    small = make_settings(sqlite_url, tmp_path / "data", queue_memory_tiers_gb=[1.0])
    with build_client(create_app(small), hub, tmp_path / "cache", SentMessages()) as client:
        refused = client.post("/api/v1/submissions", json=submission_body(SPARE[6]))
        assert refused.status_code == 422
        failure = next(check for check in refused.json()["checks"] if not check["ok"])
        assert failure["name"] == "memory" and "the largest workers here (1 GB)" in failure["message"]


def test_series_links_refuse_unknown_predecessors_and_cycles(client: TestClient) -> None:
    first, second, third = SPARE[0], SPARE[1], SPARE[2]

    def submit(model: str, predecessor: str | None, **extra: Any) -> Any:
        return client.post(
            "/api/v1/submissions", json=submission_body(model, iteration_of=predecessor, **extra)
        )

    unknown = submit(second, first)
    assert unknown.status_code == 422
    assert checks_of(unknown)["iteration_of"]["message"].startswith(f"{first} is not on this board")
    assert submit(first, None).status_code == 201
    linked = submit(second, first)
    assert linked.status_code == 201, linked.text
    assert linked.json()["submission"]["iteration_of"] == first
    assert submit(third, second).status_code == 201
    itself = submit(first, first.upper(), settings={"chat_template": "tulu"})
    assert "cannot be an iteration of itself" in checks_of(itself)["iteration_of"]["message"]
    cycle = submit(first, third, settings={"chat_template": "tulu"})
    assert cycle.status_code == 422
    assert "would make the series a loop" in checks_of(cycle)["iteration_of"]["message"]
    other = submit(third, first, settings={"chat_template": "tulu"})
    assert f"already recorded as an iteration of {second}" in checks_of(other)["iteration_of"]["message"]
    # The same predecessor again (another configuration) is fine.
    assert submit(third, second, settings={"chat_template": "tulu"}).status_code == 201

    series = client.get(f"/api/v1/series/{third}")
    assert series.status_code == 200, series.text
    body = series.json()
    assert body["root"] == first
    assert [(m["model"], m["iteration"], m["iteration_of"]) for m in body["members"]] == [
        (first, 0, None),
        (second, 1, first),
        (third, 2, second),
    ]
    assert body["tracks"] == []  # nothing evaluated yet
    page = client.get(f"/series/{first}")
    assert page.status_code == 200 and third in page.text
    model = client.get(f"/api/v1/models/{second}").json()
    assert model["series"] == first
    assert client.get(f"/api/v1/series/{GOOD}").status_code == 404
