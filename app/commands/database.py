"""``rewardboard db upgrade|downgrade|current``: Alembic migrations, run against the configured database."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from app.config import get_settings
from app.db.session import make_engine, session_scope

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["configure_logger"] = False
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` up to ``revision``, in one transaction."""
    _migrate(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str = "base") -> None:
    _migrate(engine, lambda config: command.downgrade(config, revision))


def _migrate(engine: Engine, step: Callable[[Config], None]) -> None:
    config = alembic_config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite rebuilds a table to alter it; with foreign keys enforced, dropping the old copy would
            # cascade-delete the rows that reference it. The pragma only takes effect outside a transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                step(config)
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def refresh_stale_intervals(engine: Engine) -> int:
    """Compute the intervals of results that have none, or whose scoring version changed since; how many."""
    from app.services.results.intervals import refresh_intervals

    with session_scope(engine) as session:
        return refresh_intervals(session)


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    actions = parser.add_subparsers(dest="db_action", required=True)
    up = actions.add_parser(
        "upgrade",
        help="migrate to the newest schema, seed an empty database, compute the intervals results lack",
    )
    up.add_argument("revision", nargs="?", default="head")
    up.add_argument("--no-seed", action="store_true", help="do not import the published seed results")
    down = actions.add_parser("downgrade", help="migrate down to a revision (base = drop everything)")
    down.add_argument("revision")
    actions.add_parser("current", help="print the database's revision")


def run(args: argparse.Namespace) -> int:
    from app.services.results.seed import seed_if_empty

    url = get_settings().resolved_database_url()
    engine = make_engine(url)
    try:
        if args.db_action == "upgrade":
            upgrade(engine, args.revision)
            if not args.no_seed:
                with session_scope(engine) as session:
                    seeded = seed_if_empty(session)
                if seeded:
                    print(f"seeded {len(seeded)} published results into an empty database")
            if args.revision == "head":
                refreshed = refresh_stale_intervals(engine)
                if refreshed:
                    print(f"computed the intervals of {refreshed} results")
        elif args.db_action == "downgrade":
            downgrade(engine, args.revision)
        else:
            with engine.connect() as connection:
                config = alembic_config()
                config.attributes["connection"] = connection
                command.current(config)
    except Exception as exc:  # a one-line reason on the command line, not a traceback
        print(
            f"rewardboard db {args.db_action}: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr
        )
        return 1
    finally:
        engine.dispose()
    return 0
