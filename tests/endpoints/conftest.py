"""Shared pieces of the endpoint tests: the key, endpoint definitions, a generator on a stand-in, and a
synthetic RewardBench v1 of full size (every subset with all its rows) whose answers a script can judge."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest

from worker.engine.benchmarks import get_benchmark
from worker.engine.judging.endpoint_backend import EndpointGenerator
from worker.engine.judging.endpoints import Endpoint, EndpointSources, load_registry, make_client

KEY_ENV = "REWARDBOARD_TEST_JUDGE_KEY"
# Random per run: a test that finds it somewhere it must not be cannot pass by accident.
SECRET_KEY_VALUE = f"sk-test-{secrets.token_hex(20)}"
ADMIN_TOKEN = f"operator-{secrets.token_hex(24)}"
APP_SECRET = "test-only-secret-key-for-the-endpoint-tests"
QUESTION = re.compile(r"Question (\d+)\?")


def definition(url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "base_url": url,
        "model": "judge-70b",
        "model_id": "test-lab/judge-70b",
        "provider": "vLLM",
        "api_key_env": KEY_ENV,
        "supports_seed": True,
        "backoff_s": 0.0,
        "max_retries": 2,
        "timeout_s": 10,
        **overrides,
    }


def endpoint(url: str, name: str = "test-judge", **overrides: Any) -> Endpoint:
    return load_registry(EndpointSources({name: definition(url, **overrides)})).get(name)


def generator(url: str, *, max_new_tokens: int = 8, seed: int = 3, **overrides: Any) -> EndpointGenerator:
    found = endpoint(url, **overrides)
    return EndpointGenerator(found, make_client(found), max_new_tokens=max_new_tokens, seed=seed)


@pytest.fixture(autouse=True)
def judge_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, SECRET_KEY_VALUE)
    return SECRET_KEY_VALUE


# A synthetic RewardBench v1 --------------------------------------------------------------------------------


def write_full_v1(path: Path) -> Path:
    """Every core subset of RewardBench v1 with all its rows (2,985), each a short question with a right and
    a wrong answer; the id is in the question, so a stand-in can answer per example."""
    rows = []
    next_id = 1
    for subset in get_benchmark("rewardbench-v1").required_subsets(("core",)):
        for _ in range(subset.rows):
            rows.append(
                {
                    "prompt": f"Question {next_id}?",
                    "chosen": f"The right answer to {next_id}.",
                    "chosen_model": "stand-in",
                    "rejected": f"A wrong answer to {next_id}.",
                    "rejected_model": "stand-in",
                    "subset": subset.name,
                    "id": next_id,
                }
            )
            next_id += 1
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def scripted_verdict(example_id: int) -> str:
    """What the scripted judge thinks of an example: right, wrong, or no readable verdict."""
    if example_id % 7 == 0:
        return "unreadable"
    return "wrong" if example_id % 5 == 0 else "right"


def pairwise_judge(body: dict[str, Any], index: int) -> str:
    """A chat judge naming the right answer's slot, the other slot, or nothing (``scripted_verdict``)."""
    user = str(body["messages"][-1]["content"])
    match = QUESTION.search(user)
    assert match is not None, user[:200]
    verdict = scripted_verdict(int(match.group(1)))
    if verdict == "unreadable":
        return "Both answers have merit."
    first = user.split("[The Start of Assistant A's Answer]", 1)[1].split("[The End of Assistant A's", 1)[0]
    right_is_a = "right answer" in first
    return "[[A]]" if right_is_a == (verdict == "right") else "[[B]]"


def expected_subset_values() -> dict[str, float]:
    """The value of each subset under ``pairwise_judge``: 1 right, 0 wrong, 0.5 a tie (no verdict)."""
    points = {"right": 1.0, "wrong": 0.0, "unreadable": 0.5}
    values: dict[str, float] = {}
    next_id = 1
    for subset in get_benchmark("rewardbench-v1").required_subsets(("core",)):
        ids = range(next_id, next_id + subset.rows)
        values[subset.name] = sum(points[scripted_verdict(i)] for i in ids) / subset.rows
        next_id += subset.rows
    return values
