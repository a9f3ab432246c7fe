"""A judge on a real endpoint: vLLM's OpenAI-compatible server (its CPU build, ``.venv-vllm``) serving a tiny
judge on 127.0.0.1, registered as an endpoint; the RewardBench v1 sample submitted as a maintainer (the
operator token), run by the worker's task through the completions API, stored and listed with the API mark;
every pair's verdicts, in both orders, equal to the in-process vLLM run of the same judge on the same pairs.

The judge (``build_tiny_verdict_judge``) is random but answers only in verdict pieces, so its verdicts depend
on the prompt and a real share of them are verdicts. The server starts once for the module (about a minute);
the in-process run is one command in the vLLM venv. Skipped, with the build script's reason, only when the
package registry could not serve vLLM (``tests/support/vllm_env.py``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.api.routes.submissions import get_sender
from app.db.models import ExampleResult
from app.main import create_app
from tests.endpoints.conftest import ADMIN_TOKEN, APP_SECRET
from tests.support.tiny_models import build_tiny_verdict_judge
from tests.support.vllm_env import REPO_ROOT, log_tail, require_vllm_python, serve_openai, vllm_environment
from worker.settings import WorkerSettings
from worker.tasks import run_submission

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

SAMPLE = REPO_ROOT / "tests" / "data" / "rewardbench_sample.jsonl"
SERVED = "tiny-verdict-judge"
MODEL = "test-lab/tiny-verdict-judge"
SEED, MAX_NEW_TOKENS = 7, 4
CONTEXT = 4096  # the judge's max_position_embeddings: the server's max_model_len and the in-process context
IN_PROCESS_TIMEOUT_S = 420


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_vllm_python()
    return build_tiny_verdict_judge(tmp_path_factory.mktemp("endpoint-judge") / "verdict-judge")


@pytest.fixture(scope="module")
def in_process(judge: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Per pair, what the judge said run in-process on vLLM (the command line in the vLLM venv)."""
    python = require_vllm_python()
    out = tmp_path_factory.mktemp("in-process")
    per_example, log = out / "examples.jsonl", out / "run.log"
    command = [
        str(python), "-m", "worker.engine", "evaluate", str(judge), "--model-type", "judge-pairwise",
        "--benchmark", "rewardbench-v1", "--dataset", str(SAMPLE), "--device", "cpu", "--dtype", "float32",
        "--generation-backend", "vllm", "--seed", str(SEED), "--max-new-tokens", str(MAX_NEW_TOKENS),
        "--both-orders", "--no-progress", "--output", str(out / "results.json"),
        "--per-example", str(per_example),
    ]  # fmt: skip
    with log.open("wb") as sink:
        completed = subprocess.run(
            command, stdout=sink, stderr=subprocess.STDOUT, env=vllm_environment(), cwd=REPO_ROOT,
            timeout=IN_PROCESS_TIMEOUT_S, check=False,
        )  # fmt: skip
    assert completed.returncode == 0, log_tail(log)
    backend = json.loads((out / "results.json").read_text())
    assert "vllm" in json.dumps(backend)  # the in-process run did run on vLLM
    lines = [json.loads(line) for line in per_example.read_text().splitlines()]
    return {f"{line['subset']}/{line['id']}": line for line in lines}


@pytest.fixture(scope="module")
def server(judge: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    with serve_openai(
        judge, log_path=log, served_model_name=SERVED, extra_args=["--max-model-len", str(CONTEXT)]
    ) as url:
        yield url


def registry(url: str, judge: Path) -> dict[str, Any]:
    return {
        "tiny-vllm": {
            "base_url": url,
            "model": SERVED,
            "model_id": MODEL,
            "provider": "vLLM",
            "api": "completions",
            "tokenizer": str(judge),
            "context_length": CONTEXT,
            "vllm_sampling": True,
            "supports_seed": True,
            "max_concurrency": 4,
            "timeout_s": 120,
        }
    }


def verdicts(detail: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (order["slots"], order["verdict"], order["status"], order["output"]) for order in detail["orders"]
    ]


def test_an_endpoint_judge_on_vllms_server_gives_the_in_process_verdicts(
    db_url: str,
    db_engine: Engine,
    tmp_path: Path,
    judge: Path,
    server: str,
    in_process: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": tmp_path / "data",
        "secret_key": APP_SECRET,
        "admin_token": ADMIN_TOKEN,
        "dataset_path": str(SAMPLE),
        "judge_endpoints": registry(server, judge),
    }
    app = create_app(WorkerSettings(**values))
    app.state.leaderboard_cache.version_probe_seconds = 0.0
    app.dependency_overrides[get_sender] = lambda: lambda submission_id, route: None
    submission = {
        "model": MODEL,
        "model_type": "judge-pairwise-endpoint",
        "settings": {
            "endpoint": "tiny-vllm",
            "both_orders": True,
            "seed": SEED,
            "max_new_tokens": MAX_NEW_TOKENS,
        },
    }
    with TestClient(app) as client:
        created = client.post(
            "/api/v1/submissions", json=submission, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert created.status_code == 201, created.text
        submission_id = created.json()["submission"]["id"]
        run_submission(submission_id, WorkerSettings(**values), owner="vllm-endpoint-test")
        status = client.get(f"/api/v1/submissions/{submission_id}").json()
        assert status["status"] == "succeeded", status

        (result,) = client.get(f"/api/v1/models/{MODEL}").json()["results"]
        generation = result["reproducibility"]["generation"]
        assert generation["backend"] == "endpoint" and generation["response_model"] == SERVED
        assert generation["endpoint"]["api"] == "completions" and generation["retries"] == {}
        # Listed (a sample: with the partial runs) with the API mark.
        rows = client.get("/api/v1/leaderboard", params={"partial": "true", "per_page": 200}).json()["rows"]
        (row,) = [row for row in rows if row["model"] == MODEL]
        assert row["hub_repo"] is False and row["complete"] is False
        html = client.get("/", params={"partial": "true", "per_page": 200}).text
        marked = [tr for tr in BeautifulSoup(html, "html.parser").find_all("tr") if MODEL in tr.get_text()]
        assert marked and marked[0].select_one(".badge-api") is not None

    with db_engine.connect() as connection:
        stored = connection.execute(
            select(ExampleResult.subset, ExampleResult.example_id, ExampleResult.scores, ExampleResult.detail)
        ).all()
    endpoint_run = {
        f"{subset}/{example_id}": (scores, detail) for subset, example_id, scores, detail in stored
    }
    assert set(endpoint_run) == set(in_process) and len(endpoint_run) == 92
    for key, (scores, detail) in endpoint_run.items():
        expected = in_process[key]
        assert verdicts(detail) == verdicts(expected["detail"]), key
        assert scores == expected["scores"], key
    parsed = [order for _, detail in endpoint_run.values() for order in detail["orders"] if order["verdict"]]
    assert len(parsed) >= 20  # not a comparison of empty answers: many of the 184 verdicts are read
