"""Parameter counts: the stored one, else what the model's name states (the issue's cases among them)."""

from __future__ import annotations

import pytest

from app.services.parameters import describe, format_count, parameter_count, size_from_name

B = 1_000_000_000


@pytest.mark.parametrize(
    ("name", "total"),
    [
        ("internlm/internlm2-1_8b-reward", 1.8 * B),
        ("internlm/internlm2-7b-reward", 7 * B),
        ("ContextualAI/archangel_sft-dpo_pythia1-4b", 1.4 * B),
        ("ContextualAI/archangel_sft-kto_pythia2-8b", 2.8 * B),
        ("ContextualAI/archangel_sft-kto_pythia6-9b", 6.9 * B),
        ("ContextualAI/archangel_sft-dpo_pythia12-0b", 12 * B),
        ("ContextualAI/archangel_sft-dpo_llama13b", 13 * B),
        ("OpenAssistant/oasst-rm-2.1-pythia-1.4b-epoch-2.5", 1.4 * B),
        ("CIR-AMS/BTRM_Qwen2_7b_0613", 7 * B),  # "Qwen2_7b" is Qwen2 at 7B, not 2.7B
        ("allenai/Llama-3.1-70B-Instruct-RM-RB2", 70 * B),
        ("Qwen/Qwen2.5-0.5B-RM", 0.5 * B),
        ("org/rm-350M", 350_000_000),
        ("ai2/tulu-2-7b-rm-v0-nectar-binarized-3.8m-check", 7 * B),  # 3.8m examples, not parameters
    ],
)
def test_sizes_read_from_names(name: str, total: float) -> None:
    size = size_from_name(name)
    assert size is not None and size.total == round(total) and size.active is None


def test_a_mixture_named_by_its_active_parameters_has_no_total_in_its_name() -> None:
    size = size_from_name("Qwen/Qwen1.5-MoE-A2.7B-Chat")
    assert size is not None and size.total is None and size.active == round(2.7 * B)
    count = parameter_count("Qwen/Qwen1.5-MoE-A2.7B-Chat", None)
    assert count.source == "name" and describe(count) == "2.7B active"
    both = size_from_name("Qwen/Qwen3-30B-A3B")
    assert both is not None and (both.total, both.active) == (30 * B, 3 * B)


def test_a_mixture_named_by_its_experts() -> None:
    mixtral = parameter_count("NousResearch/Nous-Hermes-2-Mixtral-8x7B-DPO", None)
    assert (mixtral.total, mixtral.active, mixtral.experts) == (46_700_000_000, 12_900_000_000, "8x7B")
    assert describe(mixtral) == "46.7B (8x7B, 12.9B active)"
    unknown = parameter_count("org/Tiny-4x2B", None)
    assert unknown.total is None and describe(unknown) == "4x2B MoE"


@pytest.mark.parametrize(
    "name",
    [
        "allenai/open_instruct_dev-rm_1e-6_1_dpo__1__1743550054",
        "Cohere May 2024",
        "OpenAssistant/reward-model-deberta-v3-large-v2",
        "org/merge-7b-13b",  # two sizes: none
    ],
)
def test_names_without_one_size(name: str) -> None:
    assert size_from_name(name) is None
    assert describe(parameter_count(name, None)) == "—"


def test_a_stored_count_wins_over_the_name() -> None:
    count = parameter_count("org/model-7b", 6_738_415_616)
    assert (count.total, count.source) == (6_738_415_616, "hub")
    assert describe(count) == "6.7B"


def test_format_count() -> None:
    assert [format_count(v) for v in (None, 12 * B, 1_400_000_000, 10 * B, 350_000_000, 999)] == [
        "—",
        "12B",
        "1.4B",
        "10B",
        "350M",
        "999",
    ]
