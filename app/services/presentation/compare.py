"""Models side by side on one benchmark: sections and subsets with intervals, then where they disagree.

Each model stands for its current result on the benchmark (a complete one before a partial one, evaluated
before imported, then the better Score when it was evaluated as several kinds). Two models disagree on an
example when their credit differs: the benchmark's outcome, or, for examples scored only with their subset
(RewardBench 2 Ties), whether the top-scored answer is a correct one. Only examples every compared model
with stored examples has are compared; the texts come from the stored benchmark examples.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from sqlalchemy import RowMapping
from sqlalchemy.orm import Session

from app.db.repositories import compare as repo
from app.errors import DomainError, NotFoundError
from app.schemas.compare import (
    MAX_MODELS,
    MIN_MODELS,
    ComparedModel,
    ComparedSubset,
    CompareQuery,
    CompareRead,
    Disagreement,
    DisagreementPage,
)
from app.services.results.intervals import bounds, interval_note
from worker.engine.benchmarks import get_benchmark
from worker.engine.benchmarks.base import Benchmark
from worker.engine.kinds import KINDS

ExampleKey = tuple[str, str]


class CompareError(DomainError):
    """The query names too few or too many models (422)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 422)


def credit(scores: Sequence[float | None], num_correct: int, outcome: float | None) -> float:
    """The example's credit: its outcome, else 1 when the top-scored candidate is a correct one."""
    if outcome is not None:
        return outcome
    values = [score for score in scores if score is not None]
    if len(values) != len(scores) or not values:
        return 0.0
    return 1.0 if values.index(max(values)) < num_correct else 0.0


def candidate_labels(definition: Benchmark, count: int, num_correct: int) -> list[str]:
    if len(definition.candidate_labels) == count:
        return [label.capitalize() for label in definition.candidate_labels]
    return [
        f"Correct {index + 1}" if index < num_correct else f"Incorrect {index + 1 - num_correct}"
        for index in range(count)
    ]


def compare(session: Session, query: CompareQuery) -> CompareRead:
    if not MIN_MODELS <= len(query.models) <= MAX_MODELS:
        raise CompareError(
            f"Name {MIN_MODELS} to {MAX_MODELS} different models to compare (models=org/a,org/b); "
            f"{len(query.models)} given."
        )
    definition = get_benchmark(query.benchmark)
    if query.subset is not None and definition.subset(query.subset) is None:
        raise NotFoundError(f"{definition.label} has no subset {query.subset!r}")
    results = _pick_results(session, definition, query.models)
    ids = [row["result_id"] for row in results]
    sections = _sections(session, ids)
    subset_values = _subset_values(session, ids)
    examples = repo.example_rows(session, ids)
    with_examples = {row["result_id"] for row in examples}
    models = [_model(row, definition, sections, row["result_id"] in with_examples) for row in results]
    disagreements, compared, by_subset = _disagreements(examples, [r for r in ids if r in with_examples])
    model_of = {row["result_id"]: row["model"] for row in results}
    notes = _notes(models)
    chosen = [key for key in disagreements if query.subset is None or key[0] == query.subset]
    start = (query.page - 1) * query.per_page
    page_keys = chosen[start : start + query.per_page]
    items = _items(session, definition, page_keys, disagreements, model_of)
    subsets = [
        ComparedSubset(
            subset=subset.name,
            section=subset.section,
            values={row["model"]: subset_values.get((row["result_id"], subset.name)) for row in results},
            disagreements=by_subset.get(subset.name, 0),
        )
        for subset in definition.subsets
        if any((row["result_id"], subset.name) in subset_values for row in results)
        or by_subset.get(subset.name)
    ]
    return CompareRead(
        benchmark=definition.id,
        models=models,
        sections=[s.name for s in definition.sections if any(s.name in m.sections for m in models)],
        subsets=subsets,
        subset=query.subset,
        disagreements=DisagreementPage(
            total=len(chosen),
            all_subsets=len(disagreements),
            compared_examples=compared,
            page=query.page,
            per_page=query.per_page,
            items=items,
        ),
        notes=notes,
    )


def _pick_results(session: Session, definition: Benchmark, hub_ids: Sequence[str]) -> list[RowMapping]:
    rows = repo.current_results(session, definition.id, hub_ids)
    first: dict[str, RowMapping] = {}
    for row in rows:
        first.setdefault(row["model"], row)
    missing = [name for name in hub_ids if name not in first]
    if missing:
        raise NotFoundError(f"No result on {definition.label} for {', '.join(missing)}.")
    return [first[name] for name in hub_ids]


def _sections(session: Session, ids: Sequence[int]) -> dict[int, dict[str, tuple[float, list[float] | None]]]:
    values: dict[int, dict[str, tuple[float, list[float] | None]]] = defaultdict(dict)
    for row in repo.section_rows(session, ids):
        values[row.result_id][row.section] = (row.value, bounds(row.low, row.high))
    return values


def _subset_values(session: Session, ids: Sequence[int]) -> dict[tuple[int, str], float]:
    return {(row.result_id, row.subset): row.value for row in repo.subset_rows(session, ids)}


def _model(
    row: RowMapping,
    definition: Benchmark,
    sections: Mapping[int, Mapping[str, tuple[float, list[float] | None]]],
    has_examples: bool,
) -> ComparedModel:
    own = sections.get(row["result_id"], {})
    kind = KINDS.get(row["model_type"])
    order = [section.name for section in definition.sections if section.name in own]
    return ComparedModel(
        model=row["model"],
        display_name=row["display_name"],
        model_type=row["model_type"],
        model_type_label=kind.label if kind else row["model_type"],
        result_id=row["result_id"],
        complete=row["complete"],
        source=row["source"].value,
        score=row["score"],
        score_interval=bounds(row["score_low"], row["score_high"]),
        interval_note=interval_note(row["interval_status"], row["source"]),
        sections={name: own[name][0] for name in order},
        section_intervals={name: own[name][1] for name in order},
        has_examples=has_examples,
    )


def _disagreements(
    examples: Sequence[RowMapping], ids: Sequence[int]
) -> tuple[dict[ExampleKey, dict[int, RowMapping]], int, dict[str, int]]:
    """Examples (stored order) on which results with examples differ in credit; how many were compared."""
    if len(ids) < MIN_MODELS:
        return {}, 0, {}
    by_key: dict[ExampleKey, dict[int, RowMapping]] = {}
    for row in examples:
        by_key.setdefault((row["subset"], row["example_id"]), {})[row["result_id"]] = row
    shared = {key: rows for key, rows in by_key.items() if len(rows) == len(ids)}
    found: dict[ExampleKey, dict[int, RowMapping]] = {}
    counts: dict[str, int] = defaultdict(int)
    for key, rows in shared.items():
        credits = {credit(row["scores"], row["num_correct"], row["outcome"]) for row in rows.values()}
        if len(credits) > 1:
            found[key] = rows
            counts[key[0]] += 1
    return found, len(shared), dict(counts)


def _items(
    session: Session,
    definition: Benchmark,
    keys: Sequence[ExampleKey],
    disagreements: Mapping[ExampleKey, Mapping[int, RowMapping]],
    model_of: Mapping[int, str],
) -> list[Disagreement]:
    texts = repo.texts(session, definition.id, keys)
    items = []
    for key in keys:
        rows = disagreements[key]
        first = next(iter(rows.values()))
        text = texts.get(key)
        count = len(first["scores"])
        items.append(
            Disagreement(
                subset=key[0],
                example_id=key[1],
                prompt=text["prompt"] if text else None,
                conversation=text["conversation"] if text else None,
                candidates=text["candidates"] if text else None,
                candidate_labels=candidate_labels(definition, count, first["num_correct"]),
                num_correct=first["num_correct"],
                scores={model_of[rid]: list(row["scores"]) for rid, row in rows.items()},
                credit={
                    model_of[rid]: credit(row["scores"], row["num_correct"], row["outcome"])
                    for rid, row in rows.items()
                },
            )
        )
    return items


def _notes(models: Sequence[ComparedModel]) -> list[str]:
    notes = []
    without = [model.model for model in models if not model.has_examples]
    if without:
        notes.append(
            f"No per-example scores are stored for {', '.join(without)} (imported without them), so "
            "examples are compared between the other models only."
            if len(models) - len(without) >= MIN_MODELS
            else f"No per-example scores are stored for {', '.join(without)} (imported without them): "
            "examples can only be compared between models evaluated here or imported with per-example files."
        )
    partial = [model.model for model in models if not model.complete]
    if partial:
        notes.append(f"{', '.join(partial)}: a run over part of the data, not comparable in full.")
    return notes
