"""The endpoint generator against a stand-in OpenAI-compatible server: what each request asks for, the key
sent as a Bearer token, 429/5xx/stalls retried with backoff and then typed failures, refusals not retried,
concurrency and rate limits, the per-run budget, the completions API with the judge's own token ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.endpoints.conftest import SECRET_KEY_VALUE, endpoint, generator
from tests.endpoints.stand_in import FINGERPRINT, REPORTED_MODEL, Reply, StandInServer, stand_in
from tests.support.tiny_models import build_tiny_judge
from worker.engine.judging.endpoint_backend import EndpointGenerator, TokenBucket, load_judge_tokenizer
from worker.engine.judging.endpoints import (
    EndpointBudgetError,
    EndpointConfigError,
    EndpointRateLimitedError,
    EndpointRefusedError,
    EndpointUnavailableError,
    make_client,
)
from worker.engine.judging.generation import encode_prompts
from worker.engine.judging.protocols import Generated, JudgeCall

CALL = JudgeCall("You judge.", "Which is better?")


def calls(count: int) -> list[JudgeCall]:
    return [JudgeCall(None, f"Prompt number {index}.") for index in range(count)]


def answer_all(made: EndpointGenerator, prompts: list[JudgeCall]) -> list[Generated]:
    return made.generate(made.encode(prompts))


@pytest.fixture
def always_a() -> Iterator[StandInServer]:
    with stand_in(lambda body, index: "[[A]]") as server:
        yield server


def test_chat_requests_ask_for_greedy_answers_with_the_seed_and_send_the_key(always_a: StandInServer) -> None:
    made = generator(always_a.url, max_new_tokens=12, seed=7)
    answers = answer_all(made, [CALL, JudgeCall(None, "Rate this.")])

    assert answers == [Generated("[[A]]", "eos"), Generated("[[A]]", "eos")]
    second, first = sorted((item.body for item in always_a.received), key=lambda body: len(body["messages"]))
    assert first["model"] == "judge-70b" and first["temperature"] == 0 and first["seed"] == 7
    assert first["max_tokens"] == 12 and first["n"] == 1
    assert first["messages"] == [
        {"role": "system", "content": "You judge."},
        {"role": "user", "content": "Which is better?"},
    ]
    assert second["messages"] == [{"role": "user", "content": "Rate this."}]
    assert {item.authorization for item in always_a.received} == {f"Bearer {SECRET_KEY_VALUE}"}
    record = made.describe()
    assert record["response_model"] == REPORTED_MODEL and record["system_fingerprints"] == [FINGERPRINT]
    assert record["requests"] == 2 and record["seed"] == 7 and record["retries"] == {}
    assert record["endpoint"]["host"] == always_a.url.split("//")[1].split("/")[0]
    assert record["first_request_at"] <= record["last_answer_at"]
    assert SECRET_KEY_VALUE not in json.dumps(record)


def test_no_seed_where_the_api_takes_none_and_the_limit_under_its_own_name(always_a: StandInServer) -> None:
    made = generator(always_a.url, supports_seed=False, max_tokens_field="max_completion_tokens")
    answer_all(made, [CALL])
    body = always_a.received[0].body
    assert "seed" not in body and "max_tokens" not in body and body["max_completion_tokens"] == 8
    assert made.describe()["seed"] is None


def test_an_endpoint_without_a_key_never_gets_another_services_key(
    always_a: StandInServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-operators-openai-key")
    found = endpoint(always_a.url, api_key_env=None)
    answer_all(EndpointGenerator(found, make_client(found), max_new_tokens=4, seed=0), [CALL])
    assert "sk-the-operators-openai-key" not in str(always_a.received[0].authorization)


def test_a_missing_key_is_a_typed_failure_on_the_worker(
    always_a: StandInServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("REWARDBOARD_TEST_JUDGE_KEY")
    with pytest.raises(EndpointConfigError, match="REWARDBOARD_TEST_JUDGE_KEY is not set") as error:
        make_client(endpoint(always_a.url))
    assert error.value.kind == "endpoint_misconfigured"
    key_file = tmp_path / "key"
    key_file.write_text(SECRET_KEY_VALUE + "\n")
    found = endpoint(always_a.url, api_key_env=None, api_key_file=str(key_file))
    answer_all(EndpointGenerator(found, make_client(found), max_new_tokens=4, seed=0), [CALL])
    assert always_a.received[0].authorization == f"Bearer {SECRET_KEY_VALUE}"


# Retries and typed failures ---------------------------------------------------------------------------------


def test_server_errors_are_retried_with_exponential_backoff_until_answered() -> None:
    script = {0: Reply(status=500), 1: Reply(status=503)}
    with stand_in(lambda body, index: script.get(index, Reply("[[B]]"))) as server:
        waits: list[float] = []
        found = endpoint(server.url, backoff_s=0.5, max_retries=3)
        made = EndpointGenerator(found, make_client(found), max_new_tokens=4, seed=0, pause=waits.append)
        assert answer_all(made, [CALL]) == [Generated("[[B]]", "eos")]
    assert len(server.received) == 3 and waits == [0.5, 1.0]
    assert made.describe()["retries"] == {"server_error": 2} and made.describe()["requests"] == 3


def test_an_endpoint_answering_500_fails_typed_after_its_retries() -> None:
    with stand_in(lambda body, index: Reply(status=500, error="upstream crashed")) as server:
        made = generator(server.url, max_retries=2)
        with pytest.raises(EndpointUnavailableError) as error:
            answer_all(made, [CALL])
    assert error.value.kind == "endpoint_unavailable"
    assert "tried 3 times" in error.value.message and "HTTP 500: upstream crashed" in error.value.message
    assert len(server.received) == 3


def test_429_waits_as_retry_after_says_then_fails_rate_limited() -> None:
    with stand_in(lambda body, index: Reply(status=429, headers={"Retry-After": "7"})) as server:
        waits: list[float] = []
        found = endpoint(server.url, max_retries=2, max_backoff_s=5)
        made = EndpointGenerator(found, make_client(found), max_new_tokens=4, seed=0, pause=waits.append)
        with pytest.raises(EndpointRateLimitedError) as error:
            answer_all(made, [CALL])
    assert error.value.kind == "endpoint_rate_limited" and "429" in error.value.message
    assert waits == [5, 5]  # Retry-After, never longer than max_backoff_s
    assert len(server.received) == 3


def test_a_stalled_endpoint_times_out_is_retried_and_fails_typed() -> None:
    with stand_in(lambda body, index: Reply("[[A]]", delay_s=30)) as server:
        made = generator(server.url, timeout_s=0.3, max_retries=1)
        with pytest.raises(EndpointUnavailableError, match=r"did not answer within 0.3 s"):
            answer_all(made, [CALL])
    assert len(server.received) == 2 and made.describe()["retries"] == {"timeout": 1}


def test_an_unreachable_endpoint_fails_typed() -> None:
    with stand_in(lambda body, index: "[[A]]") as server:
        url = server.url
    with pytest.raises(EndpointUnavailableError, match="could not be reached"):
        answer_all(generator(url, max_retries=1), [CALL])


def test_an_endpoint_echoing_the_key_does_not_put_it_in_the_failure() -> None:
    echo = Reply(status=401, error=f"Incorrect API key provided: {SECRET_KEY_VALUE}.")
    scripted = stand_in(lambda body, index: echo)
    refused = pytest.raises(EndpointRefusedError, match=r"Incorrect API key provided: \[key\]")
    with scripted as server, refused as error:
        answer_all(generator(server.url), [CALL])
    assert SECRET_KEY_VALUE not in error.value.message


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_refusals_are_not_retried(status: int) -> None:
    scripted = stand_in(lambda body, index: Reply(status=status, error="no such model"))
    with (
        scripted as server,
        pytest.raises(EndpointRefusedError, match=f"HTTP {status}: no such model") as error,
    ):
        answer_all(generator(server.url), [CALL])
    assert error.value.kind == "endpoint_refused" and len(server.received) == 1


def test_a_prompt_longer_than_the_endpoint_takes_is_a_judge_without_an_answer() -> None:
    too_long = Reply(status=400, error="This model's maximum context length is 4096 tokens.")
    with stand_in(lambda body, index: too_long if "long" in str(body) else "[[B]]") as server:
        made = generator(server.url)
        answers = answer_all(made, [JudgeCall(None, "a long prompt"), JudgeCall(None, "short")])
    assert answers == [Generated(None, "not_run"), Generated("[[B]]", "eos")]
    assert made.describe()["refused_as_too_long"] == 1 and len(server.received) == 2


def test_one_failed_request_stops_the_run_without_sending_the_rest() -> None:
    scripted = stand_in(lambda body, index: Reply(status=500))
    with scripted as server, pytest.raises(EndpointUnavailableError):
        answer_all(generator(server.url, max_concurrency=2, max_retries=2), calls(50))
    assert len(server.received) <= 2 * 3  # at most the two prompts in flight, each tried three times


def test_answers_from_two_models_in_one_run_are_refused() -> None:
    def script(body: dict[str, Any], index: int) -> Reply:
        return Reply("[[A]]", model="snapshot-a" if index % 2 else "snapshot-b")

    scripted = stand_in(script)
    with scripted as server, pytest.raises(EndpointConfigError, match="answered from 2 models"):
        answer_all(generator(server.url), calls(4))


def test_an_empty_answer_is_a_refusal_not_a_verdict() -> None:
    scripted = stand_in(lambda body, index: Reply(no_choices=True))
    with scripted as server, pytest.raises(EndpointRefusedError, match="without a completion"):
        answer_all(generator(server.url), [CALL])
    assert len(server.received) == 1


# Limits --------------------------------------------------------------------------------------------------


def test_no_more_requests_in_flight_than_the_endpoint_allows() -> None:
    with stand_in(lambda body, index: Reply("[[A]]", delay_s=0.2)) as server:
        answers = answer_all(generator(server.url, max_concurrency=3), calls(12))
    assert len(answers) == 12 and len(server.received) == 12
    assert 2 <= server.max_in_flight <= 3


def test_the_token_bucket_spaces_requests_to_the_rate() -> None:
    now = [100.0]
    granted: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(30, clock=lambda: now[0], sleep=sleep)  # one request every 2 s
    for _ in range(5):
        bucket.acquire()
        granted.append(now[0])
    assert granted == [100.0, 102.0, 104.0, 106.0, 108.0]
    now[0] += 60  # idle for a minute: no burst is saved up beyond the next request
    bucket.acquire()
    bucket.acquire()
    assert now[0] == 170.0
    unlimited = TokenBucket(None, clock=lambda: now[0], sleep=sleep)
    unlimited.acquire()
    assert now[0] == 170.0


def test_the_rate_limit_applies_to_the_run() -> None:
    now = [0.0]
    seen: list[float] = []

    def script(body: dict[str, Any], index: int) -> str:
        seen.append(now[0])
        return "[[A]]"

    def pause(seconds: float) -> None:
        now[0] += seconds

    with stand_in(script) as server:
        found = endpoint(server.url, requests_per_minute=600, max_concurrency=1)  # one every 0.1 s
        made = EndpointGenerator(
            found, make_client(found), max_new_tokens=4, seed=0, clock=lambda: now[0], pause=pause
        )
        answer_all(made, calls(5))
    assert seen == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_a_run_larger_than_the_budget_sends_nothing(always_a: StandInServer) -> None:
    with pytest.raises(EndpointBudgetError, match="needs 5 requests") as error:
        answer_all(generator(always_a.url, max_requests_per_run=4), calls(5))
    assert error.value.kind == "endpoint_budget_exhausted" and always_a.received == []


def test_retries_count_against_the_budget() -> None:
    scripted = stand_in(lambda body, index: Reply(status=500) if index == 0 else "[[A]]")
    with scripted as server, pytest.raises(EndpointBudgetError, match="used all 2 requests"):
        answer_all(generator(server.url, max_requests_per_run=2, max_concurrency=1), calls(2))
    assert len(server.received) == 2


# The completions API -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_judge(tmp_path_factory.mktemp("judge") / "judge", ["[[B]]"])


def test_completions_send_the_judges_own_token_ids(judge_dir: Path, always_a: StandInServer) -> None:
    found = endpoint(always_a.url, api="completions", tokenizer=str(judge_dir), context_length=4096)
    tokenizer, end_ids, context = load_judge_tokenizer(found, None)
    made = EndpointGenerator(
        found,
        make_client(found),
        max_new_tokens=6,
        seed=1,
        tokenizer=tokenizer,
        end_ids=end_ids,
        context=context,
    )
    answers = answer_all(made, [CALL])
    body = always_a.received[0].body
    assert body["prompt"] == list(encode_prompts(tokenizer, [CALL])[0])
    assert body["max_tokens"] == 6 and body["temperature"] == 0 and "stop_token_ids" not in body
    assert answers == [Generated("[[A]]", "eos")]
    assert made.describe()["end_token_ids"] == end_ids == [tokenizer.eos_token_id]


def test_completions_skip_a_prompt_that_does_not_fit_the_context(
    judge_dir: Path, always_a: StandInServer
) -> None:
    found = endpoint(always_a.url, api="completions", tokenizer=str(judge_dir))
    tokenizer, end_ids, _ = load_judge_tokenizer(found, None)
    short, long = JudgeCall(None, "Hi."), JudgeCall(None, "word " * 400)
    lengths = [len(ids) for ids in encode_prompts(tokenizer, [short, long])]
    made = EndpointGenerator(
        found, make_client(found), max_new_tokens=8, seed=0, tokenizer=tokenizer, end_ids=end_ids,
        context=lengths[0] + 8,
    )  # fmt: skip
    assert answer_all(made, [short, long]) == [Generated("[[A]]", "eos"), Generated(None, "not_run")]
    assert len(always_a.received) == 1


def test_vllm_sampling_reads_the_answer_from_its_token_ids(judge_dir: Path) -> None:
    found = endpoint("http://127.0.0.1:9/v1", api="completions", tokenizer=str(judge_dir), vllm_sampling=True)
    tokenizer, end_ids, context = load_judge_tokenizer(found, None)
    verdict = tokenizer.convert_tokens_to_ids("[[B]]")
    token_ids = [verdict, tokenizer.eos_token_id]
    # The server's own text is not what the in-process path reads: the ids are, cut at the end token.
    with stand_in(lambda body, index: Reply(" [[B]] </s>", token_ids=token_ids)) as server:
        found = endpoint(
            server.url, api="completions", tokenizer=str(judge_dir), vllm_sampling=True, context_length=4096
        )
        made = EndpointGenerator(
            found, make_client(found), max_new_tokens=4, seed=0, tokenizer=tokenizer, end_ids=end_ids,
            context=context,
        )  # fmt: skip
        answers = answer_all(made, [CALL])
    body = server.received[0].body
    assert body["stop_token_ids"] == end_ids and body["return_token_ids"] is True
    assert body["repetition_penalty"] == 1.0
    assert answers == [Generated(tokenizer.decode([verdict], skip_special_tokens=True), "eos")]
    assert answers[0].text == "[[B]]"
