"""The models at the top of the published boards, submitted with the default settings: Hub repos whose
safetensors metadata declares 27.2B, 70.6B and 1.2T parameters, routed to a worker class that holds them
or refused with their size in words; max_length per submission."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.submissions.conftest import SentMessages, submission_body
from tests.support.hub_server import HubServer
from tests.support.model_shapes import GEMMA2_27B, GEMMA2_27B_PARAMETERS, LLAMA_70B, LLAMA_70B_PARAMETERS

GEMMA2_RM = "big-org/gemma-2-27b-rm"
LLAMA_70B_RM = "big-org/llama-3.1-70b-rm"
LLAMA_70B_JUDGE = "big-org/llama-3.1-70b-judge"
LLAMA_70B_DPO = "big-org/llama-3.1-70b-dpo"
LLAMA_70B_SFT = "big-org/llama-3.1-70b-sft"
HUGE = "big-org/huge-1.2t-rm"

LLAMA_70B_SHAPE = LLAMA_70B
GEMMA2_27B_SHAPE = GEMMA2_27B
CLASSIFIER = {"architectures": ["LlamaForSequenceClassification"], "num_labels": 1}
CAUSAL = {"architectures": ["LlamaForCausalLM"]}


@pytest.fixture(scope="module")
def big_hub(hub: HubServer, tiny_models: dict[str, Path]) -> Iterator[HubServer]:
    """Tiny checkpoints whose config has the real shape and whose Hub metadata the real parameter count."""

    def publish(name: str, source: Path, config: dict[str, Any], parameters: int) -> None:
        document = {**json.loads((source / "config.json").read_text()), **config}
        extra = {"config.json": json.dumps(document).encode()}
        hub.add_repo_from_dir(name, source, extra=extra, declared_parameters=parameters)

    gemma = {**GEMMA2_27B_SHAPE, "architectures": ["Gemma2ForSequenceClassification"], "num_labels": 1}
    publish(GEMMA2_RM, tiny_models["good"], gemma, GEMMA2_27B_PARAMETERS)
    publish(LLAMA_70B_RM, tiny_models["good"], {**LLAMA_70B_SHAPE, **CLASSIFIER}, LLAMA_70B_PARAMETERS)
    publish(HUGE, tiny_models["good"], {**LLAMA_70B_SHAPE, **CLASSIFIER}, 1_200_000_000_000)
    publish(LLAMA_70B_JUDGE, tiny_models["judge_a"], {**LLAMA_70B_SHAPE, **CAUSAL}, LLAMA_70B_PARAMETERS)
    publish(LLAMA_70B_DPO, tiny_models["policy"], {**LLAMA_70B_SHAPE, **CAUSAL}, LLAMA_70B_PARAMETERS)
    publish(LLAMA_70B_SFT, tiny_models["sft"], {**LLAMA_70B_SHAPE, **CAUSAL}, LLAMA_70B_PARAMETERS)
    yield hub
    for name in (GEMMA2_RM, LLAMA_70B_RM, HUGE, LLAMA_70B_JUDGE, LLAMA_70B_DPO, LLAMA_70B_SFT):
        hub.remove_repo(name)


def _memory(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return next(check for check in response.json()["checks"] if check["name"] == "memory")


@pytest.mark.parametrize(
    ("body", "queue"),
    [
        (submission_body(GEMMA2_RM), "evaluations-80g"),
        # 70.6e9 16-bit weights are 131.4 GiB: one H200 (139.8 GiB) holds them with their activations.
        (submission_body(LLAMA_70B_RM), "evaluations-141g"),
        (submission_body(LLAMA_70B_JUDGE, model_type="judge-pairwise"), "evaluations-141g"),
        (
            submission_body(LLAMA_70B_DPO, model_type="dpo", settings={"reference_model": LLAMA_70B_SFT}),
            "evaluations-141g",
        ),
        # With a 32k-token KV cache the judge no longer fits one: two 80 GB GPUs.
        (
            submission_body(LLAMA_70B_JUDGE, model_type="judge-pairwise", max_length=32768),
            "evaluations-2x80g",
        ),
    ],
)
def test_the_top_of_the_boards_is_accepted_and_routed_by_default(
    big_hub: HubServer,
    client: TestClient,
    sent: SentMessages,
    settings: Settings,
    body: dict[str, Any],
    queue: str,
) -> None:
    assert settings.max_parameters is None  # the default: the limit follows the largest worker class
    checked = client.post("/api/v1/submissions/validate", json=body)
    assert checked.json()["ok"], checked.text
    memory = _memory(checked)
    assert memory["ok"] and "GB of GPU memory" in memory["message"], memory
    submitted = client.post("/api/v1/submissions", json=body)
    assert submitted.status_code == 201, submitted.text
    assert sent.routes[-1].queue == queue, memory


def test_a_1_2t_model_is_refused_with_its_size_in_words(big_hub: HubServer, client: TestClient) -> None:
    response = client.post("/api/v1/submissions/validate", json=submission_body(HUGE))
    assert response.status_code == 200
    failure = next(check for check in response.json()["checks"] if not check["ok"])
    assert failure["name"] == "parameters"
    assert "has 1.2T parameters (1,200,000,000,000)" in failure["message"]
    assert "2.2 TB at 16 bits, more than the largest workers here (8x141 GB" in failure["message"]


def test_max_length_is_a_setting_of_the_submission(
    big_hub: HubServer, client: TestClient, sent: SentMessages
) -> None:
    short = client.post("/api/v1/submissions/validate", json=submission_body(LLAMA_70B_RM))
    long = client.post("/api/v1/submissions/validate", json=submission_body(LLAMA_70B_RM, max_length=16384))
    assert "at max_length 2,048" in _memory(short)["message"]
    assert "at max_length 16,384" in _memory(long)["message"]
    assert _memory(long)["ok"]
    too_long = client.post("/api/v1/submissions/validate", json=submission_body(GEMMA2_RM, max_length=16384))
    memory = _memory(too_long)
    assert not memory["ok"]
    assert "max_length 16,384 is longer than the 8,192 positions the model was built for" in memory["message"]
    # Two lengths of one model are two runs, not a duplicate; the longer one gets a longer time limit.
    for length in (None, 16384):
        body = submission_body(LLAMA_70B_RM, **({"max_length": length} if length else {}))
        assert client.post("/api/v1/submissions", json=body).status_code == 201
    two, sixteen = sent.routes[-2:]
    assert sixteen.time_limit_s > two.time_limit_s
    items = client.get("/api/v1/submissions").json()["items"]
    lengths = sorted(item["max_length"] for item in items if item["model"] == LLAMA_70B_RM)
    assert lengths == [2048, 16384]


def test_a_judge_keeps_its_own_context_unless_asked(big_hub: HubServer, client: TestClient) -> None:
    body = submission_body(LLAMA_70B_JUDGE, model_type="judge-pairwise")
    assert "max_length" not in _memory(client.post("/api/v1/submissions/validate", json=body))["message"]
    capped = client.post("/api/v1/submissions/validate", json={**body, "max_length": 4096})
    assert "at max_length 4,096" in _memory(capped)["message"]


@pytest.mark.parametrize("length", [1, 255, 10**7])
def test_a_max_length_out_of_range_is_refused(client: TestClient, length: int) -> None:
    response = client.post("/api/v1/submissions/validate", json=submission_body(max_length=length))
    assert response.status_code == 422
    assert "max_length" in response.text
