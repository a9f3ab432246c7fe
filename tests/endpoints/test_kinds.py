"""The endpoint judge kinds in the engine: their settings and registry entries, whole runs through
``run_evaluation`` against a stand-in (the rubric judge, the pairwise judge in both orders, RewardBench 2's
four-way prompt and Ties ratings), and the worker refusing an endpoint that now serves another model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.endpoints.conftest import definition, write_full_v1
from tests.endpoints.stand_in import REPORTED_MODEL, stand_in
from worker.engine.judging.endpoints import EndpointConfigError, EndpointSources
from worker.engine.kinds import KINDS, get_kind
from worker.engine.model_kinds.base import KindSettingsError
from worker.engine.runner import run_evaluation
from worker.engine.spec import EvaluationSpec

SAMPLE_V2 = Path(__file__).resolve().parents[1] / "data" / "rewardbench2_sample.jsonl"


@pytest.fixture(scope="module")
def full_v1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_full_v1(tmp_path_factory.mktemp("data") / "v1.jsonl")


def spec(url: str, model_type: str, dataset: Path, **settings: Any) -> EvaluationSpec:
    sources = EndpointSources({"test-judge": definition(url)})
    return EvaluationSpec(
        model="test-lab/judge-70b",
        model_type=model_type,
        kind_settings={"endpoint": "test-judge", "max_new_tokens": 16, **settings},
        dataset=str(dataset),
        limit_per_subset=2,
        endpoints=sources,
    )


def last_user(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def test_the_kinds_are_registered_with_their_settings() -> None:
    pairwise, rubric = get_kind("judge-pairwise-endpoint"), get_kind("judge-rubric-endpoint")
    assert pairwise.runs_on_endpoint and rubric.runs_on_endpoint and pairwise.evaluable
    assert not any(
        kind.runs_on_endpoint for key, kind in KINDS.items() if key not in (pairwise.key, rubric.key)
    )
    names = [field.name for field in pairwise.settings_fields()]
    assert names == ["both_orders", "seed", "max_new_tokens", "score_with_ratings", "endpoint"]
    assert "served_model" not in [field.name for field in rubric.settings_fields()]  # pinned by the checks
    with pytest.raises(KindSettingsError, match=r"settings\.endpoint: Field required"):
        pairwise.parse_settings({})
    with pytest.raises(KindSettingsError, match=r"settings\.endpoint: String should match pattern"):
        rubric.parse_settings({"endpoint": "Not A Name"})
    settings = pairwise.parse_settings({"endpoint": "test-judge", "both_orders": True})
    assert pairwise.time_factor(settings) == get_kind("judge-pairwise").time_factor(settings)
    assert pairwise.memory_bytes(None, {}, settings) == 0  # type: ignore[arg-type]


def test_a_rubric_judge_on_an_endpoint(full_v1: Path) -> None:
    def script(body: dict[str, Any], index: int) -> str:
        return "Relevant and correct.\nScore: 4" if "right answer" in last_user(body) else "Score: 1"

    with stand_in(script) as server:
        output = run_evaluation(spec(server.url, "judge-rubric-endpoint", full_v1))
    assert len(server.received) == 2 * len(output.examples)  # each answer scored on its own
    assert all(score.value == 1.0 for score in output.result.subset_scores.values())
    record = output.result.reproducibility
    assert record["diagnostics"]["parse_failure_rate"] == 0.0
    assert record["generation"]["response_model"] == REPORTED_MODEL and record["device"] == "endpoint"
    assert (
        record["judge"]["scheme"].startswith("Self-Rewarding") and output.result.chat_template == "endpoint"
    )
    assert record["kind_settings"]["endpoint"] == "test-judge"


def test_a_pairwise_judge_on_an_endpoint_in_both_orders(full_v1: Path) -> None:
    with stand_in(lambda body, index: "[[A]]") as server:
        output = run_evaluation(spec(server.url, "judge-pairwise-endpoint", full_v1, both_orders=True))
    assert len(server.received) == 2 * len(output.examples)
    # An always-A judge in both orders: every verdict follows the slot, so every pair is a tie.
    assert output.result.reproducibility["diagnostics"]["position_bias_rate"] == 1.0
    assert all(score.value == 0.5 for score in output.result.subset_scores.values())
    detail = output.scored[0].detail
    assert detail is not None and [order["verdict"] for order in detail["orders"]] == ["A", "A"]


def test_rewardbench_2_four_way_and_ties_ratings_on_an_endpoint() -> None:
    def script(body: dict[str, Any], index: int) -> str:
        user = last_user(body)
        return "[[C]]" if "Assistant D" in user else "A fair answer. 7"

    with stand_in(script) as server:
        output = run_evaluation(
            EvaluationSpec(
                model="test-lab/judge-70b",
                model_type="judge-pairwise-endpoint",
                kind_settings={"endpoint": "test-judge", "max_new_tokens": 16},
                benchmark="rewardbench-v2",
                dataset=str(SAMPLE_V2),
                endpoints=EndpointSources({"test-judge": definition(server.url)}),
            )
        )
    prompts = [last_user(item.body) for item in server.received]
    assert any("Assistant D" in prompt for prompt in prompts) and any("Assistant D" not in p for p in prompts)
    ties = [item for item in output.scored if item.subset == "Ties"]
    assert ties and all(set(item.scores) == {7.0} for item in ties)  # every Ties answer rated 7
    four_way = [item for item in output.scored if item.subset != "Ties"]
    assert all(item.detail is not None and item.detail["orders"][0]["verdict"] == "C" for item in four_way)


def test_the_worker_refuses_an_endpoint_that_serves_another_model_now(full_v1: Path) -> None:
    with stand_in(lambda body, index: "[[A]]") as server:
        pinned = spec(server.url, "judge-pairwise-endpoint", full_v1, served_model="judge-8b")
        with pytest.raises(EndpointConfigError, match=r"now serves 'judge-70b'.*checked against 'judge-8b'"):
            run_evaluation(pinned)
        unknown = spec(server.url, "judge-pairwise-endpoint", full_v1, endpoint="elsewhere")
        with pytest.raises(EndpointConfigError, match="no judge endpoint named 'elsewhere'"):
            run_evaluation(unknown)
    assert server.received == []
