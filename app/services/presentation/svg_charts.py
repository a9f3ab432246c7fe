"""Small server-made SVG charts: scatter, bars with intervals, strips, box rows and a line with intervals.

Every chart is a standalone SVG document (``role="img"``, a ``<title>`` and a ``<desc>``; its visible
heading has the class ``plot-heading``, which a page that prints the title itself hides) drawn with
presentation attributes only, so it renders alike as an image at its own URL and inline in a page, where the
site's stylesheet restyles its classes (``plot-*``) for dark mode. No script, no inline style. Values in
[0, 1] are shown as percentages, as everywhere on the site. Group colours come with a marker shape each, so
a group never depends on colour alone. Every chart takes a ``width``: ``WIDTH`` for a window, ``NARROW``
for a phone, where the same font sizes stay legible.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 720
NARROW = 400
LABELLED = 10  # a scatter names its top points
LABEL_OFFSETS = (0, *(sign * 13 * step for step in range(1, 9) for sign in (-1, 1)))  # where a name may move
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
INK = "#1d232b"
MUTED = "#5b6573"
GRID = "#e3e6ea"
ACCENT = "#2454c5"
BOARD = "#9aa3ad"
# Okabe-Ito colours, told apart by people with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000")
MARKERS = ("circle", "square", "triangle", "diamond", "down", "cross", "circle")
STRIP_DOTS_MAX = 60  # past this many models a strip row shows their spread instead of one dot each


@dataclass(frozen=True, slots=True)
class Theme:
    """The structural colours of a chart (the group palette stays): charts are drawn in ``LIGHT``'s;
    ``themed`` swaps them for another theme's, for an SVG served as an image (no page CSS reaches it)."""

    name: str
    background: str
    ink: str
    muted: str
    grid: str
    accent: str
    board: str


LIGHT = Theme("light", "#ffffff", INK, MUTED, GRID, ACCENT, BOARD)
DARK = Theme("dark", "#181c22", "#e6e9ee", "#a3acb8", "#2c323b", "#8ab4ff", "#6b7480")
THEMES = {theme.name: theme for theme in (LIGHT, DARK)}


def themed(svg: str, theme: Theme) -> str:
    """The chart in ``theme``'s colours: every light colour attribute value swapped for the theme's."""
    if theme == LIGHT:
        return svg
    for field in ("background", "ink", "muted", "grid", "accent", "board"):
        light, other = getattr(LIGHT, field), getattr(theme, field)
        for attribute in ("fill", "stroke"):
            svg = svg.replace(f'{attribute}="{light}"', f'{attribute}="{other}"')
    return svg


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    label: str
    group: str
    estimated: bool = False  # x is an estimate: drawn pale


@dataclass(frozen=True, slots=True)
class IntervalRow:
    label: str
    value: float | None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True, slots=True)
class StripRow:
    label: str
    board: Sequence[float]
    value: float | None


@dataclass(frozen=True, slots=True)
class BoxRow:
    label: str
    low: float  # 5th percentile
    q1: float
    median: float
    q3: float
    high: float  # 95th percentile


# Scales --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scale:
    lo: float
    hi: float
    start: float  # pixel of lo
    end: float  # pixel of hi
    log: bool = False

    def __call__(self, value: float) -> float:
        if self.log:
            value, lo, hi = math.log10(value), math.log10(self.lo), math.log10(self.hi)
        else:
            lo, hi = self.lo, self.hi
        share = 0.5 if hi == lo else (value - lo) / (hi - lo)
        return self.start + share * (self.end - self.start)


def nice_ticks(lo: float, hi: float, count: int = 7) -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def padded(lo: float, hi: float, share: float = 0.05) -> tuple[float, float]:
    span = hi - lo or abs(hi) or 1.0
    return lo - span * share, hi + span * share


def percent(value: float) -> str:
    return f"{value * 100:.1f}"


def count_label(value: float) -> str:
    for divisor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= divisor:
            return f"{value / divisor:g}{suffix}"
    return f"{value:g}"


# Document parts ------------------------------------------------------------------------------------------


def _document(width: int, height: int, title: str, description: str, body: list[str], ident: str) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="{FONT}" font-size="12" '
        f'aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
        f'<rect class="plot-bg" x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>'
        f'<text class="plot-text plot-heading" x="12" y="20" font-size="14" font-weight="600" fill="{INK}">'
        f"{escape(title)}</text>"
    )
    return head + "".join(body) + "</svg>"


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    cls: str = "plot-text",
    size: int = 12,
    fill: str = INK,
    weight: str | None = None,
) -> str:
    bold = f' font-weight="{weight}"' if weight else ""
    return (
        f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{fill}"{bold}>{escape(text)}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, *, cls: str, stroke: str, width: float = 1) -> str:
    return (
        f'<line class="{cls}" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
        f'stroke-width="{width}"/>'
    )


def _marker(kind: str, x: float, y: float, size: float, fill: str, tooltip: str, pale: bool = False) -> str:
    tip = f"<title>{escape(tooltip)}</title>"
    opacity = ' fill-opacity="0.45"' if pale else ""
    common = f'fill="{fill}"{opacity} stroke="#ffffff" stroke-width="1" class="plot-mark"'
    if kind == "square":
        return f'<rect x="{x - size:.1f}" y="{y - size:.1f}" width="{2 * size:.1f}" height="{2 * size:.1f}" {common}>{tip}</rect>'  # noqa: E501
    if kind in ("triangle", "down", "diamond"):
        if kind == "triangle":
            corners = [
                (x, y - size * 1.2),
                (x + size * 1.1, y + size * 0.8),
                (x - size * 1.1, y + size * 0.8),
            ]
        elif kind == "down":
            corners = [
                (x, y + size * 1.2),
                (x + size * 1.1, y - size * 0.8),
                (x - size * 1.1, y - size * 0.8),
            ]
        else:
            corners = [(x, y - size * 1.3), (x + size * 1.3, y), (x, y + size * 1.3), (x - size * 1.3, y)]
        points = " ".join(f"{px:.1f},{py:.1f}" for px, py in corners)
        return f'<polygon points="{points}" {common}>{tip}</polygon>'
    if kind == "cross":
        d = size
        dash = ' stroke-opacity="0.45"' if pale else ""
        path = (
            f"M{x - d:.1f},{y - d:.1f}L{x + d:.1f},{y + d:.1f}"
            f"M{x - d:.1f},{y + d:.1f}L{x + d:.1f},{y - d:.1f}"
        )
        return (
            f'<path d="{path}" stroke="{fill}"{dash} stroke-width="2.5" class="plot-mark-line">{tip}</path>'
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size:.1f}" {common}>{tip}</circle>'


def _x_axis(
    scale: Scale, ticks: Sequence[float], top: float, bottom: float, label: str, fmt: str = "percent"
) -> list[str]:
    parts = []
    for tick in ticks:
        x = scale(tick)
        parts.append(_line(x, top, x, bottom, cls="plot-grid", stroke=GRID))
        text = percent(tick) if fmt == "percent" else count_label(tick) if fmt == "count" else f"{tick:g}"
        parts.append(_text(x, bottom + 16, text, anchor="middle", cls="plot-muted", fill=MUTED))
    parts.append(_line(scale.start, bottom, scale.end, bottom, cls="plot-axis", stroke=MUTED))
    parts.append(
        _text(
            (scale.start + scale.end) / 2, bottom + 34, label, anchor="middle", cls="plot-muted", fill=MUTED
        )
    )
    return parts


def _y_axis(scale: Scale, ticks: Sequence[float], left: float, right: float, label: str) -> list[str]:
    parts = []
    for tick in ticks:
        y = scale(tick)
        parts.append(_line(left, y, right, y, cls="plot-grid", stroke=GRID))
        parts.append(_text(left - 6, y + 4, percent(tick), anchor="end", cls="plot-muted", fill=MUTED))
    parts.append(_line(left, scale.start, left, scale.end, cls="plot-axis", stroke=MUTED))
    middle = (scale.start + scale.end) / 2
    parts.append(
        f'<text class="plot-muted" x="14" y="{middle:.1f}" transform="rotate(-90 14 {middle:.1f})" '
        f'text-anchor="middle" fill="{MUTED}">{escape(label)}</text>'
    )
    return parts


def _legend(groups: Sequence[str], x: float, y: float, right: float) -> tuple[list[str], float]:
    """The groups' markers and names in lines that end before ``right``; and the y of the last line."""
    parts = []
    start = x
    for index, group in enumerate(groups):
        colour, marker = PALETTE[index % len(PALETTE)], MARKERS[index % len(MARKERS)]
        width = 30 + 7 * len(group)
        if x > start and x + width > right:
            x, y = start, y + 16
        parts.append(_marker(marker, x + 6, y - 4, 5, colour, group))
        parts.append(_text(x + 16, y, group))
        x += width
    return parts, y


def with_unit(label: str, unit: str = "%") -> str:
    """An axis label with its unit: "Score" -> "Score (%)"; a label that names one already is kept."""
    return label if f"({unit})" in label or f"{unit})" in label else f"{label} ({unit})"


def short_name(label: str, limit: int = 26) -> str:
    """A model's name for a label in a plot: without its namespace, cut to ``limit`` characters."""
    name = label.rsplit("/", 1)[-1]
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _point_labels(
    placed: Sequence[tuple[float, float, str]], *, left: float, right: float, top: float, bottom: float
) -> list[str]:
    """Names beside the given points (pixel x, y, text), moved up or down (with a leader line) where they
    would overlap a name already placed, or left of the point where the right edge is near."""
    boxes: list[tuple[float, float, float, float]] = []
    parts: list[str] = []
    for x, y, text in placed:
        width = 6.2 * len(text) + 4
        for dy in LABEL_OFFSETS:
            ly = min(max(y + dy + 4, top + 10), bottom - 2)
            for side in (1, -1):
                lx = x + 8 if side == 1 else x - 8 - width
                if lx < left or lx + width > right:
                    continue
                box = (lx, ly - 10, lx + width, ly + 2)
                if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes):
                    continue
                boxes.append(box)
                if dy:
                    edge = lx if side == 1 else lx + width
                    parts.append(_line(x, y, edge, ly - 4, cls="plot-grid", stroke=MUTED, width=0.6))
                parts.append(
                    f'<text class="plot-text plot-label" x="{lx + 2:.1f}" y="{ly:.1f}" font-size="10" '
                    f'fill="{INK}" stroke="#ffffff" stroke-width="3" stroke-opacity="0.8" '
                    f'paint-order="stroke">{escape(text)}</text>'
                )
                break
            else:
                continue
            break
    return parts


def _with_interval(row: IntervalRow) -> str:
    text = percent(row.value) if row.value is not None else "no value"
    if row.low is not None and row.high is not None:
        text += f" (95% interval {percent(row.low)}–{percent(row.high)})"
    return text


# Charts --------------------------------------------------------------------------------------------------


def scatter(
    points: Sequence[Point],
    *,
    title: str,
    description: str,
    x_label: str,
    y_label: str,
    x_log: bool = False,
    x_percent: bool = True,
    groups: Sequence[str] = (),
    empty: str = "",
    ident: str = "plot",
    width: int = WIDTH,
) -> str:
    """Points coloured (and shaped) by group; y in [0, 1] shown as %; x linear (%) or log-scaled counts.

    Every point has a ``<title>`` (its model, group and values); the ``LABELLED`` highest are named."""
    order = list(groups) or sorted({point.group for point in points})
    body, legend_end = _legend(order, 64, 42, width - 20)
    height = 440 + int(legend_end - 42)
    left, right, top, bottom = 64, width - 20, legend_end + 16, height - 56
    if not points:
        body.append(
            _text(
                width / 2,
                height / 2,
                empty or "Nothing to plot.",
                anchor="middle",
                fill=MUTED,
                cls="plot-muted",
            )
        )
        return _document(width, height, title, description, body, ident)
    xs, ys = [p.x for p in points], [p.y for p in points]
    if x_log:
        lo_exp = math.floor(math.log10(min(xs)))
        hi_exp = math.ceil(math.log10(max(xs)))
        hi_exp = max(hi_exp, lo_exp + 1)
        x_scale = Scale(10.0**lo_exp, 10.0**hi_exp, left, right, log=True)
        x_ticks = [10.0**e for e in range(lo_exp, hi_exp + 1)]
    else:
        x_lo, x_hi = padded(min(xs), max(xs))
        x_scale = Scale(x_lo, x_hi, left, right)
        x_ticks = nice_ticks(x_lo, x_hi)
    y_lo, y_hi = padded(min(ys), max(ys))
    y_scale = Scale(y_lo, y_hi, bottom, top)
    body += _y_axis(y_scale, nice_ticks(y_lo, y_hi), left, right, with_unit(y_label))
    x_axis_label = x_label if x_log or not x_percent else with_unit(x_label)
    body += _x_axis(
        x_scale,
        x_ticks,
        top,
        bottom,
        x_axis_label,
        fmt="count" if x_log else "percent" if x_percent else "plain",
    )
    index_of = {group: index for index, group in enumerate(order)}
    for point in points:
        index = index_of.get(point.group, len(order))
        x_text = count_label(point.x) if x_log else percent(point.x) if x_percent else f"{point.x:g}"
        x_name, y_name = x_label.removesuffix(" (%)"), y_label.removesuffix(" (%)")
        tip = f"{point.label} ({point.group}): {y_name} {percent(point.y)}%, {x_name} {x_text}"
        if x_percent and not x_log:
            tip += "%"
        if point.estimated:
            tip += " (size from the name)"
        body.append(
            _marker(
                MARKERS[index % len(MARKERS)],
                x_scale(point.x),
                y_scale(point.y),
                5,
                PALETTE[index % len(PALETTE)],
                tip,
                pale=point.estimated,
            )
        )
    leaders = sorted(points, key=lambda point: -point.y)[:LABELLED]
    limit = 26 if width >= WIDTH else 15
    placed = [(x_scale(p.x), y_scale(p.y), short_name(p.label, limit)) for p in leaders]
    body += _point_labels(placed, left=left, right=right, top=top, bottom=bottom)
    return _document(width, height, title, description, body, ident)


def interval_bars(
    rows: Sequence[IntervalRow],
    *,
    title: str,
    description: str,
    value_label: str,
    ident: str = "plot",
    width: int = WIDTH,
) -> str:
    """One horizontal bar per row from 0 to its value, with its 95% interval as a whisker."""
    label_width = 150 if width >= WIDTH else 100
    row_height = 30
    top = 40
    height = top + row_height * max(len(rows), 1) + 50
    left, right = label_width, width - 70
    values = [v for row in rows for v in (row.value, row.low, row.high) if v is not None]
    lo = min([0.0, *values])
    hi = max([1.0, *values])
    scale = Scale(lo, hi, left, right)
    bottom = top + row_height * len(rows)
    body = _x_axis(scale, nice_ticks(lo, hi), top, bottom, value_label)
    for index, row in enumerate(rows):
        y = top + index * row_height + row_height / 2
        body.append(_text(left - 8, y + 4, row.label, anchor="end"))
        if row.value is None:
            body.append(_text(left + 4, y + 4, "no value", cls="plot-muted", fill=MUTED))
            continue
        x0, x1 = scale(0.0), scale(row.value)
        body.append(
            f'<rect class="plot-bar" x="{min(x0, x1):.1f}" y="{y - 8:.1f}" width="{abs(x1 - x0):.1f}" '
            f'height="16" fill="{ACCENT}" fill-opacity="0.35"><title>{escape(row.label)}: '
            f"{escape(_with_interval(row))}</title></rect>"
        )
        if row.low is not None and row.high is not None:
            a, b = scale(row.low), scale(row.high)
            body.append(_line(a, y, b, y, cls="plot-whisker", stroke=INK, width=1.5))
            body.append(_line(a, y - 6, a, y + 6, cls="plot-whisker", stroke=INK, width=1.5))
            body.append(_line(b, y - 6, b, y + 6, cls="plot-whisker", stroke=INK, width=1.5))
        body.append(f'<circle cx="{x1:.1f}" cy="{y:.1f}" r="3.5" fill="{INK}" class="plot-dot"/>')
        body.append(_text(right + 6, y + 4, percent(row.value), size=11))
    return _document(width, height, title, description, body, ident)


def strip(
    rows: Sequence[StripRow],
    *,
    title: str,
    description: str,
    value_label: str,
    highlight_label: str,
    ident: str = "plot",
    width: int = WIDTH,
) -> str:
    """Per row, the highlighted value as a large diamond among the board's values: each a small grey dot
    while there are few (``STRIP_DOTS_MAX``), else their spread as a grey box (25th-75th percentile) with
    whiskers (5th-95th) and the median."""
    as_dots = all(len(row.board) <= STRIP_DOTS_MAX for row in rows)
    others = max((len(row.board) for row in rows), default=0)
    key = (
        f"the {others} other models with per-subset values"
        if as_dots
        else f"the {others} other models: middle half, 5th-95th percentile"
    )
    key_x, key_y = 12 + 40 + 7 * len(highlight_label), 42
    if key_x + 6.5 * len(key) > width - 8:  # no room beside the model's name: the key goes below it
        key_x, key_y = 46, 60
    label_width = 170
    row_height = 24
    top = key_y + 10
    height = top + row_height * max(len(rows), 1) + 50
    left, right = label_width, width - 20
    values = [v for row in rows for v in (*row.board, row.value) if v is not None]
    lo, hi = min([0.0, *values]), max([1.0, *values])
    scale = Scale(lo, hi, left, right)
    bottom = top + row_height * len(rows)
    body = [
        _marker("diamond", 18, 38, 5, ACCENT, highlight_label),
        _text(28, 42, highlight_label),
        f'<rect x="{key_x - 18:.1f}" y="{key_y - 8}" width="12" height="8" fill="{BOARD}"/>',
        _text(key_x, key_y, key, cls="plot-muted", fill=MUTED),
    ]
    body += _x_axis(scale, nice_ticks(lo, hi), top, bottom, value_label)
    for index, row in enumerate(rows):
        y = top + index * row_height + row_height / 2
        body.append(_text(left - 8, y + 4, row.label, anchor="end", size=11))
        if as_dots:
            for position, value in enumerate(row.board):
                jitter = ((position * 7919) % 11 - 5) * 0.9  # a fixed spread, so equal values stay visible
                body.append(
                    f'<circle class="plot-board" cx="{scale(value):.1f}" cy="{y + jitter:.1f}" r="2.5" '
                    f'fill="{BOARD}" fill-opacity="0.7"/>'
                )
        elif row.board:
            p5, q1, median, q3, p95 = five_numbers(row.board)
            body.append(_line(scale(p5), y, scale(p95), y, cls="plot-board-line", stroke=BOARD, width=2))
            body.append(
                f'<rect class="plot-board" x="{scale(q1):.1f}" y="{y - 5:.1f}" '
                f'width="{max(scale(q3) - scale(q1), 1):.1f}" height="10" fill="{BOARD}" fill-opacity="0.7"/>'
            )
            body.append(_line(scale(median), y - 6, scale(median), y + 6, cls="plot-median", stroke=INK))
        if row.value is not None:
            tip = f"{row.label}: {highlight_label} {percent(row.value)}, among {len(row.board)} other models"
            body.append(_marker("diamond", scale(row.value), y, 5.5, ACCENT, tip))
    return _document(width, height, title, description, body, ident)


def five_numbers(values: Sequence[float]) -> tuple[float, float, float, float, float]:
    """5th, 25th, 50th, 75th and 95th percentiles (inclusive, linear between order statistics)."""
    if len(values) == 1:
        return values[0], values[0], values[0], values[0], values[0]
    cuts = statistics.quantiles(values, n=20, method="inclusive")
    return cuts[0], cuts[4], cuts[9], cuts[14], cuts[18]


def box_rows(
    rows: Sequence[BoxRow],
    *,
    title: str,
    description: str,
    value_label: str,
    reference: float | None = 0.0,
    ident: str = "plot",
    width: int = WIDTH,
) -> str:
    """Per row a box from the first to the third quartile, the median, whiskers at the 5th and 95th
    percentiles, and a reference line (0: where a margin turns the decision)."""
    label_width = 170
    row_height = 26
    top = 40
    height = top + row_height * max(len(rows), 1) + 50
    left, right = label_width, width - 20
    values = [v for row in rows for v in (row.low, row.high)] + ([reference] if reference is not None else [])
    lo, hi = padded(min(values or [0.0]), max(values or [1.0]))
    scale = Scale(lo, hi, left, right)
    bottom = top + row_height * len(rows)
    body = _x_axis(scale, nice_ticks(lo, hi), top, bottom, value_label, fmt="plain")
    if reference is not None:
        body.append(
            _line(
                scale(reference), top, scale(reference), bottom, cls="plot-reference", stroke=INK, width=1.5
            )
        )
    for index, row in enumerate(rows):
        y = top + index * row_height + row_height / 2
        body.append(_text(left - 8, y + 4, row.label, anchor="end", size=11))
        body.append(_line(scale(row.low), y, scale(row.high), y, cls="plot-whisker", stroke=MUTED))
        a, b = scale(row.q1), scale(row.q3)
        tip = (
            f"{row.label}: median {row.median:.3g}, middle half {row.q1:.3g} to {row.q3:.3g}, "
            f"5th-95th percentile {row.low:.3g} to {row.high:.3g}"
        )
        body.append(
            f'<rect class="plot-box" x="{a:.1f}" y="{y - 7:.1f}" width="{max(b - a, 1):.1f}" height="14" '
            f'fill="{ACCENT}" fill-opacity="0.3" stroke="{ACCENT}"><title>{escape(tip)}</title></rect>'
        )
        m = scale(row.median)
        body.append(_line(m, y - 7, m, y + 7, cls="plot-median", stroke=INK, width=2))
    return _document(width, height, title, description, body, ident)


def line_with_intervals(
    rows: Sequence[IntervalRow],
    *,
    title: str,
    description: str,
    value_label: str,
    ident: str = "plot",
    width: int = WIDTH,
) -> str:
    """Values in order (e.g. a series' iterations) joined by a line, each with its interval as a whisker."""
    height = 360
    left, right, top, bottom = 64, width - 24, 40, height - 64
    values = [v for row in rows for v in (row.value, row.low, row.high) if v is not None]
    lo, hi = padded(min(values or [0.0]), max(values or [1.0]))
    y_scale = Scale(lo, hi, bottom, top)
    body = _y_axis(y_scale, nice_ticks(lo, hi), left, right, value_label)
    body.append(_line(left, bottom, right, bottom, cls="plot-axis", stroke=MUTED))
    step = (right - left) / max(len(rows), 1)
    path: list[str] = []
    marks: list[str] = []
    for index, row in enumerate(rows):
        x = left + step * (index + 0.5)
        body.append(_text(x, bottom + 16, row.label, anchor="middle", cls="plot-muted", fill=MUTED, size=11))
        if row.value is None:
            continue
        if row.low is not None and row.high is not None:
            body.append(_line(x, y_scale(row.low), x, y_scale(row.high), cls="plot-whisker", stroke=INK))
            for bound in (row.low, row.high):
                body.append(
                    _line(x - 5, y_scale(bound), x + 5, y_scale(bound), cls="plot-whisker", stroke=INK)
                )
        path.append(f"{'M' if not path else 'L'}{x:.1f},{y_scale(row.value):.1f}")
        marks.append(
            _marker("circle", x, y_scale(row.value), 5, ACCENT, f"{row.label}: {percent(row.value)}")
        )
    if len(path) > 1:
        body.append(
            f'<path class="plot-line" d="{"".join(path)}" fill="none" stroke="{ACCENT}" stroke-width="2"/>'
        )
    body += marks
    return _document(width, height, title, description, body, ident)
