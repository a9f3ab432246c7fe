"""The one Jinja2 environment for every page, with the filters that format scores and sizes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

NAV_ITEMS: tuple[tuple[str, str], ...] = (
    ("Leaderboard", "/"),
    ("Sections", "/sections"),
    ("About", "/about"),
    ("Submit", "/submit"),
    ("Queue", "/queue"),
)


def format_score(value: float | None) -> str:
    """A fraction in [0, 1] shown as a percentage with one decimal, as the upstream leaderboard does."""
    if value is None:
        return "—"
    return f"{value * 100:.1f}"


def format_parameters(value: int | None) -> str:
    if value is None:
        return "—"
    for divisor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= divisor:
            return f"{value / divisor:.1f}{suffix}".replace(".0", "")
    return str(value)


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC")


templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.autoescape = True
templates.env.filters["score"] = format_score
templates.env.filters["params"] = format_parameters
templates.env.filters["dt"] = format_datetime
templates.env.globals["nav_items"] = NAV_ITEMS
