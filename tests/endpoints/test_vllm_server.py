"""A judge on a real endpoint: vLLM's OpenAI-compatible server (its CPU build, ``.venv-vllm``) serving a tiny
judge on 127.0.0.1, registered as an endpoint, submitted as a maintainer (the operator token) and run by the
worker's task through the completions API, each pair's verdicts equal to the in-process vLLM run's:

- a full-size RewardBench v1 (every subset with all its rows, 2,985 pairs; ``write_full_v1``), one order:
  the result is complete, ranked on the board with the API mark, its score the in-process run's. On SQLite
  (the stand-in end-to-end test covers both databases on this path).
- the RewardBench v1 sample (92 real pairs), both orders: listed with the partial runs, with the API mark.
  On SQLite and PostgreSQL.

The judge (``build_tiny_verdict_judge``) is random but answers only in verdict pieces, so its answers depend
on the prompt. The server starts once for the module (about a minute); both in-process runs are one process
of the vLLM venv on one engine (``in_process_runs.py``). Skipped, with the build script's reason, only when
the package registry could not serve vLLM (``tests/support/vllm_env.py``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.api.routes.submissions import get_sender
from app.db.models import ExampleResult
from app.main import create_app
from tests.endpoints.conftest import ADMIN_TOKEN, APP_SECRET, write_full_v1
from tests.support.tiny_models import build_tiny_verdict_judge
from tests.support.vllm_env import REPO_ROOT, log_tail, require_vllm_python, serve_openai, vllm_environment
from worker.settings import WorkerSettings
from worker.tasks import run_submission

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

SAMPLE = REPO_ROOT / "tests" / "data" / "rewardbench_sample.jsonl"
IN_PROCESS_RUNS = Path(__file__).with_name("in_process_runs.py")
SERVED = "tiny-verdict-judge"
MODEL = "test-lab/tiny-verdict-judge"
OPERATOR = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SEED, MAX_NEW_TOKENS = 7, 4
CONTEXT = 4096  # the judge's max_position_embeddings: the server's max_model_len and the in-process context
MAX_CONCURRENCY = 32  # requests in flight: vLLM's server batches them
FULL_V1_PAIRS = 2985
IN_PROCESS_TIMEOUT_S = 300  # measured 55-90 s on two busy cores

PerPair = dict[str, dict[str, Any]]  # "subset/id" -> that example's line of --per-example


@dataclass(frozen=True)
class InProcessRun:
    results: dict[str, Any]  # results.json
    pairs: PerPair


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_vllm_python()
    return build_tiny_verdict_judge(tmp_path_factory.mktemp("endpoint-judge") / "verdict-judge")


@pytest.fixture(scope="module")
def full_v1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_full_v1(tmp_path_factory.mktemp("data") / "rewardbench-v1-full.jsonl")


@pytest.fixture(scope="module")
def in_process(
    judge: Path, full_v1: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, InProcessRun]:
    """What the judge said run in-process on vLLM (the engine's command line in the vLLM venv): the sample in
    both orders and the full-size v1 in one, by name."""
    python = require_vllm_python()
    out = tmp_path_factory.mktemp("in-process")
    runs = {"sample": (SAMPLE, ["--both-orders"]), "full": (full_v1, [])}
    command_lines = [
        [
            "evaluate", str(judge), "--model-type", "judge-pairwise", "--benchmark", "rewardbench-v1",
            "--dataset", str(dataset), "--device", "cpu", "--dtype", "float32",
            "--generation-backend", "vllm", "--seed", str(SEED), "--max-new-tokens", str(MAX_NEW_TOKENS),
            "--no-progress", *options,
            "--output", str(out / f"{name}.json"), "--per-example", str(out / f"{name}.jsonl"),
        ]
        for name, (dataset, options) in runs.items()
    ]  # fmt: skip
    (out / "runs.json").write_text(json.dumps(command_lines), encoding="utf-8")
    log = out / "run.log"
    with log.open("wb") as sink:
        completed = subprocess.run(
            [str(python), str(IN_PROCESS_RUNS), str(out / "runs.json")],
            stdout=sink, stderr=subprocess.STDOUT, env=vllm_environment(), cwd=REPO_ROOT,
            timeout=IN_PROCESS_TIMEOUT_S, check=False,
        )  # fmt: skip
    assert completed.returncode == 0, log_tail(log)
    found: dict[str, InProcessRun] = {}
    for name in runs:
        results = json.loads((out / f"{name}.json").read_text())
        assert results["reproducibility"]["generation"]["backend"] == "vllm"  # it did run on vLLM
        lines = [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
        found[name] = InProcessRun(results, {f"{line['subset']}/{line['id']}": line for line in lines})
    return found


@pytest.fixture(scope="module")
def server(judge: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    with serve_openai(
        judge, log_path=log, served_model_name=SERVED, extra_args=["--max-model-len", str(CONTEXT)]
    ) as url:
        yield url


@pytest.fixture
def worker_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # the task points HF_HOME at its cache


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
            "max_concurrency": MAX_CONCURRENCY,
            "timeout_s": 120,
        }
    }


@contextmanager
def board(
    db_url: str, tmp_path: Path, dataset: Path, url: str, judge: Path
) -> Iterator[tuple[TestClient, WorkerSettings]]:
    """The web app and the worker's settings sharing one database and the endpoint on vLLM's server."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": tmp_path / "data",
        "secret_key": APP_SECRET,
        "admin_token": ADMIN_TOKEN,
        "dataset_path": str(dataset),
        "judge_endpoints": registry(url, judge),
    }
    app = create_app(WorkerSettings(**values))
    app.state.leaderboard_cache.version_probe_seconds = 0.0
    app.dependency_overrides[get_sender] = lambda: lambda submission_id, route: None
    with TestClient(app) as client:
        yield client, WorkerSettings(**values)


def submit_and_run(client: TestClient, settings: WorkerSettings, **judge_settings: Any) -> dict[str, Any]:
    """Submitted as a maintainer (the operator token), run by the worker's task; the submission's status."""
    submission = {
        "model": MODEL,
        "model_type": "judge-pairwise-endpoint",
        "settings": {
            "endpoint": "tiny-vllm",
            "seed": SEED,
            "max_new_tokens": MAX_NEW_TOKENS,
            **judge_settings,
        },
    }
    created = client.post("/api/v1/submissions", json=submission, headers=OPERATOR)
    assert created.status_code == 201, created.text
    submission_id = created.json()["submission"]["id"]
    run_submission(submission_id, settings, owner="vllm-endpoint-test")
    status: dict[str, Any] = client.get(f"/api/v1/submissions/{submission_id}").json()
    assert status["status"] == "succeeded", status
    return status


def the_result(client: TestClient) -> dict[str, Any]:
    """The model's one result, run on the endpoint of vLLM's server."""
    (result,) = client.get(f"/api/v1/models/{MODEL}").json()["results"]
    generation = result["reproducibility"]["generation"]
    assert generation["backend"] == "endpoint" and generation["response_model"] == SERVED
    assert generation["endpoint"]["api"] == "completions" and generation["retries"] == {}
    return dict(result)


def board_row(client: TestClient, *, partial: bool) -> dict[str, Any] | None:
    """The model's row on the ranked board, or on the list of partial runs; None when not there."""
    answer = client.get("/api/v1/leaderboard", params={"partial": str(partial).lower(), "per_page": 200})
    rows = [row for row in answer.json()["rows"] if row["model"] == MODEL]
    assert len(rows) <= 1
    return rows[0] if rows else None


def html_row(client: TestClient, *, partial: bool) -> Tag:
    html = client.get("/", params={"partial": str(partial).lower(), "per_page": 200}).text
    rows = [tr for tr in BeautifulSoup(html, "html.parser").find_all("tr") if MODEL in tr.get_text()]
    assert len(rows) == 1 and isinstance(rows[0], Tag), f"{MODEL} is not on the board once"
    return rows[0]


def stored_pairs(engine: Engine) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Per pair, the scores and detail the endpoint run stored."""
    with engine.connect() as connection:
        stored = connection.execute(
            select(ExampleResult.subset, ExampleResult.example_id, ExampleResult.scores, ExampleResult.detail)
        ).all()
    return {f"{subset}/{example_id}": (scores, detail) for subset, example_id, scores, detail in stored}


def verdicts(detail: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (order["slots"], order["verdict"], order["status"], order["output"]) for order in detail["orders"]
    ]


def assert_same_verdicts(endpoint_run: dict[str, tuple[Any, dict[str, Any]]], expected: PerPair) -> None:
    assert set(endpoint_run) == set(expected)
    for key, (scores, detail) in endpoint_run.items():
        assert verdicts(detail) == verdicts(expected[key]["detail"]), key
        assert scores == expected[key]["scores"], key


def orders(endpoint_run: dict[str, tuple[Any, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [order for _, detail in endpoint_run.values() for order in detail["orders"]]


def test_a_full_size_run_on_vllms_server_is_ranked_with_the_api_mark_and_the_in_process_verdicts(
    sqlite_engine: Engine,
    sqlite_url: str,
    tmp_path: Path,
    judge: Path,
    full_v1: Path,
    server: str,
    in_process: dict[str, InProcessRun],
    worker_home: None,
) -> None:
    expected = in_process["full"]
    with board(sqlite_url, tmp_path, full_v1, server, judge) as (client, settings):
        status = submit_and_run(client, settings)
        assert status["progress_done"] == status["progress_total"] == FULL_V1_PAIRS

        result = the_result(client)
        assert result["reproducibility"]["generation"]["requests"] == FULL_V1_PAIRS  # one order, no retry
        # The score, every section and every subset are the in-process run's.
        assert result["score"] == pytest.approx(expected.results["score"])
        assert result["sections"] == pytest.approx(expected.results["sections"])
        subsets = {subset["subset"]: subset["value"] for subset in result["subsets"]}
        assert subsets == pytest.approx({name: expected.results[name] for name in subsets})

        # Ranked on the board (not with the partial runs), with the API mark there and on the model page.
        row = board_row(client, partial=False)
        assert row is not None and row["rank"] is not None, row
        assert row["complete"] is True and row["hub_repo"] is False
        assert row["model_type"] == "judge-pairwise-endpoint"
        assert board_row(client, partial=True) is None
        ranked = html_row(client, partial=False)
        assert ranked.select_one(".badge-api") is not None and ranked.select_one(".badge-partial") is None
        assert "an API model: no repository on the Hub" in client.get(f"/models/{MODEL}").text

    endpoint_run = stored_pairs(sqlite_engine)
    assert len(endpoint_run) == FULL_V1_PAIRS
    assert_same_verdicts(endpoint_run, expected.pairs)
    # Not a comparison of empty answers: the answers differ from pair to pair, both slot orders are shown,
    # and some answers are read as verdicts.
    answered = orders(endpoint_run)
    assert len({order["output"] for order in answered}) >= 5
    assert {tuple(order["slots"]) for order in answered} == {(0, 1), (1, 0)}
    assert sum(1 for order in answered if order["verdict"]) >= 50


def test_the_sample_in_both_orders_on_vllms_server_gives_the_in_process_verdicts(
    db_engine: Engine,
    db_url: str,
    tmp_path: Path,
    judge: Path,
    server: str,
    in_process: dict[str, InProcessRun],
    worker_home: None,
) -> None:
    with board(db_url, tmp_path, SAMPLE, server, judge) as (client, settings):
        submit_and_run(client, settings, both_orders=True)
        result = the_result(client)
        assert result["reproducibility"]["generation"]["requests"] == 2 * 92
        # A sample: listed with the partial runs, unranked, with the API mark.
        row = board_row(client, partial=True)
        assert row is not None and row["complete"] is False and row["hub_repo"] is False
        assert board_row(client, partial=False) is None
        assert html_row(client, partial=True).select_one(".badge-api") is not None

    endpoint_run = stored_pairs(db_engine)
    assert len(endpoint_run) == 92
    assert_same_verdicts(endpoint_run, in_process["sample"].pairs)
    answered = orders(endpoint_run)
    assert all(len(detail["orders"]) == 2 for _, detail in endpoint_run.values())
    assert sum(1 for order in answered if order["verdict"]) >= 20  # many of the 184 answers are verdicts
