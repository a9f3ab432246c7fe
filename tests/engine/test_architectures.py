"""The architectures released reward models use: each loads, picks an attention its class supports, and
scores the same packed as padded; the dry run's head check accepts the same list. Upstream's pad rule
for every tokenizer/config combination."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from transformers import PreTrainedTokenizerFast

from tests.engine.conftest import SAMPLE
from tests.support.tiny_models import (
    CLASSIFIER_CONFIGS,
    PLAIN_TEMPLATE,
    UNK,
    build_tiny_classifier,
    build_tokenizer,
)
from worker.engine.adapters.classifier import ClassifierAdapter
from worker.engine.benchmarks import get_benchmark
from worker.engine.dataset import load_dataset, select_examples
from worker.engine.errors import InvalidModelError, InvalidSpecError, TokenizerLoadError
from worker.engine.kinds import get_kind
from worker.engine.model_kinds.base import KindCheck, ModelMetadata
from worker.engine.model_size import model_sizes
from worker.engine.pad_rule import apply_upstream_pad_rule
from worker.engine.spec import EvaluationSpec
from worker.engine.types import CandidateScores

V1 = get_benchmark("rewardbench-v1")
ARCHITECTURES = sorted(CLASSIFIER_CONFIGS)
# What ``auto`` takes on a CPU: packed wherever the class routes attention through transformers' interface
# and reads its score from the last token; DeBERTa (bidirectional, first-token pooler, no SDPA) is eager.
AUTO_ON_CPU = {name: "varlen" for name in ARCHITECTURES} | {"deberta-v2": "eager"}
# The padded choice each architecture scores with when packing is not asked: SDPA where transformers has it.
PADDED = {name: "sdpa" for name in ARCHITECTURES} | {"gemma2": "eager", "deberta-v2": "eager"}


@pytest.fixture(scope="module")
def shared_tokenizer() -> PreTrainedTokenizerFast:
    return build_tokenizer(chat_template=PLAIN_TEMPLATE)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, shared_tokenizer: PreTrainedTokenizerFast) -> Path:
    root = tmp_path_factory.mktemp("architectures")
    for seed, arch in enumerate(ARCHITECTURES):
        build_tiny_classifier(
            root / arch, arch=arch, seed=seed, tokenizer=tokenizer_for(arch, shared_tokenizer)
        )
    return root


def tokenizer_for(arch: str, shared: PreTrainedTokenizerFast) -> PreTrainedTokenizerFast:
    """A copy of the shared tokenizer; for Qwen2 one with the pre-tokenizer and pad token that transformers'
    Qwen2 tokenizer class imposes on every checkpoint of that type."""
    if arch == "qwen2":
        return build_tokenizer(chat_template=PLAIN_TEMPLATE, qwen2=True)
    return copy.deepcopy(shared)


@pytest.fixture(scope="module")
def pairs() -> list[Any]:
    return select_examples(V1, load_dataset(V1, str(SAMPLE)).examples, limit_per_subset=1)


def _score(path: Path, pairs: list[Any], **overrides: Any) -> tuple[list[CandidateScores], dict[str, Any]]:
    spec = EvaluationSpec(model=str(path), device="cpu", dtype="float32", **overrides)
    with ClassifierAdapter.from_spec(spec, V1) as adapter:
        return adapter.score_examples(pairs), adapter.describe()


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_loads_and_scores_packed_and_padded(
    arch: str, built: Path, pairs: list[Any]
) -> None:
    auto, auto_record = _score(built / arch, pairs)
    padded, padded_record = _score(built / arch, pairs, attention=PADDED[arch])
    assert auto_record["attention"] == AUTO_ON_CPU[arch]
    assert auto_record["attn_implementation"] == AUTO_ON_CPU[arch]
    assert padded_record["attention"] == PADDED[arch] and padded_record["padding"] == "right"
    flat_auto = [score for scores in auto for score in scores]
    flat_padded = [score for scores in padded for score in scores]
    assert flat_auto == pytest.approx(flat_padded, abs=1e-4)
    assert len(set(flat_auto)) > len(flat_auto) // 2  # real, differing rewards, not a constant


@pytest.mark.parametrize(
    ("arch", "asked", "reason"),
    [
        ("gemma2", "sdpa", "transformers has no SDPA attention for Gemma2ForSequenceClassification"),
        ("deberta-v2", "sdpa", "transformers has no SDPA attention for DebertaV2ForSequenceClassification"),
        ("deberta-v2", "varlen", "DebertaV2ForSequenceClassification"),
    ],
)
def test_an_attention_the_architecture_lacks_is_refused_by_name(
    arch: str, asked: str, reason: str, built: Path, pairs: list[Any]
) -> None:
    with pytest.raises(InvalidSpecError, match=reason):
        _score(built / arch, pairs, attention=asked)


def test_a_model_type_without_a_classifier_class_is_refused_by_name(tmp_path: Path, built: Path) -> None:
    model = tmp_path / "whisper"
    model.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "model.safetensors"):
        (model / name).write_bytes((built / "llama" / name).read_bytes())
    (model / "config.json").write_text(
        json.dumps(
            {
                "model_type": "clip_vision_model",
                "architectures": ["SomeForSequenceClassification"],
                "id2label": {"0": "reward"},
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(InvalidModelError, match="no sequence-classification class for model type"):
        _score(model, [])


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_the_dry_run_accepts_every_architecture(arch: str, built: Path) -> None:
    config = json.loads((built / arch / "config.json").read_text(encoding="utf-8"))
    head = _head_check(config)
    assert head.ok, head.message


def test_the_dry_run_refuses_a_head_transformers_does_not_have() -> None:
    config = {"model_type": "clip_vision_model", "architectures": ["ClipVisionForSequenceClassification"]}
    head = _head_check(config)
    assert not head.ok
    assert (
        "transformers has no sequence-classification class for model type 'clip_vision_model'" in head.message
    )


def _head_check(config: dict[str, Any]) -> KindCheck:
    kind = get_kind("classifier")
    checks = kind.check_model(ModelMetadata("org/model", config, None, None, 1000), kind.parse_settings({}))
    return next(check for check in checks if check.name == "architecture")


# ---------------------------------------------------------------------------------------------- pad rule


class _Tokenizer:
    """The attributes of a tokenizer the pad rule reads and sets."""

    def __init__(self, pad: int | None, eos: int | None, side: str = "right") -> None:
        self.vocab = {UNK: 0, "<s>": 1, "</s>": 2, "<pad>": 3}
        self.pad_token_id, self.eos_token_id, self.padding_side = pad, eos, side

    @property
    def eos_token(self) -> str | None:
        return (
            None
            if self.eos_token_id is None
            else next(k for k, v in self.vocab.items() if v == self.eos_token_id)
        )

    @property
    def pad_token(self) -> str | None:
        return (
            None
            if self.pad_token_id is None
            else next(k for k, v in self.vocab.items() if v == self.pad_token_id)
        )

    @pad_token.setter
    def pad_token(self, token: str) -> None:
        self.pad_token_id = self.vocab[token]


class _Config:
    def __init__(self, pad: int | None) -> None:
        self.pad_token_id = pad


@pytest.mark.parametrize(
    ("tokenizer_pad", "config_pad", "expected", "words"),
    [
        (None, None, 2, "no pad token: EOS (2)"),  # most released reward models
        (None, 0, 2, "replacing the config's 0"),  # a Llama-1-era config: upstream overwrites it with EOS
        (2, None, 2, "the tokenizer's pad token (2); the config named none"),  # pad saved equal to EOS
        (3, None, 3, "the tokenizer's pad token (3)"),
        (3, 3, 3, "which the config names too"),
        (3, 0, 0, "differs from the tokenizer's pad token (3)"),
    ],
)
def test_upstream_pad_rule(
    tokenizer_pad: int | None, config_pad: int | None, expected: int, words: str
) -> None:
    tokenizer, config = _Tokenizer(tokenizer_pad, 2), _Config(config_pad)
    choice = apply_upstream_pad_rule(tokenizer, config)
    assert choice.pad_id == expected == config.pad_token_id
    assert words in choice.rule
    assert tokenizer.pad_token_id == (2 if tokenizer_pad is None else tokenizer_pad)


def test_a_tokenizer_with_neither_pad_nor_eos_is_refused() -> None:
    with pytest.raises(TokenizerLoadError, match="neither a pad nor an EOS token"):
        apply_upstream_pad_rule(_Tokenizer(None, None), _Config(None))


@pytest.mark.parametrize("attention", ["varlen", "sdpa"])
def test_a_config_pad_id_with_no_tokenizer_pad_reads_where_upstream_does(
    attention: str, tmp_path: Path, shared_tokenizer: PreTrainedTokenizerFast, pairs: list[Any]
) -> None:
    """A Llama-1-era checkpoint: ``pad_token_id: 0`` in the config, no pad token in the tokenizer, Tulu with
    EOS appended. Upstream makes EOS the pad of both, so the trailing EOS is skipped: the score is the one
    of the same model with no pad id at all, not the one read at the EOS."""
    tokenizer = copy.deepcopy(shared_tokenizer)
    tokenizer.chat_template = None
    with_zero = build_tiny_classifier(
        tmp_path / "zero", chat_template=None, tokenizer=tokenizer, pad_token_id=0
    )
    without = build_tiny_classifier(tmp_path / "none", chat_template=None, tokenizer=tokenizer)
    for path in (with_zero, without):  # a class upstream appends EOS for
        _edit(path / "tokenizer_config.json", {"tokenizer_class": "LlamaTokenizerFast"})
    zero_scores, record = _score(with_zero, pairs, attention=attention)
    none_scores, _ = _score(without, pairs, attention=attention)
    assert record["eos_appended"] is True
    assert record["pad_token_id"] == tokenizer.eos_token_id
    assert "replacing the config's 0" in record["pad_rule"]
    assert zero_scores == none_scores
    read_at_eos = _scores_at_eos(with_zero, pairs)
    gaps = [
        abs(float(a or 0) - float(b or 0))
        for x, y in zip(zero_scores, read_at_eos, strict=True)
        for a, b in zip(x, y, strict=True)
    ]
    assert max(gaps) > 1e-3


def _scores_at_eos(path: Path, pairs: list[Any]) -> list[CandidateScores]:
    """What the old engine gave: the config's 0 kept as the pad id, so the head reads at the trailing EOS."""
    spec = EvaluationSpec(model=str(path), device="cpu", dtype="float32", attention="sdpa")
    adapter = ClassifierAdapter.from_spec(spec, V1)
    try:
        adapter.model.config.pad_token_id = 0
        adapter.pad_id = 0
        return adapter.score_examples(pairs)
    finally:
        adapter.close()


def test_left_padding_saved_is_recorded_and_scores_as_right_padding(
    tmp_path: Path, shared_tokenizer: PreTrainedTokenizerFast, pairs: list[Any]
) -> None:
    tokenizer = tokenizer_for("qwen2", shared_tokenizer)
    right = build_tiny_classifier(tmp_path / "right", arch="qwen2", tokenizer=tokenizer)
    left = build_tiny_classifier(tmp_path / "left", arch="qwen2", tokenizer=tokenizer)
    _edit(left / "tokenizer_config.json", {"padding_side": "left"})
    left_scores, record = _score(left, pairs, attention="sdpa")
    right_scores, _ = _score(right, pairs, attention="sdpa")
    assert record["padding_side_saved"] == "left" and record["padding"] == "right"
    assert left_scores == right_scores


def _edit(file: Path, changes: dict[str, Any]) -> None:
    document = json.loads(file.read_text(encoding="utf-8"))
    document.update(changes)
    file.write_text(json.dumps(document), encoding="utf-8")


@pytest.mark.parametrize("arch", ["llama", "gemma2", "deberta-v2"])
def test_the_record_states_the_parameters_the_files_hold(arch: str, built: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(built / arch)
    stored = {p.data_ptr(): p.numel() for p in model.parameters()}  # tied weights counted once
    sizes = model_sizes(built / arch)
    assert sizes == {"total": sum(stored.values()), "active": None}
    _, record = _score(built / arch, [])
    assert record["parameters"] == sizes
