"""The endpoint registry: JSON in the environment or a JSON/TOML file, checked in words; keys only named
(an environment variable or a file), never written in it; the board id and what a result may record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worker.engine.judging.endpoints import (
    ENDPOINTS_ENV,
    ENDPOINTS_FILE_ENV,
    EndpointConfigError,
    EndpointSources,
    load_registry,
)

OPENAI = {
    "base_url": "https://api.openai.com/v1/",
    "model": "gpt-4o-2024-08-06",
    "provider": "OpenAI",
    "api_key_env": "OPENAI_API_KEY",
    "supports_seed": True,
    "max_tokens_field": "max_completion_tokens",
}
VLLM = {
    "base_url": "http://10.0.0.5:8000/v1",
    "model": "meta-llama/Llama-3.1-70B-Instruct",
    "model_id": "our-lab/llama-3.1-70b-judge",
    "provider": "vLLM",
    "api": "completions",
    "tokenizer": "meta-llama/Llama-3.1-70B-Instruct",
    "context_length": 8192,
    "max_concurrency": 16,
    "requests_per_minute": 600,
    "max_requests_per_run": 20000,
    "vllm_sampling": True,
}


def test_json_in_the_environment_and_a_toml_file_together(tmp_path: Path) -> None:
    toml = tmp_path / "endpoints.toml"
    toml.write_text(
        '[claude]\nbase_url = "https://api.anthropic.com/v1"\nmodel = "claude-sonnet-4-20250514"\n'
        'provider = "Anthropic"\napi_key_file = "/run/secrets/anthropic"\n'
    )
    environ = {
        ENDPOINTS_ENV: json.dumps({"gpt-4o": OPENAI, "llama-70b": VLLM}),
        ENDPOINTS_FILE_ENV: str(toml),
    }
    registry = load_registry(EndpointSources.from_environment(environ))

    assert registry.names() == ["claude", "gpt-4o", "llama-70b"]
    gpt = registry.get("gpt-4o")
    assert gpt.model_id == "openai/gpt-4o-2024-08-06"  # as the published API rows are named
    assert gpt.base_url == "https://api.openai.com/v1" and gpt.host == "api.openai.com"
    assert gpt.api == "chat" and gpt.key_source == "environment variable"
    assert registry.get("claude").model_id == "anthropic/claude-sonnet-4-20250514"
    assert registry.get("claude").key_source == "file"
    llama = registry.get("llama-70b")
    assert llama.model_id == "our-lab/llama-3.1-70b-judge" and llama.host == "10.0.0.5:8000"
    assert llama.limits()["max_concurrency"] == 16 and llama.limits()["requests_per_minute"] == 600
    # What a result records: no key, no key location.
    assert "OPENAI_API_KEY" not in json.dumps(gpt.describe()) and "secrets" not in str(
        registry.get("claude").describe()
    )


def test_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.json"
    path.write_text(json.dumps({"gpt-4o": OPENAI}))
    assert load_registry(EndpointSources(file=path)).names() == ["gpt-4o"]


@pytest.mark.parametrize(
    ("definition", "words"),
    [
        ({**OPENAI, "api_key": "sk-live-123"}, "never holds the key itself"),
        ({**OPENAI, "base_url": "https://user:pw@api.openai.com/v1"}, "must not hold credentials"),
        ({**OPENAI, "base_url": "https://api.openai.com/v1?key=sk-1"}, "must not hold credentials"),
        ({**OPENAI, "base_url": "api.openai.com"}, "must be an http(s) URL"),
        ({**OPENAI, "api_key_file": "/k"}, "not both"),
        ({**VLLM, "tokenizer": None}, "name its tokenizer"),
        ({**OPENAI, "model_id": "no-org"}, "is not of the form org/name"),
        ({**OPENAI, "max_concurrency": 0}, "max_concurrency"),
        ({**OPENAI, "temprature": 0}, "temprature: is not a field of an endpoint"),
        ({**OPENAI, "api_key_env": "not a name"}, "environment variable's name"),
    ],
)
def test_wrong_definitions_are_refused_in_words(definition: dict[str, object], words: str) -> None:
    with pytest.raises(EndpointConfigError, match="judge endpoint 'gpt-4o'") as error:
        load_registry(EndpointSources({"gpt-4o": definition}))
    assert words in error.value.message and error.value.kind == "endpoint_misconfigured"


def test_wrong_registries_are_refused_in_words(tmp_path: Path) -> None:
    with pytest.raises(EndpointConfigError, match="not valid JSON"):
        load_registry(EndpointSources("{gpt: 1"))
    with pytest.raises(EndpointConfigError, match="name 'GPT 4o'"):
        load_registry(EndpointSources({"GPT 4o": OPENAI}))
    with pytest.raises(EndpointConfigError, match="cannot be read"):
        load_registry(EndpointSources(file=tmp_path / "missing.toml"))
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps({"gpt-4o": OPENAI}))
    with pytest.raises(EndpointConfigError, match="defined twice"):
        load_registry(EndpointSources({"gpt-4o": OPENAI}, twice))
    registry = load_registry(EndpointSources({"gpt-4o": OPENAI}))
    with pytest.raises(EndpointConfigError, match=r"no judge endpoint named 'claude'.*registered: gpt-4o"):
        registry.get("claude")
    assert len(load_registry(EndpointSources())) == 0
