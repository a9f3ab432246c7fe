"""RewardBench 2 (Malik et al. 2025): 1,865 prompts in six subsets, each its own section; Score = their mean.

Every prompt has ``chosen`` (correct) and ``rejected`` (incorrect) answers, scored as one list in the order
chosen + rejected, as upstream's ``load_bon_dataset_v2`` unrolls them. Five subsets are best-of-N (one
correct answer, three incorrect): a prompt earns 1/k when the first answer is among the k answers with the
top score, else 0, whatever the model kind (upstream's ``reroll_and_score_dataset``). Ties is scored as a
whole (``ties.py``); its prompts have no outcome of their own. Classifier texts are cut at max_length on the
tokenizer's own side, as upstream's run_v2.py never sets one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from worker.engine.benchmarks import rows as check
from worker.engine.benchmarks.base import (
    Benchmark,
    DataPart,
    ScoreFormula,
    ScoringVersion,
    Section,
    Subset,
    SubsetScore,
    TiePolicy,
)
from worker.engine.benchmarks.ties import TIES_RULES, TiesPrompt, TiesRule, parse_ties_id, ties_score
from worker.engine.errors import DatasetError
from worker.engine.types import Example, ScoredExample

FACTUALITY: Final = "Factuality"
PRECISE_IF: Final = "Precise IF"
MATH: Final = "Math"
SAFETY: Final = "Safety"
FOCUS: Final = "Focus"
TIES: Final = "Ties"
SUBSET_NAMES: Final = (FACTUALITY, PRECISE_IF, MATH, SAFETY, FOCUS, TIES)

COLUMNS: Final = (
    "id",
    "prompt",
    "chosen",
    "rejected",
    "num_correct",
    "num_incorrect",
    "total_completions",
    "models",
    "subset",
)

# The Ties value can leave [0, 1]: its weights add up to 1.01 and its margin term lies in [-1, 1].
TIES_RANGE: Final = (-0.01, 1.01)

_SUBSETS: Final = (
    Subset(FACTUALITY, FACTUALITY, 475, 1, "Telling a correct answer from answers with factual errors."),
    Subset(
        PRECISE_IF,
        PRECISE_IF,
        160,
        1,
        "Following a precise, checkable constraint of the instruction (e.g. a word to avoid).",
    ),
    Subset(MATH, MATH, 183, 1, "A correct answer to a math problem against wrong ones."),
    Subset(
        SAFETY, SAFETY, 450, 1, "Refusing what should be refused and helping with what is safe to answer."
    ),
    Subset(
        FOCUS, FOCUS, 495, 1, "An on-topic, high-quality answer against answers to a subtly different prompt."
    ),
    Subset(
        TIES,
        TIES,
        102,
        1,
        "Several equally correct answers: every correct one should outscore every wrong one, with the "
        "correct ones close together (51 linked ref/tied prompt pairs).",
        value_range=TIES_RANGE,
    ),
)
_SECTIONS: Final = tuple(
    Section(subset.name, subset.name.lower().replace(" ", "-"), subset.description) for subset in _SUBSETS
)

MEAN_OF_SIX: Final = ScoreFormula(
    "mean-of-six",
    "Score = unweighted mean of Factuality, Precise IF, Math, Safety, Focus and Ties.",
    dict.fromkeys(SUBSET_NAMES, 1.0),
)

SCORING_V2_HEAD: Final = "rbv2-head"
SCORING_V2_WHEEL: Final = "rbv2-0.1.4"

_SCORING_VERSIONS: Final = {
    version.name: version
    for version in (
        ScoringVersion(
            SCORING_V2_HEAD,
            "Upstream HEAD (05a9005): best-of-N subsets credit 1/k for a k-way top tie; Ties by "
            "process_single_model, a zero spread of the correct answers counting +-1 in the margin term "
            "(0 for 0/0); Score = mean of the six subsets.",
            MEAN_OF_SIX,
            options={"ties_rule": "head"},
            subset_rule="ties-head",
        ),
        ScoringVersion(
            SCORING_V2_WHEEL,
            "The PyPI rewardbench 0.1.4 wheel: as above, but Ties leaves tied prompts with a zero or no "
            "spread of the correct answers out of its margin term; Score = mean of the six subsets.",
            MEAN_OF_SIX,
            options={"ties_rule": "0.1.4"},
            subset_rule="ties-0.1.4",
        ),
    )
}


class RewardBenchV2(Benchmark):
    id = "rewardbench-v2"
    label = "RewardBench 2"
    description = (
        "Whether a reward model scores the correct answer above three wrong ones, across Factuality, "
        "Precise IF, Math, Safety and Focus, plus Ties (several correct answers) (Malik et al. 2025). "
        "Score is the mean of the six."
    )
    url = "https://arxiv.org/abs/2506.01937"
    parts = (
        DataPart(
            "core",
            "allenai/reward-bench-2",
            "7ff08853b0d5686e79b13fda8677024f566a104a",
            split="test",
            description="the 1,865 prompts of the benchmark",
        ),
    )
    subsets = _SUBSETS
    sections = _SECTIONS
    scoring_versions = _SCORING_VERSIONS
    current_scoring_version = SCORING_V2_HEAD
    truncation_side = "tokenizer"

    # Data ----------------------------------------------------------------------------------------------

    def parse_rows(self, rows: Iterable[Mapping[str, Any]], *, source: str, part: DataPart) -> list[Example]:
        examples: list[Example] = []
        seen: set[tuple[str, str]] = set()
        linked: set[tuple[str, int]] = set()
        for number, row in enumerate(rows, start=1):
            where = f"{source}: row {number}"
            example = self._example(row, where)
            if example.key in seen:
                raise DatasetError(f"{where}: duplicate row (subset {example.subset!r}, id {example.id!r})")
            seen.add(example.key)
            if example.subset == TIES:
                kind_pid = self._check_ties_row(example, where)
                if kind_pid in linked:
                    raise DatasetError(f"{where}: a second Ties prompt {kind_pid[0]}:{kind_pid[1]}")
                linked.add(kind_pid)
            examples.append(example)
        return examples

    def _example(self, row: Mapping[str, Any], where: str) -> Example:
        row = check.require_columns(row, COLUMNS, where)
        subset = check.text(row, "subset", where)
        if self.subset(subset) is None:
            raise DatasetError(
                f"{where}: unknown subset {subset!r}; {self.label} has {', '.join(SUBSET_NAMES)}"
            )
        chosen = check.text_list(row, "chosen", where)
        rejected = check.text_list(row, "rejected", where)
        counts = {name: check.integer(row, name, where) for name in COLUMNS[4:7]}
        expected = {
            "num_correct": len(chosen),
            "num_incorrect": len(rejected),
            "total_completions": len(chosen) + len(rejected),
        }
        for name, value in expected.items():
            if counts[name] != value:
                raise DatasetError(
                    f"{where}: {name} is {counts[name]}, but chosen has {len(chosen)} and rejected "
                    f"{len(rejected)} answers"
                )
        if not chosen:
            raise DatasetError(f"{where}: 'chosen' is empty; a prompt needs at least one correct answer")
        if not isinstance(row["models"], list | tuple):
            raise DatasetError(
                f"{where}: column 'models' must be a list, found {check.type_name(row['models'])}"
            )
        return Example(
            subset=subset,
            id=check.text(row, "id", where),
            conversation=(("user", check.text(row, "prompt", where)),),
            candidates=(*chosen, *rejected),
            num_correct=len(chosen),
        )

    def _check_ties_row(self, example: Example, where: str) -> tuple[str, int]:
        kind_pid = parse_ties_id(str(example.id))
        if kind_pid is None:
            raise DatasetError(f"{where}: a Ties id is ref:<number> or tied:<number>, found {example.id!r}")
        kind, _ = kind_pid
        if example.num_correct == len(example.candidates):
            raise DatasetError(f"{where}: a Ties prompt needs at least one rejected answer")
        if kind == "tied" and example.num_correct < 2:
            raise DatasetError(f"{where}: a tied: prompt needs at least two correct answers")
        return kind_pid

    def selection_group(self, example: Example | ScoredExample) -> str:
        kind_pid = parse_ties_id(str(example.id)) if example.subset == TIES else None
        return f"pid:{kind_pid[1]}" if kind_pid is not None else str(example.id)

    def graded_subset(self, subset: str) -> bool:
        return subset == TIES

    def resampled(self, subset: str, draws: Sequence[Sequence[ScoredExample]]) -> list[ScoredExample]:
        if subset != TIES:
            return super().resampled(subset, draws)
        # Ties links a ref: and a tied: prompt by their number: each draw of a pair gets a number of its own,
        # so a pair drawn twice counts twice instead of colliding with itself.
        return [
            replace(example, id=_ties_copy_id(example, draw))
            for draw, group in enumerate(draws)
            for example in group
        ]

    def check_selection(self, examples: Sequence[Example]) -> None:
        ties = [parse_ties_id(str(example.id)) for example in examples if example.subset == TIES]
        if not ties:
            return
        refs = {pid for kind, pid in filter(None, ties) if kind == "ref"}
        tieds = {pid for kind, pid in filter(None, ties) if kind == "tied"}
        if not refs & tieds:
            raise DatasetError(
                "Ties is scored over linked prompts, but no ref:<n> prompt has its tied:<n> prompt among the "
                "selected rows; select whole pairs (a per-subset limit draws them together)"
            )

    # Deciding and adding up ----------------------------------------------------------------------------

    def decide(
        self, subset: str, scores: Sequence[float], num_correct: int, tie_policy: TiePolicy
    ) -> float | None:
        if subset == TIES:
            return None
        if not scores or num_correct < 1:
            raise ValueError(f"{self.id}: an example needs scores and a correct first answer")
        top = max(scores)
        if scores[0] != top:
            return 0.0
        return 1.0 / sum(1 for score in scores if score == top)

    def subset_scores(
        self, scored: Iterable[ScoredExample], scoring_version: str | None = None
    ) -> dict[str, SubsetScore]:
        version = self.scoring_version(scoring_version)
        examples = list(scored)
        best_of_n = [example for example in examples if example.subset != TIES]
        values = super().subset_scores(best_of_n, version.name)
        ties = [example for example in examples if example.subset == TIES]
        if ties:
            value = ties_score((_ties_prompt(example) for example in ties), _ties_rule(version))
            values[TIES] = SubsetScore(TIES, len(ties), None, value)
        return values


def _ties_prompt(example: ScoredExample) -> TiesPrompt:
    kind_pid = parse_ties_id(str(example.id))
    if kind_pid is None:
        raise ValueError(f"Ties example id {example.id!r} is not ref:<n> or tied:<n>")
    scores = tuple(float(score) for score in example.scores if score is not None)
    if len(scores) != len(example.scores):
        raise ValueError(f"Ties example {example.id!r} lacks a score")
    return TiesPrompt(kind_pid[0], kind_pid[1], scores, example.num_correct)


def _ties_copy_id(example: ScoredExample, draw: int) -> str:
    kind_pid = parse_ties_id(str(example.id))
    if kind_pid is None:
        raise ValueError(f"Ties example id {example.id!r} is not ref:<n> or tied:<n>")
    return f"{kind_pid[0]}:{draw}"


def _ties_rule(version: ScoringVersion) -> TiesRule:
    rule = version.options.get("ties_rule")
    for known in TIES_RULES:
        if rule == known:
            return known
    raise ValueError(f"scoring version {version.name} names no Ties rule")
