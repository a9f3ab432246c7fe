"""The leaderboard: one row per model and type from stored aggregates, as JSON, CSV or a page model."""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.orm import Session

from app.db.repositories import leaderboard as repo
from app.schemas.leaderboard import LeaderboardPage, LeaderboardQuery, LeaderboardRow
from app.services.presentation.parameters import describe, parameter_count
from app.services.results.intervals import INTERVAL_METHOD_TEXT, RANK_TEXT, bounds, interval_note
from worker.engine.benchmarks import get_benchmark
from worker.engine.kinds import KINDS

# CSV columns around the benchmark's sections (whose headers are their slugs, dashes as underscores).
CSV_LEAD: tuple[str, ...] = ("rank", "model", "model_type", "score")
CSV_TAIL: tuple[str, ...] = (
    "published_score",
    "published_formula",
    "complete",
    "parameters",
    "source",
    "source_detail",
    "revision",
    "scoring_version",
    "result_id",
    "created_at",
)
CSV_INTERVALS: tuple[str, ...] = ("rank_ub", "score_low", "score_high")
CSV_SIZES: tuple[str, ...] = ("parameters_from_name", "active_parameters", "parameters_source")


def leaderboard_page(session: Session, query: LeaderboardQuery) -> LeaderboardPage:
    """One page of a benchmark's leaderboard for a query (filters, sort, page)."""
    definition = get_benchmark(query.benchmark)
    sections = [section.name for section in definition.sections]
    slugs = [section.slug for section in definition.sections]
    board = repo.BoardFilter(
        benchmark=definition.id,
        model_type=query.model_type,
        search=query.q,
        source=query.source,
        partial=query.partial,
        hidden=query.hidden,
        apart_types=apart_types(query.model_type),
    )
    sort_section = sections[slugs.index(query.sort)] if query.sort in slugs else None
    rows = repo.leaderboard_rows(
        session,
        board,
        sort="section" if sort_section is not None else query.sort,
        sort_section=sort_section,
        descending=query.direction == "desc",
        offset=(query.page - 1) * query.per_page,
        limit=query.per_page,
    )
    counts = repo.count_listed(session, board)
    stored = repo.section_values(session, [row["result_id"] for row in rows])
    upper_bounds = (
        rank_upper_bounds(repo.ranked_score_bounds(session, definition.id))
        if not (query.partial or query.hidden)
        else {}
    )
    return LeaderboardPage(
        benchmark=definition.id,
        sections=sections,
        score_sections=[section.name for section in definition.score_sections()],
        partial=query.partial,
        partial_runs=counts.partial,
        hidden=query.hidden,
        hidden_results=counts.hidden,
        total=counts.total,
        page=query.page,
        per_page=query.per_page,
        sort=query.sort,
        order=query.direction,
        interval_method=INTERVAL_METHOD_TEXT,
        rank_rule=RANK_TEXT,
        rows=[_row(row, sections, stored[row["result_id"]], upper_bounds) for row in rows],
    )


def apart_types(asked: str | None) -> tuple[str, ...]:
    """Types shown apart from the main ranking (upstream hides DPO Ref. Free), unless asked for."""
    return tuple(key for key, kind in KINDS.items() if not kind.ranked_with_others and key != asked)


def rank_upper_bounds(bounds: Iterable[Sequence[Any]]) -> dict[int, int]:
    """Result id -> 1 + the number of results whose low bound is above its high bound (LMArena's rank UB).

    ``bounds`` are (result id, Score, low, high) with low = high = Score where there is no interval.
    """
    rows = list(bounds)
    lows = sorted(row[2] for row in rows)
    return {row[0]: 1 + len(lows) - bisect_right(lows, row[3]) for row in rows}


_ROW_FIELDS = frozenset(LeaderboardRow.model_fields)


def _row(
    row: RowMapping,
    sections: list[str],
    stored: Mapping[str, repo.SectionValue],
    upper_bounds: Mapping[int, int],
) -> LeaderboardRow:
    values = {name: stored[name].value if name in stored else None for name in sections}
    intervals = {
        name: bounds(stored[name].low, stored[name].high) if name in stored else None for name in sections
    }
    kind = KINDS.get(row["model_type"])
    fields = {name: value for name, value in row.items() if name in _ROW_FIELDS}
    size = parameter_count(row["model"], row["parameters"], row["stored_active_parameters"])
    return LeaderboardRow.model_validate(
        {
            **fields,
            "rank": row["rank"] if row["score"] is not None else None,
            "rank_ub": upper_bounds.get(row["result_id"]) if row["score"] is not None else None,
            "score_interval": bounds(row["score_low"], row["score_high"]),
            "sections": values,
            "section_intervals": intervals,
            "interval_note": interval_note(row["interval_status"], row["source"]),
            "model_type_label": kind.label if kind else row["model_type"],
            "parameters_from_name": size.total if size.source == "name" else None,
            "active_parameters": size.active,
            "parameters_source": size.source,
            "parameters_text": describe(size),
        }
    )


def model_types(session: Session, benchmark: str) -> list[tuple[str, str]]:
    """(key, label) of the model types on a benchmark's board."""
    return [
        (key, KINDS[key].label if key in KINDS else key)
        for key in repo.current_model_types(session, benchmark)
    ]


def csv_header(page: LeaderboardPage) -> list[str]:
    """The columns of the download; the interval columns come after the older ones, which keep their place."""
    names = [_csv_name(name) for name in page.sections]
    bounds = [f"{name}_{end}" for name in names for end in ("low", "high")]
    return [*CSV_LEAD, *names, *CSV_TAIL, *CSV_INTERVALS, *bounds, "interval_note", *CSV_SIZES]


# A spreadsheet reads a cell starting with one of these as a formula (tab and CR too, in some programs).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def leaderboard_csv(page: LeaderboardPage) -> str:
    """The page's rows as CSV, full precision, one header line; no text cell is a live formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_header(page))
    for row in page.rows:
        document = row.model_dump(mode="json")
        document["score_low"], document["score_high"] = document["score_interval"] or (None, None)
        sections = [document["sections"].get(name) for name in page.sections]
        bounds: list[object] = []
        for name in page.sections:
            bounds += document["section_intervals"].get(name) or (None, None)
        lead = [document[name] for name in CSV_LEAD]
        tail = [document[name] for name in (*CSV_TAIL, *CSV_INTERVALS)]
        sizes = [document[name] for name in CSV_SIZES]
        cells = (*lead, *sections, *tail, *bounds, document["interval_note"], *sizes)
        writer.writerow([spreadsheet_safe(_cell(value)) for value in cells])
    return buffer.getvalue()


def _csv_name(section: str) -> str:
    return section.lower().replace(" ", "_").replace("-", "_")


def _cell(value: object) -> object:
    return "" if value is None else value


def leaderboard_json(session: Session, query: LeaderboardQuery) -> bytes:
    return leaderboard_page(session, query).model_dump_json().encode()


def leaderboard_csv_bytes(session: Session, query: LeaderboardQuery) -> bytes:
    return leaderboard_csv(leaderboard_page(session, query)).encode()
