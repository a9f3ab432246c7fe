"""Uncached leaderboard builds: how long one page of the board takes to read and shape, cache aside.

    python bench/board_build.py [--root DIR] [--database rewardboard_bench] [--repeat 25]

Runs ``app.services.leaderboard.leaderboard_page`` of the code under ``--root`` (default: this checkout)
against the database ``bench/web_load.py`` fills, for four views (by Score, by a section, a search, page 5),
and prints the median and 90th percentile of ``--repeat`` builds. Point ``--root`` at a checkout of an older
commit (and ``--database`` at a database that commit's web_load.py filled) to compare before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

VIEWS: tuple[tuple[str, dict[str, object]], ...] = (
    ("by Score", {}),
    ("by section", {"sort": "chat_hard"}),
    ("search", {"q": "org-07"}),
    ("page 5", {"page": 5, "per_page": 100}),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TEST_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--database", default="rewardboard_bench")
    parser.add_argument("--repeat", type=int, default=25)
    args = parser.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    from sqlalchemy import make_url
    from sqlalchemy.orm import sessionmaker

    from app.db.session import make_engine
    from app.schemas.leaderboard import LeaderboardQuery
    from app.services.leaderboard import leaderboard_page

    url = make_url(args.postgres_url).set(database=args.database).render_as_string(hide_password=False)
    factory = sessionmaker(bind=make_engine(url))
    print(f"code {args.root}, database {args.database}, {args.repeat} builds a view")
    for label, params in VIEWS:
        query = LeaderboardQuery.model_validate(params)
        times = []
        for _ in range(args.repeat):
            with factory() as session:
                started = time.perf_counter()
                page = leaderboard_page(session, query)
                times.append(time.perf_counter() - started)
        times.sort()
        p90 = times[int(0.9 * (len(times) - 1))]
        print(
            f"{label:<11} rows {len(page.rows):4d}   median {1000 * statistics.median(times):7.2f} ms"
            f"   p90 {1000 * p90:7.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
