"""Per-device defaults: dtype, the bf16 check on CPUs, and the token budget."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig

from tests.engine.conftest import SAMPLE
from worker.engine import device as device_module
from worker.engine import token_budget
from worker.engine.device import SlowDtypeWarning, pick_dtype
from worker.engine.token_budget import activation_bytes_per_token, default_budget, last_level_cache_bytes

CPU = torch.device("cpu")
EIGHT_B = LlamaConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32)


def test_float32_is_the_cpu_default_and_native_bf16_is_not_warned_about(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert pick_dtype("auto", CPU) == torch.float32
    monkeypatch.setattr(device_module, "cpu_has_native", lambda dtype: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pick_dtype("bfloat16", CPU) == torch.bfloat16


def test_bf16_on_a_cpu_without_it_is_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_module, "cpu_has_native", lambda dtype: False)
    with pytest.warns(SlowDtypeWarning, match="no native bfloat16 arithmetic"):
        assert pick_dtype("bfloat16", CPU) == torch.bfloat16


def test_the_command_line_prints_the_warning_and_records_the_dtype(
    rewardboard: Callable[[Sequence[str]], int],
    llama_template: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(device_module, "cpu_has_native", lambda dtype: False)
    output = tmp_path / "results.json"
    arguments = ["evaluate", str(llama_template), "--dataset", str(SAMPLE), "--limit-per-subset", "1"]
    arguments += ["--device", "cpu", "--dtype", "bfloat16", "--output", str(output), "--no-progress"]
    with warnings.catch_warnings():
        assert rewardboard(arguments) == 0
    err = capsys.readouterr().err
    assert "warning: this CPU has no native bfloat16 arithmetic" in err
    assert json.loads(output.read_text())["reproducibility"]["dtype"] == "bfloat16"


def test_weights_load_in_the_dtype_asked(llama_template: Path) -> None:
    from worker.engine.adapters.classifier import ClassifierAdapter
    from worker.engine.benchmarks import get_benchmark
    from worker.engine.spec import EvaluationSpec

    spec = EvaluationSpec(model=str(llama_template), device="cpu", dtype="bfloat16")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlowDtypeWarning)
        adapter = ClassifierAdapter.from_spec(spec, get_benchmark("rewardbench-v1"))
    assert {p.dtype for p in adapter.model.parameters()} == {torch.bfloat16}
    assert {p.device.type for p in adapter.model.parameters()} == {"cpu"}
    assert adapter.describe()["dtype"] == "bfloat16"


def test_last_level_cache_is_read_from_sysfs(tmp_path: Path) -> None:
    caches = [("Data", "48K"), ("Instruction", "32K"), ("Unified", "32768K")]
    for index, (level_type, size) in enumerate(caches):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        (folder / "type").write_text(level_type + "\n")
        (folder / "size").write_text(size + "\n")
    assert last_level_cache_bytes(tmp_path) == 32 << 20
    assert last_level_cache_bytes(tmp_path / "absent") is None


def test_cpu_budget_fills_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    small = LlamaConfig(hidden_size=256, intermediate_size=512)
    monkeypatch.setattr(token_budget, "last_level_cache_bytes", lambda: 32 << 20)
    per_token = activation_bytes_per_token(small, torch.float32)
    assert per_token == 4 * (6 * 256 + 3 * 512)
    budget = default_budget(CPU, small, torch.float32)
    expected = token_budget.CPU_CACHE_FILLS * (32 << 20) / per_token
    assert budget.tokens <= expected < 2 * budget.tokens and budget.rule.startswith("cpu: ")
    assert default_budget(CPU, EIGHT_B, torch.float32).tokens == token_budget.MIN_TOKENS
    monkeypatch.setattr(token_budget, "last_level_cache_bytes", lambda: None)
    assert default_budget(CPU, small, torch.float32).tokens == token_budget.FALLBACK_TOKENS


def test_gpu_budget_comes_from_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    free = 120 << 30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 141 << 30))
    budget = default_budget(torch.device("cuda"), EIGHT_B, torch.bfloat16)
    per_token = activation_bytes_per_token(EIGHT_B, torch.bfloat16)
    expected = min(token_budget.GPU_FREE_MEMORY_SHARE * free / per_token, token_budget.GPU_MAX_TOKENS)
    assert budget.tokens <= expected < 2 * budget.tokens
    assert budget.describe()["batch_tokens"] == budget.tokens
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1 << 30, 141 << 30))
    assert default_budget(torch.device("cuda"), EIGHT_B, torch.bfloat16).tokens == token_budget.MIN_TOKENS
