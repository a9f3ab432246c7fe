"""Parameter counts: the stored one, else what the model's name states (the issue's cases among them)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.services.presentation.parameters import (
    active_parameters,
    describe,
    format_count,
    parameter_count,
    record_sizes,
    size_from_name,
)

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


# The parts of the published config.json files that size the experts.
QWEN_MOE_A2_7B = {
    "model_type": "qwen2_moe",
    "hidden_size": 2048,
    "num_hidden_layers": 24,
    "intermediate_size": 5632,
    "moe_intermediate_size": 1408,
    "shared_expert_intermediate_size": 5632,
    "num_experts": 60,
    "num_experts_per_tok": 4,
    "decoder_sparse_step": 1,
    "mlp_only_layers": [],
}
MIXTRAL_8X7B = {
    "model_type": "mixtral",
    "hidden_size": 4096,
    "num_hidden_layers": 32,
    "intermediate_size": 14336,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
}


def test_active_parameters_from_the_config() -> None:
    qwen = active_parameters(QWEN_MOE_A2_7B, 14_315_784_192)
    assert qwen is not None and format_count(qwen) == "2.7B"
    mixtral = active_parameters(MIXTRAL_8X7B, 46_702_792_704)
    assert mixtral is not None and format_count(mixtral) == "12.9B"
    dense = {"hidden_size": 4096, "num_hidden_layers": 32, "intermediate_size": 14336}
    assert active_parameters(dense, 7_000_000_000) is None
    assert active_parameters({**MIXTRAL_8X7B, "num_experts_per_tok": 8}, 46_702_792_704) is None
    assert active_parameters(MIXTRAL_8X7B, 1_000) is None  # a total the config cannot hold: unknown
    every_other = active_parameters({**QWEN_MOE_A2_7B, "decoder_sparse_step": 2}, 14_315_784_192)
    assert every_other is not None and qwen < every_other < 14_315_784_192


def test_a_submission_stores_the_total_and_a_mixtures_active_count() -> None:
    model = SimpleNamespace(parameter_count=None, active_parameter_count=None)
    record_sizes(model, 14_315_784_192, QWEN_MOE_A2_7B)
    assert model.parameter_count == 14_315_784_192 and format_count(model.active_parameter_count) == "2.7B"
    shown = parameter_count("Qwen/Qwen1.5-MoE-A2.7B", model.parameter_count, model.active_parameter_count)
    assert describe(shown) == "14.3B (2.7B active)" and shown.source == "hub"
    kept = SimpleNamespace(parameter_count=7, active_parameter_count=None)
    record_sizes(kept, 14_315_784_192, QWEN_MOE_A2_7B)  # a count already stored is kept
    assert (kept.parameter_count, kept.active_parameter_count) == (7, None)
    dense = SimpleNamespace(parameter_count=None, active_parameter_count=None)
    record_sizes(dense, 8_000_000_000, {"hidden_size": 4096})
    assert (dense.parameter_count, dense.active_parameter_count) == (8_000_000_000, None)


def test_a_worker_fills_in_the_sizes_of_a_model_that_has_none() -> None:
    from types import SimpleNamespace

    from app.services.presentation.parameters import record_worker_sizes

    unknown = SimpleNamespace(parameter_count=None, active_parameter_count=None)
    record_worker_sizes(unknown, {"total": 14_315_784_192, "active": 2_690_000_000})
    assert (unknown.parameter_count, unknown.active_parameter_count) == (14_315_784_192, 2_690_000_000)
    known = SimpleNamespace(parameter_count=7_000_000_000, active_parameter_count=None)
    record_worker_sizes(known, {"total": 8_000_000_000, "active": None})
    record_worker_sizes(known, None)
    assert known.parameter_count == 7_000_000_000
