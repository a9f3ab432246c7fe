"""Every new kind end to end: submitted through the API, run by a worker from the Hub stand-in, stored, and
shown on the leaderboard under its own type, on RewardBench v1 and 2; a series of three iterations."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.main import create_app
from tests.submissions.conftest import (
    DPO_POLICY,
    DPO_SFT,
    JUDGE_A,
    JUDGE_FOUR,
    Process,
    build_client,
    make_settings,
    submission_body,
    wait_for_run,
    wait_until,
    worker_env,
)
from tests.support.hub_server import HubServer

pytestmark = pytest.mark.slow

V1, V2 = "rewardbench-v1", "rewardbench-v2"


def test_each_kind_is_evaluated_and_listed_under_its_type(
    tmp_path: Path,
    hub: HubServer,
    sqlite_url: str,
    sqlite_engine: Any,
    start_worker: Callable[[dict[str, str]], Process],
) -> None:
    settings = make_settings(sqlite_url, tmp_path / "data", rate_limit_count=100)
    worker = start_worker(worker_env(settings, hub, tmp_path))
    runs = [
        # A series of three iterations, all scored without a reference (one track of three points).
        submission_body(DPO_SFT, model_type="dpo-ref-free"),
        submission_body(DPO_POLICY, model_type="dpo-ref-free", iteration_of=DPO_SFT),
        submission_body(JUDGE_A, model_type="dpo-ref-free", iteration_of=DPO_POLICY),
        # The policy against its reference (named, and taken from its card), and as a judge.
        submission_body(DPO_POLICY, model_type="dpo", settings={"reference_model": DPO_SFT}),
        submission_body(DPO_POLICY, model_type="dpo", settings={"reference_from_card": True}, benchmark=V2),
        submission_body(DPO_POLICY, model_type="judge-rubric", settings={"max_new_tokens": 4}),
        # A judge that always answers [[A]], in both orders; and on RewardBench 2 (four answers, Ties rated).
        submission_body(
            JUDGE_A, model_type="judge-pairwise", settings={"both_orders": True, "max_new_tokens": 8}
        ),
        submission_body(JUDGE_A, model_type="judge-pairwise", settings={"max_new_tokens": 8}, benchmark=V2),
        submission_body(JUDGE_FOUR, model_type="judge-rubric", settings={"max_new_tokens": 8}, benchmark=V2),
    ]
    with build_client(create_app(settings), hub, tmp_path / "cache", send=None) as client:
        ids = []
        for body in runs:
            created = client.post("/api/v1/submissions", json=body)
            assert created.status_code == 201, created.text
            ids.append(created.json()["submission"]["id"])

        def finished() -> list[dict[str, Any]] | None:
            bodies = [client.get(f"/api/v1/submissions/{sid}").json() for sid in ids]
            return bodies if all(b["status"] in ("succeeded", "failed") for b in bodies) else None

        try:
            bodies = wait_until(finished, timeout=900, interval=2, what="every submission to finish")
        except AssertionError:
            raise AssertionError(worker.tail()) from None
        for body in bodies:
            assert body["status"] == "succeeded", (body, worker.tail())
            assert body["progress_done"] == body["progress_total"] > 0

        # Each on its benchmark's board (partial runs: one row a subset), under its own type.
        def board(benchmark: str, **params: str) -> set[tuple[str, str]]:
            query = {"benchmark": benchmark, "partial": "true", "per_page": "100", **params}
            rows = client.get("/api/v1/leaderboard", params=query).json()["rows"]
            return {(row["model"], row["model_type"]) for row in rows}

        v1 = board(V1)
        assert {(DPO_POLICY, "dpo"), (DPO_POLICY, "judge-rubric"), (JUDGE_A, "judge-pairwise")} <= v1
        # Reference-free results are shown apart: only when their type is asked for.
        assert not any(kind == "dpo-ref-free" for _, kind in v1)
        free = board(V1, model_type="dpo-ref-free")
        assert free == {(DPO_SFT, "dpo-ref-free"), (DPO_POLICY, "dpo-ref-free"), (JUDGE_A, "dpo-ref-free")}
        v2 = board(V2)
        assert v2 == {(DPO_POLICY, "dpo"), (JUDGE_A, "judge-pairwise"), (JUDGE_FOUR, "judge-rubric")}

        results = {
            (result["benchmark"], result["model_type"]): result
            for model in (DPO_POLICY, JUDGE_A, JUDGE_FOUR)
            for result in client.get(f"/api/v1/models/{model}").json()["results"]
        }
        dpo_v1 = results[(V1, "dpo")]
        assert dpo_v1["config"]["kind_settings"]["reference_model"] == DPO_SFT
        assert dpo_v1["reproducibility"]["reference"]["model"] == DPO_SFT
        assert dpo_v1["reproducibility"]["reference"]["resolved_commit"] == hub.repo(DPO_SFT).sha  # type: ignore[union-attr]
        assert results[(V2, "dpo")]["config"]["kind_settings"]["reference_model"] == DPO_SFT

        # An always-A judge in both orders: every verdict follows the slot, so every pair is a tie (0.5).
        both = results[(V1, "judge-pairwise")]
        diagnostics = both["reproducibility"]["diagnostics"]
        assert diagnostics["position_bias_rate"] == 1.0 and diagnostics["parse_failure_rate"] == 0.0
        assert diagnostics["tie_rate"] == 1.0
        assert all(subset["value"] == 0.5 for subset in both["subsets"])
        examples = client.get(
            f"/api/v1/models/{JUDGE_A}/examples", params={"result_id": both["id"], "per_page": 5}
        ).json()
        detail = examples["items"][0]["detail"]
        assert [order["verdict"] for order in detail["orders"]] == ["A", "A"]
        assert sorted(tuple(order["slots"]) for order in detail["orders"]) == [(0, 1), (1, 0)]
        # The rubric judge's constant "Score: 4": every pair ties; the random policy's answers never parse.
        assert results[(V2, "judge-rubric")]["reproducibility"]["diagnostics"]["parse_failure_rate"] == 0.0
        policy_rubric = results[(V1, "judge-rubric")]["reproducibility"]["diagnostics"]
        assert policy_rubric["parse_failure_rate"] == 1.0 and policy_rubric["tie_rate"] == 1.0
        four_way = results[(V2, "judge-pairwise")]["reproducibility"]["diagnostics"]
        assert four_way["verdict_slots"] == {"A": four_way["verdict_slots"]["A"]}  # always slot A

        page = client.get(f"/models/{JUDGE_A}", params={"result": both["id"]}).text
        assert "Judge diagnostics" in page and "Position bias" in page and "100.0%" in page

        # The series: three iterations on one track, and the policy both as a DPO model and as a judge.
        series = client.get(f"/api/v1/series/{DPO_SFT}").json()
        assert [member["model"] for member in series["members"]] == [DPO_SFT, DPO_POLICY, JUDGE_A]
        tracks = {(track["benchmark"], track["model_type"]): track for track in series["tracks"]}
        free_track = tracks[(V1, "dpo-ref-free")]
        assert [point["iteration"] for point in free_track["points"]] == [0, 1, 2]
        assert free_track["points"][0]["score_change"] is None
        assert isinstance(free_track["points"][1]["score_change"], float)
        assert {(V1, "dpo"), (V1, "judge-rubric"), (V1, "judge-pairwise")} <= set(tracks)
        page = client.get(f"/series/{JUDGE_A}").text
        assert page.count("DPO Ref. Free") >= 1 and "Rubric judge" in page and JUDGE_A in page
        assert page.count("<svg") == 1 and "Score by iteration" in page  # the track of three points


def test_a_worker_takes_only_the_queues_its_device_holds(
    tmp_path: Path,
    hub: HubServer,
    sqlite_url: str,
    sqlite_engine: Any,
    start_worker: Callable[[dict[str, str]], Process],
) -> None:
    # Tiers of 1 and 2 GB: a tiny model's run (its weights and about 1 GB besides) goes to the 2 GB queue.
    settings = make_settings(sqlite_url, tmp_path / "data", queue_memory_tiers_gb=[1.0, 2.0])
    tiers = {"QUEUE_MEMORY_TIERS_GB": "[1.0, 2.0]"}
    small = start_worker(worker_env(settings, hub, tmp_path, WORKER_MEMORY_GB="1.5", **tiers))
    with build_client(create_app(settings), hub, tmp_path / "cache", send=None) as client:
        created = client.post(
            "/api/v1/submissions", json=submission_body(DPO_POLICY, model_type="dpo-ref-free")
        )
        assert created.status_code == 201, created.text
        body = created.json()["submission"]
        assert body["queue"] == "evaluations-2g" and body["sent_to_worker"] is True
        url = f"/api/v1/submissions/{body['id']}"
        wait_until(lambda: "ready" in small.tail(200), timeout=120, what="the small worker to start")
        assert "evaluations-1g" in small.tail(200) and "evaluations-2g" not in small.tail(200)
        for _ in range(8):  # the small worker leaves it queued
            assert client.get(url).json()["status"] == "queued"
            time.sleep(1)
        large = start_worker(worker_env(settings, hub, tmp_path, WORKER_MEMORY_GB="4", **tiers))

        done = wait_for_run(lambda: client.get(url).json(), large, timeout=300)
        assert done["status"] == "succeeded", (done, large.tail())
        assert "evaluations-2g" in large.tail(400)
