"""What every plot is: its SVG, its text equivalent (a table), its numbers and the parameters of its URLs;
and the small helpers the plots share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from app.db.repositories.leaderboard import BoardFilter
from app.schemas.plots import PlotCell, PlotQuery, PlotRead
from app.services.presentation import svg_charts as charts
from app.templating import format_score, model_path
from worker.engine.kinds import KINDS


@dataclass(frozen=True, slots=True)
class Plot:
    name: str
    title: str
    description: str
    svg: str
    columns: list[str]
    rows: list[list[PlotCell]]
    data: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    narrow_svg: str = ""  # the same chart drawn for a phone's width

    def url(self, suffix: str = "", prefix: str = "/plots/") -> str:
        query = urlencode(self.params)
        return f"{prefix}{self.name}{suffix}" + (f"?{query}" if query else "")

    @property
    def page_url(self) -> str:
        return self.url()

    @property
    def svg_url(self) -> str:
        return self.url(".svg")

    @property
    def api_url(self) -> str:
        return self.url(prefix="/api/v1/plots/")

    def read(self) -> PlotRead:
        return PlotRead(
            name=self.name,
            title=self.title,
            description=self.description,
            page_url=self.page_url,
            svg_url=self.svg_url,
            columns=self.columns,
            rows=self.rows,
            notes=self.notes,
            data=self.data,
        )


def drawn(chart: Callable[..., str], *args: Any, ident: str, **kwargs: Any) -> tuple[str, str]:
    """A chart at a window's width and at a phone's (its ids suffixed, so both can sit in one page)."""
    wide = chart(*args, ident=ident, **kwargs)
    return wide, chart(*args, ident=f"{ident}-narrow", width=charts.NARROW, **kwargs)


def cell(text: str, href: str | None = None, *, numeric: bool = False) -> PlotCell:
    return PlotCell(text=text, href=href, numeric=numeric)


def model_cell(model: str, display_name: str) -> PlotCell:
    return cell(display_name, "/models/" + model_path(model))


def interval_text(low: float | None, high: float | None) -> str:
    return f"{format_score(low)}–{format_score(high)}" if low is not None and high is not None else "—"


def kind_label(key: str) -> str:
    kind = KINDS.get(key)
    return kind.label if kind else key


def board_filter(query: PlotQuery) -> BoardFilter:
    return BoardFilter(
        benchmark=query.benchmark, model_type=query.model_type, search=query.q, source=query.source
    )


def board_params(query: PlotQuery) -> dict[str, str]:
    params = {"benchmark": query.benchmark}
    if query.model_type:
        params["model_type"] = query.model_type
    if query.q:
        params["q"] = query.q
    if query.source is not None:
        params["source"] = query.source.value
    return params


def kind_groups(keys: Sequence[str]) -> list[str]:
    """Model type labels in the registry's order."""
    present = set(keys)
    ordered = [kind.label for key, kind in KINDS.items() if key in present]
    return ordered + sorted({kind_label(key) for key in present} - set(ordered))


def pair(low: float | None, high: float | None) -> list[float] | None:
    return [low, high] if low is not None and high is not None else None
