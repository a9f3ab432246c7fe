"""Judges on vLLM's CPU build give the transformers path's answers, token for token, and its verdicts.

One subprocess in the vLLM venv (``agreement_run.py``) runs every case of ``CASES`` through the command
line on both backends with one vLLM engine, inside a process of Celery's prefork pool (as the worker runs
evaluations); this module checks what it recorded. The tiny judge is random
but answers only in verdict pieces (slot letters, ``Score: N``, ratings), so most of its answers depend on
the prompt and a real share of them are verdicts: equal answers are not equal by default. Its chat
template starts with BOS and its tokenizer adds one too, so a prompt re-tokenised from text gets two.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.tiny_models import build_tiny_verdict_judge
from tests.support.vllm_env import REPO_ROOT, log_tail, require_vllm_python, vllm_environment
from tests.vllm.agreement_run import BACKENDS, CASES

pytestmark = pytest.mark.vllm
RUNNER = Path(__file__).with_name("agreement_run.py")
RUN_TIMEOUT_S = 540
KV_CACHE_ENV = "VLLM_CPU_KVCACHE_SPACE"


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_verdict_judge(tmp_path_factory.mktemp("vllm-judge") / "verdict-judge")


def engine_environment() -> dict[str, str]:
    """vLLM's CPU environment less the KV cache size, unless set here: the engine sizes it by itself."""
    environment = vllm_environment()
    if KV_CACHE_ENV not in os.environ:
        environment.pop(KV_CACHE_ENV, None)
    return environment


@pytest.fixture(scope="module")
def report(judge: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    python = require_vllm_python()
    out = tmp_path_factory.mktemp("vllm-agreement")
    log = out / "run.log"
    with log.open("wb") as sink:
        completed = subprocess.run(
            [str(python), str(RUNNER), str(judge), str(out)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=engine_environment(),
            cwd=REPO_ROOT,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    assert completed.returncode == 0, log_tail(log)
    document: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    document["out"] = str(out)
    return document


def runs(report: dict[str, Any], case: str) -> tuple[dict[str, Any], dict[str, Any]]:
    pair = report["cases"][case]
    return pair["vllm"], pair["transformers"]


def results_file(report: dict[str, Any], case: str, backend: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(Path(report["out"], f"{case}-{backend}.json").read_text())
    return document


def per_example(report: dict[str, Any], case: str, backend: str) -> list[dict[str, Any]]:
    lines = Path(report["out"], f"{case}-{backend}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("case", list(CASES))
def test_both_backends_run_the_same_prompt_ids_and_give_the_same_answers(
    report: dict[str, Any], case: str
) -> None:
    vllm, transformers = runs(report, case)
    assert vllm["exit_code"] == 0 and transformers["exit_code"] == 0
    assert vllm["prompts"] and vllm["prompts"] == transformers["prompts"]
    assert vllm["vllm_prompt_ids"] == vllm["prompts"]  # what vLLM reports it ran
    assert transformers["vllm_prompt_ids"] == []  # the transformers run never touched vLLM
    assert len(vllm["answers"]) == len(vllm["prompts"])
    for index, (left, right) in enumerate(zip(vllm["answers"], transformers["answers"], strict=True)):
        assert left == right, f"{case}: answer {index} differs: vLLM {left} / transformers {right}"


@pytest.mark.parametrize("case", list(CASES))
def test_both_backends_give_the_same_verdicts_scores_and_results(report: dict[str, Any], case: str) -> None:
    vllm, transformers = runs(report, case)
    assert [e["key"] for e in vllm["examples"]] == [e["key"] for e in transformers["examples"]]
    for left, right in zip(vllm["examples"], transformers["examples"], strict=True):
        assert left["scores"] == right["scores"], left["key"]
        assert left["detail"] == right["detail"], left["key"]
    assert per_example(report, case, "vllm") == per_example(report, case, "transformers")
    on_vllm, on_transformers = (results_file(report, case, backend) for backend in BACKENDS)
    on_vllm.pop("reproducibility"), on_transformers.pop("reproducibility")
    assert on_vllm == on_transformers  # every subset, section, count and the Score
    assert "score" in on_vllm and "sections" in on_vllm


@pytest.mark.parametrize("case", list(CASES))
def test_the_answers_are_verdicts_that_depend_on_the_prompt(report: dict[str, Any], case: str) -> None:
    vllm, _ = runs(report, case)
    texts = [answer["text"] for answer in vllm["answers"]]
    assert len(set(texts)) >= len(texts) // 3  # the prompt decides the answer, not a fixed reply
    readings: Counter[object] = Counter()
    for example in vllm["examples"]:
        detail = example["detail"]
        for entry in detail.get("orders", []) + detail.get("ratings", []):
            readings[entry.get("verdict", entry.get("rating"))] += 1
    read = sum(count for value, count in readings.items() if value is not None)
    assert read >= 0.25 * sum(readings.values()), readings  # a real share of verdicts, not "no verdict"
    assert len([value for value in readings if value is not None]) >= 2, readings
    outcomes = {line["outcome"] for line in per_example(report, case, "vllm")}
    assert len(outcomes) >= 2 or case == "pairwise-v1", outcomes  # a random judge rarely agrees with itself


def test_pairwise_verdicts_pick_both_slots_and_both_orders_are_judged(report: dict[str, Any]) -> None:
    vllm, _ = runs(report, "pairwise-v1")
    orders = [order for example in vllm["examples"] for order in example["detail"]["orders"]]
    assert len(orders) == 2 * len(vllm["examples"])  # both orders
    assert {order["verdict"] for order in orders} >= {"A", "B", None}


def test_prompts_start_with_one_bos_where_re_tokenised_text_would_start_with_two(
    report: dict[str, Any], judge: Path
) -> None:
    from transformers import AutoTokenizer

    bos = AutoTokenizer.from_pretrained(judge).bos_token_id
    for case in CASES:
        for prompt in runs(report, case)[0]["prompts"]:
            assert prompt[0] == bos and prompt[1] != bos, case
    text_prompt = report["text_prompt"]
    assert text_prompt["text_ids"][:2] == [bos, bos]  # the double BOS the engine's id path avoids
    assert text_prompt["text_ids"][1:] == text_prompt["engine_ids"]


def test_vllm_starts_in_a_daemon_process_as_the_prefork_pool_runs_tasks(report: dict[str, Any]) -> None:
    assert report["daemon"] is True  # multiprocessing forbids a daemon children: the engine started anyway
    assert runs(report, "pairwise-v1")[0]["vllm_prompt_ids"]


@pytest.mark.parametrize("case", list(CASES))
def test_the_result_records_the_backend_that_generated(report: dict[str, Any], case: str) -> None:
    on_vllm, on_transformers = (results_file(report, case, backend) for backend in BACKENDS)
    generation = on_vllm["reproducibility"]["generation"]
    assert generation["backend"] == "vllm" and generation["vllm_platform"] == "cpu"
    assert generation["requested_backend"] == "vllm"  # from EVAL_GENERATION_BACKEND, no flag
    assert generation["vllm_version"] and on_vllm["reproducibility"]["libraries"]["vllm"].endswith("+cpu")
    assert generation["cpu_environment"]["VLLM_TARGET_DEVICE"] == "cpu"
    if KV_CACHE_ENV not in os.environ:  # the engine's own size: one sequence at the context, at least 1 GiB
        assert generation["kv_cache_bytes"] == 1 << 30 and KV_CACHE_ENV not in generation["cpu_environment"]
    other = on_transformers["reproducibility"]["generation"]
    assert other["backend"] == "transformers" and other["requested_backend"] == "transformers"  # flag wins
