"""Every page a visitor reads fits the screen at 1,366 and 390 px: neither the page nor any box in it
scrolls sideways. The board shows parameter counts, a model on two benchmarks shows both results with their
ranks, and plot points carry their names. A screenshot of each page at each width goes to ``screenshots``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import COMPARED, Board, Visitor, open_visitor

pytestmark = pytest.mark.slow

TWO_BENCHMARKS = "LxzGordon/URM-LLaMa-3.1-8B"  # on both published boards
PAGES: dict[str, str] = {
    "board-v1": "/",
    "board-v2": "/?benchmark=rewardbench-v2",
    "section": "/sections/chat-hard",
    "subset": "/subsets/Math?benchmark=rewardbench-v2",
    "model-two-benchmarks": f"/models/{TWO_BENCHMARKS}",
    "model-evaluated": f"/models/{COMPARED[0]}",
    "compare": f"/compare?models={','.join(COMPARED)},infly/INF-ORM-Llama3.1-70B,mightbe/Better-PairRM",
    "plot-size": "/plots/score-vs-parameters",
    "plot-versus": "/plots/versus",
    "plot-model": f"/plots/subset-strip?model={COMPARED[0]}",
    "about": "/about",
}
WIDTHS = {"desktop": 1366, "phone": 390}
TOLERANCE = 1  # px: sub-pixel rounding

# Boxes wider inside than out. Parts of an SVG are not boxes; a text field scrolls its own text by design;
# a visually hidden element (1 px, clipped) holds text for screen readers only.
SIDEWAYS = """(tolerance) => {
  const found = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth + tolerance) {
    found.push(`the page: ${root.scrollWidth} > ${window.innerWidth}`);
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (el instanceof SVGElement && !(el instanceof SVGSVGElement)) continue;
    if (["INPUT", "TEXTAREA", "SELECT", "OPTION"].includes(el.tagName)) continue;
    if (el.clientWidth <= 1) continue;
    if (el.scrollWidth > el.clientWidth + tolerance) {
      const classes = typeof el.className === "string" ? el.className.trim().split(/\\s+/).join(".") : "";
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (classes ? "." + classes : "");
      found.push(`${name}: ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  return found;
}"""


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def screen(request: pytest.FixtureRequest, browser: Browser, board: Board) -> Iterator[Visitor]:
    width = WIDTHS[request.param]
    phone = width < 500
    context, seen = open_visitor(
        browser, board, viewport={"width": width, "height": 900}, is_mobile=phone, has_touch=phone
    )
    try:
        yield seen
    finally:
        context.close()


def width_of(visitor: Visitor) -> int:
    return int(visitor.page.viewport_size["width"]) if visitor.page.viewport_size else 0


def test_no_page_scrolls_sideways(screen: Visitor, screenshots: Path) -> None:
    page = screen.page
    width = width_of(screen)
    problems: dict[str, list[str]] = {}
    for name, path in PAGES.items():
        screen.open(path)
        page.wait_for_load_state("load")
        found = page.evaluate(SIDEWAYS, TOLERANCE)
        if found:
            problems[path] = found[:8]
        page.screenshot(path=str(screenshots / f"width-{width}-{name}.png"), full_page=True)
    assert problems == {}, f"at {width} px, boxes scroll sideways: {problems}"
    assert screen.csp_violations == [] and screen.dialogs == []


def test_the_board_shows_parameter_counts_and_fits(screen: Visitor) -> None:
    page = screen.page
    screen.open("/?q=compare-org")
    for name, size in zip(COMPARED, ("7B", "2B"), strict=True):
        row = board_row(page, name)
        expect(row.locator("td.col-parameters")).to_have_text(re.compile(rf"{size}$"))
    screen.open("/")
    cells = page.locator("#leaderboard td.col-parameters").all_inner_texts()
    assert len(cells) == 100 and sum(1 for text in cells if text.strip() not in ("", "—")) > 60
    if width_of(screen) >= 1366:  # every column in view: the last one ends inside the window
        last = page.locator("#leaderboard thead th").last.bounding_box()
        assert last is not None and last["x"] + last["width"] <= 1366
        heights = page.locator("#leaderboard td.col-model").evaluate_all(
            "tds => tds.map(td => td.querySelector('a').getClientRects().length)"
        )
        assert max(heights) <= 3, "a model id wraps more than twice"


def board_row(page: Page, model: str) -> Locator:
    link = page.locator("td.col-model").get_by_role("link", name=model, exact=True)
    return page.locator("#leaderboard tbody tr").filter(has=link)


def test_a_model_on_two_benchmarks_shows_both_results_with_ranks(screen: Visitor) -> None:
    page = screen.page
    screen.open(f"/models/{TWO_BENCHMARKS}")
    cards = page.locator("section.result-card")
    expect(cards).to_have_count(2)
    titles = [text.split(" · ")[0] for text in cards.locator("h2").all_inner_texts()]
    assert sorted(titles) == ["RewardBench 2", "RewardBench v1"]
    for index in range(2):
        card = cards.nth(index)
        expect(card.locator(".scores .score-main .value")).to_have_text(re.compile(r"^\d{1,3}\.\d$"))
        expect(card.locator(".scores .rank .value")).to_have_text(re.compile(r"^\d+$"))
        expect(card.locator(".scores .rank")).to_contain_text(re.compile(r"of \d+"))
        expect(card.locator("table.record")).to_contain_text("Published board · retrieved")
        expect(card.locator("table.record")).not_to_contain_text("{'")


def test_plot_points_have_titles_and_the_leaders_names(screen: Visitor) -> None:
    page = screen.page
    screen.open("/plots/score-vs-parameters")
    frame = ".plot-narrow" if width_of(screen) < 560 else ".plot-wide"
    svg = page.locator(f"#score-vs-parameters-figure {frame} svg")
    expect(svg).to_be_visible()
    titles = svg.locator(".plot-mark > title").all_text_contents()
    points = [title for title in titles if "): Score" in title]
    assert len(points) > 20 and all(re.search(r"Score \d+\.\d%", title) for title in points)
    assert any(title.startswith(COMPARED[0] + " (") for title in points)
    labels = svg.locator("text.plot-label").all_text_contents()
    assert len(labels) == 10
    axis = svg.locator("text").all_text_contents()
    assert "Score (%)" in axis and "Parameters (log scale)" in axis
    # One title on the page: the heading; the SVG's own is hidden here.
    expect(page.get_by_role("heading", level=1)).to_have_text("RewardBench v1: Score against parameter count")
    expect(svg.locator("text.plot-heading")).to_be_hidden()
    font = svg.evaluate("s => s.clientWidth / s.viewBox.baseVal.width * 12")
    assert font >= 9, f"plot text is {font:.1f} px"
