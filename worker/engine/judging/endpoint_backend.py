"""Judge answers from an OpenAI-compatible endpoint (``endpoints.py``), with the interface of the in-process
generation backends: ``encode`` the calls, ``generate`` one answer per prompt, ``describe`` what ran.

Every request asks for temperature 0, ``max_new_tokens`` tokens and, where the API takes one, the seed. The
completions API gets the prompt as the judge's token ids (its chat template rendered and tokenised exactly as
in-process, ``generation.encode_prompts``); a prompt that does not fit the context with its answer is not
sent, as in-process. The chat API gets the system and user messages; a prompt the API says is too long is a
judge that gave no answer, as in-process.

Requests run on a bounded thread pool (``max_concurrency`` in flight) behind a token bucket
(``requests_per_minute``). A 429, a 5xx, a timeout or a refused connection is retried with exponential
backoff (``Retry-After`` honoured, never longer than ``max_backoff_s``); after the last retry the run stops
with a typed error, as it does at once on any other refusal and when the run's request budget would be
passed (checked before the first request too). A run never ends with some answers missing: either every
prompt is answered (or not run for its length) or the run fails.

The record keeps the endpoint (provider, host, served model, never the key), the ``model`` every answer
reported (the exact snapshot; answers from two models stop the run), the ``system_fingerprint`` values, the
requests, retries and token usage, and when the first request went and the last answer came.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from worker.engine.errors import EngineError, HubUnreachableError, TokenizerLoadError
from worker.engine.hub_errors import first_line, is_network_error
from worker.engine.judging.endpoints import (
    Endpoint,
    EndpointBudgetError,
    EndpointConfigError,
    EndpointError,
    EndpointRateLimitedError,
    EndpointRefusedError,
    EndpointUnavailableError,
)
from worker.engine.judging.generation import (
    BatchDone,
    context_length,
    decode_answer,
    encode_prompts,
    end_token_ids,
)
from worker.engine.judging.protocols import Generated, JudgeCall

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionMessageParam

# A prompt as this backend keys it: the token ids (completions) or ("chat", system, user).
PromptKey = tuple[Any, ...]
# Files a judge's tokenizer needs from the Hub: never weights.
TOKENIZER_PATTERNS: Final = ["*.json", "*.model", "*.txt", "*.jinja", "*.tiktoken"]
# Phrases with which OpenAI-compatible servers refuse a prompt longer than the model's context.
_TOO_LONG: Final = ("context length", "context_length", "maximum context", "too long", "too many tokens")
_RETRIED_STATUSES: Final = frozenset({408, 409})


class TokenBucket:
    """At most ``per_minute`` acquisitions a minute, evenly spaced (a bucket of one token); thread-safe."""

    def __init__(
        self,
        per_minute: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.clock = clock
        self.sleep = sleep
        self._next = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self.sleep(start - now)


class RequestBudget:
    """The requests one run may send; every attempt counts, retries included. Thread-safe."""

    def __init__(self, limit: int, endpoint: str) -> None:
        self.limit = limit
        self.endpoint = endpoint
        self.used = 0
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int:
        return self.limit - self.used

    def take(self) -> None:
        with self._lock:
            if self.used >= self.limit:
                raise EndpointBudgetError(
                    f"the run used all {self.limit:,} requests that endpoint {self.endpoint!r} allows a run "
                    "(max_requests_per_run), retries included; it stopped rather than score part of the data"
                )
            self.used += 1


class _Stopped(Exception):
    """Another request of the run failed: this one is not sent."""


class EndpointGenerator:
    backend = "endpoint"

    def __init__(
        self,
        endpoint: Endpoint,
        client: openai.OpenAI,
        *,
        max_new_tokens: int,
        seed: int,
        tokenizer: Any | None = None,
        end_ids: Sequence[int] = (),
        context: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        pause: Callable[[float], Any] | None = None,
    ) -> None:
        if endpoint.api == "completions" and tokenizer is None:
            raise EndpointConfigError(
                f"judge endpoint {endpoint.name!r}: the completions API needs a tokenizer"
            )
        self.endpoint = endpoint
        self.client = client
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self.tokenizer = tokenizer
        self.end_ids = list(end_ids)
        self.context = context  # completions: tokens a prompt and its answer may use together
        self._stop = threading.Event()
        # Waits (backoff, rate limit) end early when the run stops; tests may record them instead.
        self.pause = pause or self._stop.wait
        self.bucket = TokenBucket(endpoint.requests_per_minute, clock=clock, sleep=self.pause)
        self.budget = RequestBudget(endpoint.max_requests_per_run, endpoint.name)
        self._lock = threading.Lock()
        self.models: Counter[str] = Counter()
        self.fingerprints: set[str] = set()
        self.retries: Counter[str] = Counter()
        self.finishes: Counter[str] = Counter()
        self.usage: Counter[str] = Counter()
        self.refused_as_too_long = 0
        self.first_request_at: float | None = None
        self.last_answer_at: float | None = None

    # The backend interface ----------------------------------------------------------------------------

    def encode(self, calls: Sequence[JudgeCall]) -> list[PromptKey]:
        if self.endpoint.api == "completions":
            return encode_prompts(self.tokenizer, calls)
        return [("chat", call.system, call.user) for call in calls]

    def generate(self, prompts: Sequence[PromptKey], on_batch: BatchDone | None = None) -> list[Generated]:
        """One answer per prompt, in order; raises a typed ``EndpointError`` instead of missing answers."""
        results: list[Generated | None] = [None] * len(prompts)
        runnable = [index for index, prompt in enumerate(prompts) if self._fits(prompt)]
        skipped = sorted(set(range(len(prompts))) - set(runnable))
        for index in skipped:
            results[index] = Generated(None, "not_run")
        if skipped and on_batch is not None:
            on_batch(skipped)
        if len(runnable) > self.budget.remaining:
            raise EndpointBudgetError(
                f"the run needs {len(runnable):,} requests and endpoint {self.endpoint.name!r} allows "
                f"{self.budget.limit:,} a run (max_requests_per_run); nothing was sent"
            )
        self._stop.clear()
        with ThreadPoolExecutor(self.endpoint.max_concurrency, thread_name_prefix="endpoint") as pool:
            pending: dict[Future[Generated], int] = {
                pool.submit(self._answer, prompts[index]): index for index in runnable
            }
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_EXCEPTION)
                    finished, failure = [], None
                    for future in done:
                        index = pending.pop(future)
                        error = future.exception()
                        if error is None:
                            results[index] = future.result()
                            finished.append(index)
                        elif failure is None and not isinstance(error, _Stopped):
                            failure = error  # what stopped the run, not a request it then held back
                    if finished and on_batch is not None:
                        on_batch(finished)
                    if failure is not None:
                        raise failure
            except BaseException:
                self._stop.set()  # requests not yet sent are not sent; waits end now
                for future in pending:
                    future.cancel()
                raise
        self._check_one_model()
        return [result if result is not None else Generated(None, "not_run") for result in results]

    def describe(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "backend": self.backend,
            "endpoint": self.endpoint.describe(),
            "response_model": self.models.most_common(1)[0][0] if self.models else None,
            "system_fingerprints": sorted(self.fingerprints),
            "decoding": "temperature 0, one answer per prompt",
            "seed": self.seed if self.endpoint.supports_seed else None,
            "max_new_tokens": self.max_new_tokens,
            "requests": self.budget.used,
            "retries": dict(sorted(self.retries.items())),
            "finish_reasons": dict(sorted(self.finishes.items())),
            "refused_as_too_long": self.refused_as_too_long,
            "usage": dict(sorted(self.usage.items())),
            "first_request_at": self.first_request_at,
            "last_answer_at": self.last_answer_at,
            "limits": self.endpoint.limits(),
        }
        if self.endpoint.api == "completions":
            record["prompt_tokens"] = (
                "chat template with generation prompt, tokenised without added special tokens, sent as ids"
            )
            record["context_length"] = self.context
            record["end_token_ids"] = self.end_ids
        else:
            record["prompt_tokens"] = "system and user messages, templated by the endpoint"
        return record

    def close(self) -> None:
        self.client.close()

    # One prompt ---------------------------------------------------------------------------------------

    def _fits(self, prompt: PromptKey) -> bool:
        if self.endpoint.api != "completions" or self.context is None:
            return True
        return len(prompt) + self.max_new_tokens <= self.context

    def _answer(self, prompt: PromptKey) -> Generated:
        try:
            return self._try_answer(prompt)
        except EndpointError:
            self._stop.set()  # the run fails: this thread starts no other prompt, the others stop too
            raise

    def _try_answer(self, prompt: PromptKey) -> Generated:
        import openai

        endpoint = self.endpoint
        attempts = endpoint.max_retries + 1
        failure: EndpointError | None = None
        for attempt in range(1, attempts + 1):
            if self._stop.is_set():
                raise _Stopped
            self.budget.take()
            self.bucket.acquire()
            if self._stop.is_set():
                raise _Stopped
            self._mark("first_request_at")
            wait_s: float | None = None
            try:
                return self._read(self._send(prompt))
            except openai.APIStatusError as error:
                status = error.status_code
                reason = self._redact(f"HTTP {status}: {_message(error)}")
                if status == 429:
                    failure = EndpointRateLimitedError(
                        self._gave_up("kept answering 429 (rate limited)", reason)
                    )
                    wait_s = _retry_after(error)
                    self._count_retry("rate_limited", attempt, attempts)
                elif status >= 500 or status in _RETRIED_STATUSES:
                    failure = EndpointUnavailableError(
                        self._gave_up(f"kept failing with HTTP {status}", reason)
                    )
                    wait_s = _retry_after(error)
                    self._count_retry("server_error", attempt, attempts)
                elif status in (400, 413, 422) and _too_long(error):
                    with self._lock:
                        self.refused_as_too_long += 1
                    return Generated(None, "not_run")
                else:
                    raise EndpointRefusedError(
                        f"judge endpoint {endpoint.name!r} refused a request ({reason}); nothing is retried "
                        "after such an answer: check the endpoint's model, key and limits"
                    ) from None
            except openai.APITimeoutError:
                failure = EndpointUnavailableError(
                    self._gave_up(f"did not answer within {endpoint.timeout_s:g} s", "timed out")
                )
                self._count_retry("timeout", attempt, attempts)
            except openai.APIConnectionError as error:
                failure = EndpointUnavailableError(
                    self._gave_up("could not be reached", self._redact(first_line(error.__cause__ or error)))
                )
                self._count_retry("connection", attempt, attempts)
            if attempt < attempts:
                delay = wait_s if wait_s is not None else endpoint.backoff_s * 2 ** (attempt - 1)
                self.pause(min(delay, endpoint.max_backoff_s))
        assert failure is not None
        raise failure

    def _redact(self, text: str) -> str:
        """An endpoint's own words, without the key should it echo it (failure messages are stored)."""
        key = str(getattr(self.client, "api_key", "") or "")
        return text.replace(key, "[key]") if len(key) >= 8 else text

    def _gave_up(self, what: str, last: str) -> str:
        endpoint = self.endpoint
        return (
            f"judge endpoint {endpoint.name!r} ({endpoint.provider}, {endpoint.host}) {what}; the request "
            f"was tried {endpoint.max_retries + 1} times with backoff (last answer: {last}). The run stopped "
            "rather than score part of the data"
        )

    def _count_retry(self, reason: str, attempt: int, attempts: int) -> None:
        if attempt < attempts:
            with self._lock:
                self.retries[reason] += 1

    def _mark(self, name: str) -> None:
        with self._lock:
            if name == "first_request_at" and self.first_request_at is None:
                self.first_request_at = time.time()
            elif name == "last_answer_at":
                self.last_answer_at = time.time()

    def _send(self, prompt: PromptKey) -> Any:
        endpoint = self.endpoint
        options: dict[str, Any] = {"model": endpoint.model, "temperature": 0.0, "n": 1}
        if endpoint.supports_seed:
            options["seed"] = self.seed
        if endpoint.api == "completions":
            if endpoint.vllm_sampling:
                options["extra_body"] = {
                    "stop_token_ids": self.end_ids,
                    "repetition_penalty": 1.0,
                    "return_token_ids": True,
                }
            return self.client.completions.create(
                prompt=list(prompt), max_tokens=self.max_new_tokens, **options
            )
        _, system, user = prompt
        messages: list[ChatCompletionMessageParam] = []
        if system is not None:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": user})
        options[endpoint.max_tokens_field] = self.max_new_tokens
        return self.client.chat.completions.create(messages=messages, **options)

    def _read(self, response: Any) -> Generated:
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise EndpointRefusedError(
                f"judge endpoint {self.endpoint.name!r} answered without a completion (no choices)"
            )
        choice = choices[0]
        finish = str(getattr(choice, "finish_reason", None) or "unknown")
        if self.endpoint.api == "completions":
            token_ids = getattr(choice, "token_ids", None) if self.endpoint.vllm_sampling else None
            if isinstance(token_ids, list):  # read exactly as in-process: cut at an end id, decoded here
                answer = decode_answer(self.tokenizer, token_ids, self.end_ids)
                text = answer.text
            else:
                text = getattr(choice, "text", None)
        else:
            message = getattr(choice, "message", None)
            text = getattr(message, "content", None) or ""
        if not isinstance(text, str):
            raise EndpointRefusedError(f"judge endpoint {self.endpoint.name!r} answered without text")
        usage = getattr(response, "usage", None)
        with self._lock:
            self.models[str(getattr(response, "model", None) or "")] += 1
            fingerprint = getattr(response, "system_fingerprint", None)
            if fingerprint:
                self.fingerprints.add(str(fingerprint))
            self.finishes[finish] += 1
            for name in ("prompt_tokens", "completion_tokens"):
                value = getattr(usage, name, None)
                if isinstance(value, int):
                    self.usage[name] += value
        self._mark("last_answer_at")
        return Generated(text, "length" if finish == "length" else "eos")

    def _check_one_model(self) -> None:
        named = sorted(model for model in self.models if model)
        if len(named) > 1:
            raise EndpointConfigError(
                f"judge endpoint {self.endpoint.name!r} answered from {len(named)} models in one run "
                f"({', '.join(named[:4])}): register a pinned model snapshot, so one result is one model"
            )


def _message(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        text = inner.get("message") if isinstance(inner, dict) else inner
        if text:
            return first_line(Exception(str(text)))[:200]
    return first_line(Exception(str(getattr(error, "message", "") or "no message")))[:200]


def _too_long(error: Any) -> bool:
    text = f"{_message(error)} {getattr(error, 'code', '') or ''}".lower()
    return any(phrase in text for phrase in _TOO_LONG)


def _retry_after(error: Any) -> float | None:
    """Seconds a 429/503 answer asks to wait (``Retry-After``: seconds or an HTTP date), or None."""
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


# The judge's tokenizer (completions) ------------------------------------------------------------------------


def load_judge_tokenizer(endpoint: Endpoint, cache_dir: str | None) -> tuple[Any, list[int], int]:
    """The tokenizer the endpoint's judge is prompted with, its end-of-answer ids and its context."""
    from worker.engine.adapters.hf_loading import load_tokenizer

    assert endpoint.tokenizer is not None
    path = _tokenizer_files(endpoint, cache_dir)
    tokenizer = load_tokenizer(path, endpoint.tokenizer)
    if not getattr(tokenizer, "chat_template", None):
        raise TokenizerLoadError(
            f"judge endpoint {endpoint.name!r}: the tokenizer {endpoint.tokenizer} has no chat template"
        )
    config = _optional_config(path)
    end_ids = end_token_ids(_optional_generation_config(path), tokenizer)
    context = endpoint.context_length or context_length(config, tokenizer)
    return tokenizer, end_ids, context


def _tokenizer_files(endpoint: Endpoint, cache_dir: str | None) -> Path:
    assert endpoint.tokenizer is not None
    local = Path(endpoint.tokenizer).expanduser()
    if local.is_dir():
        return local
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(
            endpoint.tokenizer,
            revision=endpoint.tokenizer_revision,
            cache_dir=cache_dir,
            allow_patterns=TOKENIZER_PATTERNS,
        )
    except EngineError:
        raise
    except Exception as exc:
        if is_network_error(exc):
            raise HubUnreachableError(
                f"could not reach the Hub for the tokenizer of endpoint {endpoint.name!r}: {first_line(exc)}"
            ) from None
        raise EndpointConfigError(
            f"judge endpoint {endpoint.name!r}: its tokenizer {endpoint.tokenizer} could not be fetched "
            f"({first_line(exc)})"
        ) from None
    return Path(folder)


def _optional_config(path: Path) -> Any:
    if not (path / "config.json").is_file():
        return None
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(path, trust_remote_code=False)
    except Exception:  # a tokenizer repository's config is optional; the context then comes from elsewhere
        return None


def _optional_generation_config(path: Path) -> Any:
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(path)
    except OSError:  # no generation_config.json
        return None
