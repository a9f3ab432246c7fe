"""The results a fresh database starts with: both published leaderboards and five published result files."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from app.db.repositories.leaderboard import has_any_result
from app.services.results.importer import ImportOutcome, import_results_file
from app.services.results.published_boards import import_board

SEED_DIR = Path(__file__).resolve().parents[2] / "seed"


def seed_if_empty(session: Session, seed_dir: Path = SEED_DIR) -> list[ImportOutcome]:
    """On a database with no result at all, import the published boards, then the result files."""
    if has_any_result(session):
        return []
    outcomes: list[ImportOutcome] = []
    for board in sorted((seed_dir / "published-boards").glob("*.jsonl")):
        outcomes += import_board(session, board)
    for path in sorted((seed_dir / "published-eval-set").glob("*.json")):
        outcomes.append(import_results_file(session, path))
    return outcomes
