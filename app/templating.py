"""The one Jinja2 environment for every page, with the filters that format scores and sizes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from app.services.presentation.parameters import format_count

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

NAV_ITEMS: tuple[tuple[str, str], ...] = (
    ("Leaderboard", "/"),
    ("Sections", "/sections"),
    ("About", "/about"),
    ("Submit", "/submit"),
    ("Queue", "/queue"),
    ("Changelog", "/changelog"),
)


def format_score(value: float | None) -> str:
    """A fraction in [0, 1] shown as a percentage with one decimal, as the upstream leaderboard does."""
    if value is None:
        return "—"
    return f"{value * 100:.1f}"


def format_parameters(value: int | None) -> str:
    return format_count(value)


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def format_number(value: float) -> str:
    """A weight or count without a needless fraction: 984, 0.5."""
    return f"{value:g}"


def format_interval(bounds: Sequence[float] | None) -> Markup:
    """A 95% interval [low, high] as the small line under a score ("70.1–74.5"); nothing without one."""
    if not bounds:
        return Markup("")
    return Markup('<span class="ci">{}–{}</span>').format(format_score(bounds[0]), format_score(bounds[1]))


def model_path(name: str) -> str:
    """The URL path of a model page: org/name stays two segments; API names are one, escaped."""
    return quote(name, safe="/")


templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.autoescape = True
templates.env.filters["score"] = format_score
templates.env.filters["params"] = format_parameters
templates.env.filters["dt"] = format_datetime
templates.env.filters["model_path"] = model_path
templates.env.filters["number"] = format_number
templates.env.filters["ci"] = format_interval
templates.env.globals["nav_items"] = NAV_ITEMS
