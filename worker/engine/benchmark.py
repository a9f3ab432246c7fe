"""RewardBench v1: subsets, their sizes, scoring weights and sections."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

BENCHMARK_V1: Final = "rewardbench-v1"
DATASET_ID: Final = "allenai/reward-bench"
DATASET_SPLIT: Final = "filtered"
DATASET_REVISION: Final = "168d848cdbbea9764fae4a544dc9ca1e6cca4931"
TOTAL_ROWS: Final = 2985


@dataclass(frozen=True, slots=True)
class Subset:
    name: str
    section: str
    rows: int
    weight: int
    description: str


SECTION_CHAT: Final = "Chat"
SECTION_CHAT_HARD: Final = "Chat Hard"
SECTION_SAFETY: Final = "Safety"
SECTION_REASONING: Final = "Reasoning"
SECTIONS: Final[tuple[str, ...]] = (SECTION_CHAT, SECTION_CHAT_HARD, SECTION_SAFETY, SECTION_REASONING)

SECTION_DESCRIPTIONS: Final = MappingProxyType(
    {
        SECTION_CHAT: "Telling a good chat answer from a clearly worse one (AlpacaEval, MT-Bench).",
        SECTION_CHAT_HARD: "Subtle instruction-following differences and adversarial look-alikes "
        "(MT-Bench, LLMBar).",
        SECTION_SAFETY: "Refusing what should be refused and answering what should be answered "
        "(refusals, XSTest, Do-Not-Answer).",
        SECTION_REASONING: "Correct over subtly wrong math (PRM800K) and code in six languages "
        "(HumanEvalPack).",
    }
)

_SUBSETS: Final[tuple[Subset, ...]] = (
    Subset(
        "alpacaeval-easy", SECTION_CHAT, 100, 100, "AlpacaEval: GPT-4 Turbo answer against a weak model's."
    ),
    Subset(
        "alpacaeval-length",
        SECTION_CHAT,
        95,
        95,
        "AlpacaEval: good answer against a worse one of similar length.",
    ),
    Subset(
        "alpacaeval-hard", SECTION_CHAT, 95, 95, "AlpacaEval: strong model's answer against a weaker one."
    ),
    Subset("mt-bench-easy", SECTION_CHAT, 28, 28, "MT-Bench: answers rated 10 against answers rated 1."),
    Subset("mt-bench-med", SECTION_CHAT, 40, 40, "MT-Bench: answers rated 9 against answers rated 2-5."),
    Subset(
        "mt-bench-hard", SECTION_CHAT_HARD, 37, 37, "MT-Bench: answers rated 7-8 against answers rated 5-6."
    ),
    Subset("llmbar-natural", SECTION_CHAT_HARD, 100, 100, "LLMBar: natural instruction-following pairs."),
    Subset(
        "llmbar-adver-neighbor",
        SECTION_CHAT_HARD,
        134,
        134,
        "LLMBar adversarial: the rejected answer follows a neighbouring instruction.",
    ),
    Subset(
        "llmbar-adver-GPTInst",
        SECTION_CHAT_HARD,
        92,
        92,
        "LLMBar adversarial: the rejected answer follows a GPT-4-written similar instruction.",
    ),
    Subset(
        "llmbar-adver-GPTOut",
        SECTION_CHAT_HARD,
        47,
        47,
        "LLMBar adversarial: the rejected answer is a GPT-4 answer off the instruction.",
    ),
    Subset(
        "llmbar-adver-manual", SECTION_CHAT_HARD, 46, 46, "LLMBar adversarial: hand-made deceptive pairs."
    ),
    Subset("refusals-dangerous", SECTION_SAFETY, 100, 100, "Dangerous requests: a refusal is preferred."),
    Subset("refusals-offensive", SECTION_SAFETY, 100, 100, "Offensive requests: a refusal is preferred."),
    Subset(
        "xstest-should-refuse", SECTION_SAFETY, 154, 154, "XSTest: unsafe prompts that should be refused."
    ),
    Subset(
        "xstest-should-respond",
        SECTION_SAFETY,
        250,
        250,
        "XSTest: safe prompts that merely look unsafe, which should be answered.",
    ),
    Subset(
        "donotanswer", SECTION_SAFETY, 136, 136, "Do-Not-Answer: harmful questions, a refusal is preferred."
    ),
    Subset(
        "math-prm",
        SECTION_REASONING,
        447,
        984,
        "PRM800K: a correct solution against a subtly wrong one (weighted to equal all code subsets).",
    ),
    Subset("hep-cpp", SECTION_REASONING, 164, 164, "HumanEvalPack C++: working code against buggy code."),
    Subset("hep-go", SECTION_REASONING, 164, 164, "HumanEvalPack Go: working code against buggy code."),
    Subset("hep-java", SECTION_REASONING, 164, 164, "HumanEvalPack Java: working code against buggy code."),
    Subset(
        "hep-js", SECTION_REASONING, 164, 164, "HumanEvalPack JavaScript: working code against buggy code."
    ),
    Subset(
        "hep-python", SECTION_REASONING, 164, 164, "HumanEvalPack Python: working code against buggy code."
    ),
    Subset("hep-rust", SECTION_REASONING, 164, 164, "HumanEvalPack Rust: working code against buggy code."),
)

SUBSETS: Final = MappingProxyType({subset.name: subset for subset in _SUBSETS})
SUBSET_NAMES: Final[tuple[str, ...]] = tuple(subset.name for subset in _SUBSETS)


def subsets_of(section: str) -> tuple[Subset, ...]:
    """The subsets of one section, in benchmark order."""
    return tuple(subset for subset in _SUBSETS if subset.section == section)
