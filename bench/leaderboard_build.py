"""Cold builds of the leaderboard (what a cache miss costs): the page and the JSON, median of N, one database.

    python bench/leaderboard_build.py postgresql+psycopg://postgres@127.0.0.1:5432/rewardboard_bench

Run it on the database ``web_load.py`` fills. To compare with another commit, run this file with
``PYTHONPATH`` set to that commit's checkout (against a database filled by that commit's ``web_load.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

if not any(Path(entry).resolve() == Path(__file__).resolve().parent.parent for entry in sys.path if entry):
    sys.path.append(str(Path(__file__).resolve().parent.parent))

from app.db.session import make_engine
from app.pages.leaderboard import render_leaderboard
from app.schemas.leaderboard import LeaderboardQuery
from app.services.presentation.leaderboard import leaderboard_json


def median_ms(
    sessions: sessionmaker[Session], build: Callable[[Session, LeaderboardQuery], bytes], runs: int
) -> float:
    times = []
    for _ in range(runs):
        with sessions() as session:
            started = time.perf_counter()
            build(session, LeaderboardQuery())
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    engine = make_engine(args.database_url)
    sessions = sessionmaker(engine)
    for name, build in (("/ (page)", render_leaderboard), ("/api/v1/leaderboard (JSON)", leaderboard_json)):
        print(f"{name:<28} median {median_ms(sessions, build, args.runs):6.1f} ms over {args.runs} builds")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
