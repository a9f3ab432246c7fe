from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from tests.engine.conftest import SAMPLE
from worker.engine.adapters.classifier import ClassifierAdapter
from worker.engine.benchmarks import get_benchmark
from worker.engine.dataset import load_dataset, select_examples
from worker.engine.errors import (
    HubUnreachableError,
    InvalidModelError,
    InvalidSpecError,
    ModelNotFoundError,
    TokenizerLoadError,
)
from worker.engine.formatting import Encoded
from worker.engine.model_source import hash_directory, resolve_model
from worker.engine.spec import EvaluationSpec
from worker.engine.types import Example

V1 = get_benchmark("rewardbench-v1")


def _adapter(path: Path, **overrides: Any) -> ClassifierAdapter:
    return ClassifierAdapter.from_spec(EvaluationSpec(model=str(path), **overrides), V1)


def test_scores_every_candidate_in_order_with_progress(llama_template: Path) -> None:
    pairs = select_examples(V1, load_dataset(V1, str(SAMPLE)).examples, limit_per_subset=1)
    calls: list[tuple[int, int]] = []
    with _adapter(llama_template, batch_tokens=2048, device="cpu") as adapter:
        scores = adapter.score_examples(pairs, lambda done, total: calls.append((done, total)))
        alone = [adapter.score_examples([pair])[0] for pair in pairs[:3]]
        description = adapter.describe()
    assert len(scores) == len(pairs) and all(len(pair_scores) == 2 for pair_scores in scores)
    assert [pytest.approx(list(s), abs=1e-4) for s in alone] == [list(s) for s in scores[:3]]
    assert calls[-1] == (len(pairs), len(pairs))
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert description["chat_template"] == "tokenizer"
    assert description["dtype"] == "float32" and description["device"] == "cpu"
    assert description["local_files_sha256"] == hash_directory(llama_template)
    assert description["resolved_commit"] is None
    assert description["pad_token_id"] == 2  # no pad token: EOS, also on the model config


def test_model_config_gets_the_pad_token(llama_no_template: Path) -> None:
    adapter = _adapter(llama_no_template)
    assert adapter.model.config.pad_token_id == adapter.tokenizer.eos_token_id
    assert adapter.chat_template == "tulu"


def test_a_tie_scores_zero(llama_template: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from worker.engine.runner import decide_examples

    adapter = _adapter(llama_template)
    monkeypatch.setattr(adapter, "forward", lambda items: [0.25] * len(items))
    pairs = select_examples(V1, load_dataset(V1, str(SAMPLE)).examples, subsets=["hep-go"])
    scored = decide_examples(V1, pairs, adapter.score_examples(pairs), "strict")
    assert [example.outcome for example in scored] == [0.0] * len(pairs)


def test_identical_inputs_are_scored_once_and_tie_exactly(llama_template: Path) -> None:
    # Across examples and batches the same text would pick up float noise from different batch shapes;
    # scored once, it ties exactly, as a tie must (RewardBench 2's 1/k credit, v1's strict tie).
    examples = [
        Example("hep-go", i, (("user", "Write add."),), ("def add(a, b): return a + b", "pass " * (i + 1)))
        for i in range(6)
    ]
    forwarded: list[int] = []
    calls: list[tuple[int, int]] = []
    adapter = _adapter(llama_template, batch_tokens=40, device="cpu")
    forward = adapter.forward

    def counting(items: Sequence[Encoded]) -> torch.Tensor:
        forwarded.append(len(items))
        return forward(items)

    adapter.forward = counting  # type: ignore[method-assign]
    scores = adapter.score_examples(examples, lambda done, total: calls.append((done, total)))
    adapter.close()
    assert sum(forwarded) == 7 and len(forwarded) > 1  # 1 shared text + 6 distinct ones, several batches
    assert len({chosen for chosen, _ in scores}) == 1
    assert calls[-1] == (6, 6)


def test_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no such model directory"):
        resolve_model(str(tmp_path / "absent"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match=r"no config\.json"):
        resolve_model(str(tmp_path / "empty"))


def test_three_labels_is_refused(three_labels: Path) -> None:
    with pytest.raises(InvalidModelError, match="has 3 labels; a reward model needs exactly one"):
        _adapter(three_labels)


def test_causal_lm_is_refused(causal_lm: Path) -> None:
    with pytest.raises(InvalidModelError, match="is a LlamaForCausalLM with no sequence-classification head"):
        _adapter(causal_lm)


def test_missing_head_weights_are_refused(causal_lm: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(causal_lm, tmp_path / "relabelled")
    config = json.loads((copy / "config.json").read_text())
    config["architectures"] = ["LlamaForSequenceClassification"]
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(InvalidModelError, match=r"lacks 1 weight\(s\) \(score.weight\)"):
        _adapter(copy)


def test_remote_code_is_refused(llama_template: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(llama_template, tmp_path / "remote")
    config = json.loads((copy / "config.json").read_text())
    config.update(model_type="my-custom-rm", auto_map={"AutoConfig": "modeling.MyConfig"})
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(InvalidModelError, match="trust_remote_code"):
        _adapter(copy)


def test_pickle_weights_are_refused(llama_template: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(llama_template, tmp_path / "pickled")
    (copy / "model.safetensors").rename(copy / "pytorch_model.bin")
    with pytest.raises(InvalidModelError, match=r"no \.safetensors weights"):
        _adapter(copy)


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_broken_tokenizer(llama_template: Path, tmp_path: Path, damage: str) -> None:
    copy = shutil.copytree(llama_template, tmp_path / "broken-tokenizer")
    if damage == "corrupt":
        (copy / "tokenizer.json").write_text("{ this is not json")
    else:
        for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
            (copy / name).unlink()
    with pytest.raises(TokenizerLoadError, match="the tokenizer failed to load"):
        _adapter(copy)


def test_unavailable_device_is_a_spec_error(llama_template: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InvalidSpecError, match="'cuda' was asked for but is not available"):
        _adapter(llama_template, device="cuda")


def test_unreachable_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    with pytest.raises(HubUnreachableError, match="could not reach the Hub for org/model"):
        resolve_model("org/model")


def test_hub_model_records_the_resolved_commit(llama_template: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    sha = "0123456789abcdef0123456789abcdef01234567"
    siblings = [SimpleNamespace(rfilename=p.name) for p in llama_template.iterdir()]
    fetched: list[tuple[str, str | None]] = []

    def model_info(self: Any, repo_id: str, *, revision: str | None = None) -> Any:
        return SimpleNamespace(sha=sha, siblings=siblings)

    def snapshot_download(repo_id: str, *, revision: str | None, **kwargs: Any) -> str:
        fetched.append((repo_id, revision))
        return str(llama_template)

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    with _adapter(Path("org/tiny-rm"), revision="v1") as adapter:
        description = adapter.describe()
    assert fetched == [("org/tiny-rm", sha)]
    assert (description["model"], description["revision"], description["resolved_commit"]) == (
        "org/tiny-rm",
        "v1",
        sha,
    )

    monkeypatch.setattr(
        huggingface_hub.HfApi,
        "model_info",
        lambda self, repo_id, revision=None: SimpleNamespace(
            sha=sha, siblings=[SimpleNamespace(rfilename="x.bin")]
        ),
    )
    with pytest.raises(InvalidModelError, match=r"org/tiny-rm: no \.safetensors weights"):
        resolve_model("org/tiny-rm")
    assert len(fetched) == 1


@pytest.mark.parametrize("attention", ["varlen", "sdpa"])
def test_the_duplicated_bos_is_masked(llama_bos_template: Path, attention: str) -> None:
    from worker.engine.formatting import Encoded

    adapter = _adapter(llama_bos_template, attention=attention)
    (item,) = adapter.encoder.encode([adapter.encoder.texts([("user", "hi")], ["hello"])[0]])
    assert item.mask_first
    unmasked = Encoded(item.ids, mask_first=False)
    masked_score = float(adapter.forward([item])[0])
    assert masked_score != pytest.approx(float(adapter.forward([unmasked])[0]), abs=1e-6)


def test_a_failing_chat_template_is_a_tokenizer_error(llama_template: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(llama_template, tmp_path / "raising-template")
    (copy / "chat_template.jinja").write_text("{{ raise_exception('roles must alternate') }}")
    pairs = select_examples(V1, load_dataset(V1, str(SAMPLE)).examples, subsets=["hep-go"])
    with pytest.raises(TokenizerLoadError, match="the chat template or tokenizer failed on the data"):
        _adapter(copy).score_examples(pairs)


def test_a_revision_needs_a_hub_model(llama_template: Path) -> None:
    with pytest.raises(InvalidSpecError, match="cannot be used with a local directory"):
        resolve_model(str(llama_template), revision="main")


def test_without_local_models_a_directory_is_looked_up_on_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    from tests.support.hub_server import HubServer

    relative = "tests/data"  # a directory that exists here, named like a Hub id
    with HubServer() as hub:
        monkeypatch.setattr(constants, "ENDPOINT", hub.url)
        with pytest.raises(ModelNotFoundError) as caught:
            resolve_model(relative, allow_local=False)
        assert ("GET", "/api/models/tests/data") in hub.requests
    assert caught.value.message == "tests/data: model not found on the Hub (or it is private)"


@pytest.mark.parametrize("attention", ["varlen", "sdpa"])
def test_a_nan_reward_stops_the_run(llama_template: Path, attention: str) -> None:
    import torch

    adapter = _adapter(llama_template, attention=attention)
    with torch.no_grad():
        adapter.model.score.weight.fill_(float("nan"))
    pairs = select_examples(V1, load_dataset(V1, str(SAMPLE)).examples, subsets=["hep-go"])
    with pytest.raises(InvalidModelError, match=r"non-finite reward \(NaN or inf\)"):
        adapter.score_examples(pairs)
