"""The DPO comparison cases shared by bench/compare_dpo_reference.py (against upstream) and the golden test.

Each case is a tiny policy and, unless reference-free, a different reference, both built from one tokenizer
with fixed seeds, so a rebuild gives the same files. The data is the committed v1 sample plus three
synthetic rows long enough to take upstream's truncation paths (prompt cut to its last 128 tokens, responses
cut to their first 1920).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tests.support.tiny_models import BOS_TEMPLATE, PLAIN_TEMPLATE, build_tiny_causal_lm, build_tokenizer

SAMPLE: Final = Path(__file__).resolve().parents[1] / "data" / "rewardbench_sample.jsonl"
GOLDEN: Final = Path(__file__).resolve().parents[1] / "data" / "dpo_reference_golden.json"


@dataclass(frozen=True)
class DpoCase:
    name: str
    template: str | None
    policy_seed: int
    reference_seed: int | None  # None: reference-free
    normalization: str = "avg"  # reference-free only
    note: str = ""

    @property
    def model_type(self) -> str:
        return "dpo" if self.reference_seed is not None else "dpo-ref-free"

    def kind_settings(self, reference: Path | None) -> dict[str, Any]:
        if self.reference_seed is None:
            return {"normalization": self.normalization}
        assert reference is not None
        return {"reference_model": str(reference)}


CASES: Final = {
    case.name: case
    for case in (
        DpoCase("template", PLAIN_TEMPLATE, 11, 12, note="tokenizer template"),
        DpoCase("tulu", None, 13, 14, note="no template: FastChat Tulu, no EOS in the text"),
        DpoCase("bos-template", BOS_TEMPLATE, 15, 16, note="the template emits BOS: BOS twice"),
        DpoCase("ref-free-avg", PLAIN_TEMPLATE, 11, None, "avg", "reference-free, upstream's default"),
        DpoCase("ref-free-norm", None, 13, None, "norm", "reference-free, norm"),
    )
}


@dataclass(frozen=True)
class BuiltCase:
    case: DpoCase
    policy: Path
    reference: Path | None


def build_case(case: DpoCase, root: Path) -> BuiltCase:
    tokenizer = build_tokenizer(chat_template=case.template)
    policy = build_tiny_causal_lm(
        root / case.name / "policy",
        seed=case.policy_seed,
        tokenizer=copy.deepcopy(tokenizer),
        chat_template=None,
    )
    reference = None
    if case.reference_seed is not None:
        reference = build_tiny_causal_lm(
            root / case.name / "reference",
            seed=case.reference_seed,
            tokenizer=copy.deepcopy(tokenizer),
            chat_template=None,
        )
    return BuiltCase(case, policy, reference)


def files_digest(path: Path) -> str:
    """sha256 over the files that decide the scores: weights, config (less the transformers version that
    wrote it), tokenizer."""
    digest = hashlib.sha256()
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    config.pop("transformers_version", None)
    digest.update((path / "model.safetensors").read_bytes())
    digest.update(json.dumps(config, sort_keys=True).encode())
    digest.update((path / "tokenizer.json").read_bytes())
    return digest.hexdigest()


def long_rows() -> Iterator[dict[str, Any]]:
    """Three v1 rows past 2048 tokens: a long prompt, long responses, both."""
    question = "How do I detail a car? "
    answer = "Start by washing it, then clay the paint and apply wax. "
    short = "The answer is 42."
    shapes = (
        ("alpacaeval-easy", 990001, question * 400, short, "I cannot help with that."),
        ("mt-bench-med", 990002, "What is the capital of France?", answer * 300, answer * 250 + short),
        ("hep-python", 990003, question * 120, answer * 200, "def add(a, b):\n    return a + b\n" * 150),
    )
    for subset, row_id, prompt, chosen, rejected in shapes:
        yield {
            "prompt": prompt,
            "chosen": chosen,
            "chosen_model": "synthetic",
            "rejected": rejected,
            "rejected_model": "synthetic",
            "subset": subset,
            "id": row_id,
        }


def write_dataset(path: Path) -> Path:
    """The v1 sample and the long rows, as one JSONL file."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    lines.extend(json.dumps(row) for row in long_rows())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ids_digest(ids: list[int]) -> str:
    return hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:16]
