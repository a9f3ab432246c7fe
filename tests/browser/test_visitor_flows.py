"""A visitor's flows in a real browser (Chromium, Playwright) against `rewardboard up`, embedded default.

Sort, filter and switch benchmark with the state kept in the URL (and by keyboard); open a plot and its
table; compare two models and open an example they disagree on; the leaderboard and other pages on a
390-px phone, light and dark. Screenshots go to the ``screenshots`` folder (kept by CI).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import COMPARED, Board, Visitor, open_visitor
from tests.submissions.conftest import GOOD, wait_until

pytestmark = pytest.mark.slow

SCORE = re.compile(r"^\d{1,3}\.\d$")
INTERVAL = re.compile(r"^\d{1,3}\.\d–\d{1,3}\.\d$")


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def cell_texts(page: Page, key: str) -> list[str]:
    """The values (without intervals) of one leaderboard column, found by its header class ``col-<key>``."""
    index = page.locator("#leaderboard thead th").evaluate_all(
        "(ths, cls) => ths.findIndex(th => th.classList.contains(cls))", f"col-{key}"
    )
    assert index >= 0, f"no {key} column"
    cells = page.locator(f"#leaderboard tbody tr > td:nth-child({index + 1})")
    return [
        text.strip()
        for text in cells.evaluate_all("tds => tds.map(td => (td.querySelector('.value') || td).innerText)")
    ]


def numbers(texts: list[str]) -> list[float]:
    return [float(text) for text in texts if SCORE.match(text)]


def test_sort_filter_and_switch_benchmark_keep_the_state(visitor: Visitor, screenshots: Path) -> None:
    page = visitor.page
    visitor.open("/")
    expect(page.locator("#leaderboard tbody tr").first).to_be_visible()

    # Filter by type and sort with the form, as a keyboard or phone user would.
    page.locator('select[name="model_type"]').select_option("classifier")
    page.locator('select[name="sort"]').select_option("safety")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert query_of(page)["model_type"] == ["classifier"] and query_of(page)["sort"] == ["safety"]
    expect(page.locator("#leaderboard th.col-safety")).to_have_attribute("aria-sort", "descending")
    safety = numbers(cell_texts(page, "safety"))
    assert safety and safety == sorted(safety, reverse=True)
    assert set(cell_texts(page, "type")) == {"Seq. Classifier"}

    # A header flips the order and keeps the filter.
    page.locator("#leaderboard th.col-safety a").click()
    page.wait_for_load_state()
    assert query_of(page)["order"] == ["asc"] and query_of(page)["model_type"] == ["classifier"]
    ascending = numbers(cell_texts(page, "safety"))
    assert ascending == sorted(ascending)

    # Another benchmark: the filter and the sort by a section both benchmarks have come along.
    page.get_by_role("navigation", name="Benchmarks").get_by_role("link", name="RewardBench 2").click()
    page.wait_for_load_state()
    state = query_of(page)
    assert state["benchmark"] == ["rewardbench-v2"] and state["model_type"] == ["classifier"]
    assert state["sort"] == ["safety"] and state["order"] == ["asc"]
    expect(page.locator("#leaderboard th.col-ties")).to_be_visible()
    # A sort by a section only RewardBench 2 has falls back to Score on the way back.
    page.locator("#leaderboard th.col-ties a").click()
    page.wait_for_load_state()
    page.get_by_role("navigation", name="Benchmarks").get_by_role("link", name="RewardBench v1").click()
    page.wait_for_load_state()
    state = query_of(page)
    assert "benchmark" not in state and "sort" not in state and state["model_type"] == ["classifier"]
    page.screenshot(path=str(screenshots / "leaderboard-filtered.png"), full_page=False)

    # Pages keep everything too.
    visitor.open("/?per_page=5&sort=chat&q=o")
    next_link = page.get_by_role("link", name="Next →")
    next_link.click()
    page.wait_for_load_state()
    assert query_of(page) == {"per_page": ["5"], "sort": ["chat"], "q": ["o"], "page": ["2"]}

    # Keyboard: the first Tab reaches the skip link, which lands on the content.
    visitor.open("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    header_link = page.locator("#leaderboard th.col-model a")
    header_link.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]sort=model(&|$)"))
    assert visitor.csp_violations == [] and visitor.dialogs == []


def test_open_a_plot_and_its_table(visitor: Visitor, screenshots: Path) -> None:
    page = visitor.page
    visitor.open("/")
    figure = page.locator("#score-vs-parameters-figure")
    image = figure.get_by_role("img")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("alt", re.compile("Score against parameter count"))
    figure.scroll_into_view_if_needed()
    wait_until(
        lambda: image.evaluate("img => img.complete && img.naturalWidth > 0"), timeout=20, what="the plot"
    )
    svg = page.request.get(str(image.evaluate("img => img.currentSrc")))
    assert svg.ok and svg.headers["content-type"].startswith("image/svg+xml")
    drawn = svg.text().count('class="plot-mark"')
    assert drawn > 20  # the seeded board's models with a size, the two evaluated ones, and the legend
    page.screenshot(path=str(screenshots / "leaderboard-plot.png"), full_page=False)

    figure.get_by_role("link", name=re.compile("with its table")).click()
    expect(page).to_have_url(re.compile(r"/plots/score-vs-parameters\?benchmark=rewardbench-v1$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("RewardBench v1: Score against parameter count")
    table = page.locator("#plot-table")
    rows = table.locator("tbody tr")
    expect(rows.first).to_be_visible()
    alpha = rows.filter(has=page.get_by_role("link", name=COMPARED[0], exact=True))
    expect(alpha.locator("td").nth(2)).to_have_text("7B")
    expect(alpha.locator("td").nth(4)).to_have_text(INTERVAL)
    page.screenshot(path=str(screenshots / "plot-page.png"), full_page=True)
    svg_link = page.locator("p.meta a").first
    response = page.request.get(visitor.base + str(svg_link.get_attribute("href")))
    assert response.ok and response.headers["content-type"].startswith("image/svg+xml")
    assert "<script" not in response.text()

    # The refusal picture, from the board, and back to the board by the breadcrumb.
    visitor.open("/")
    page.get_by_role("link", name=re.compile("The refusal picture")).click()
    expect(page).to_have_url(re.compile(r"/plots/versus\?"))
    expect(page.locator('select[name="x"]')).to_have_value("xstest-should-respond")
    expect(page.locator('select[name="y"]')).to_have_value("xstest-should-refuse")
    expect(page.locator("#plot-table tbody tr")).to_have_count(8)  # 5 published files, 2 evaluated, XSS_MODEL
    page.locator('select[name="y"]').select_option("Chat Hard")
    page.get_by_role("button", name="Draw").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Chat Hard against xstest-should-respond")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/$"))
    assert visitor.csp_violations == [] and visitor.dialogs == []


def test_compare_two_models_and_open_a_disagreeing_example(visitor: Visitor, screenshots: Path) -> None:
    page = visitor.page
    visitor.open("/")
    page.get_by_role("searchbox", name="Search").fill("compare-org")
    page.get_by_role("button", name="Apply").click()
    for name in COMPARED:
        page.get_by_role("checkbox", name=f"Compare {name}").check()
    page.get_by_role("button", name="Compare the checked models").click()
    expect(page).to_have_url(re.compile(r"/compare\?"))
    assert query_of(page)["models"] == list(COMPARED)
    sections = page.locator("#compare-sections")
    expect(sections.locator("thead th")).to_have_count(3)
    expect(sections.locator("tbody tr")).to_have_count(5)  # Score and the four sections
    expect(sections.locator("td .ci").first).to_have_text(INTERVAL)

    items = page.locator("li.disagreement")
    expect(items.first).to_be_visible()
    count = page.locator("#disagreements p.count")
    expect(count).to_contain_text("of 92 shared examples get different credit")
    first = items.first
    first.locator("summary").click()
    expect(first.get_by_role("heading", name="Prompt")).to_be_visible()
    for heading in ("Chosen", "Rejected"):
        expect(first.get_by_role("heading", name=heading)).to_be_visible()
    score_rows = first.locator("table.example-scores tbody tr")
    expect(score_rows).to_have_count(2)
    expect(score_rows.nth(0).locator("th")).to_have_text(COMPARED[0])
    verdicts = first.locator(".verdict")
    expect(verdicts).to_have_count(2)
    assert {"right", "wrong"} <= {text.split(": ")[-1] for text in verdicts.all_inner_texts()}
    page.screenshot(path=str(screenshots / "compare.png"), full_page=True)

    # Only one subset's disagreements.
    subset = first.locator(".subset").inner_text().split(" #")[0]
    page.locator('select[name="subset"]').select_option(subset)
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert query_of(page)["subset"] == [subset]
    assert {text.split(" #")[0] for text in page.locator("li.disagreement .subset").all_inner_texts()} == {
        subset
    }
    assert visitor.csp_violations == [] and visitor.dialogs == []


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width} px wide"


def test_the_phone_layout(phone: Visitor, screenshots: Path) -> None:
    page = phone.page
    phone.open("/")
    rows = page.locator("#leaderboard tbody tr")
    expect(rows.first).to_be_visible()
    no_sideways_scroll(page)
    for index in range(3):
        score = rows.nth(index).locator("td.col-score")
        score.scroll_into_view_if_needed()
        expect(score).to_be_in_viewport()
        box = score.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        expect(score.locator(".value")).to_have_text(SCORE)
    model = rows.first.locator("td.col-model a")
    model_box, score_box = model.bounding_box(), rows.first.locator("td.col-score").bounding_box()
    assert model_box is not None and score_box is not None
    assert abs(model_box["y"] - score_box["y"]) < 30  # rank, model and Score share the card's first line
    expect(rows.first.locator("td.col-section").first).to_be_visible()  # sections below, labelled
    rows.first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "phone-leaderboard.png"), full_page=False)

    # The sort works without the table headers, from the form.
    page.locator('select[name="sort"]').select_option("chat")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert query_of(page)["sort"] == ["chat"]
    no_sideways_scroll(page)

    for path in (
        f"/models/{COMPARED[0]}",
        f"/compare?models={COMPARED[0]},{COMPARED[1]}",
        "/plots/score-vs-parameters",
        "/queue",
        "/submit",
        "/sections/chat-hard",
    ):
        phone.open(path)
        page.wait_for_load_state()
        no_sideways_scroll(page)
    phone.open(f"/models/{COMPARED[0]}")
    page.screenshot(path=str(screenshots / "phone-model.png"), full_page=True)
    assert phone.csp_violations == [] and phone.dialogs == []


def test_dark_mode(visitor: Visitor, screenshots: Path) -> None:
    page = visitor.page
    page.emulate_media(color_scheme="dark")
    visitor.open("/")
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    channels = [int(value) for value in re.findall(r"\d+", background)[:3]]
    assert max(channels) < 60, background
    image = page.locator("#score-vs-parameters-figure img")
    image.scroll_into_view_if_needed()
    wait_until(
        lambda: image.evaluate("img => img.complete && img.naturalWidth > 0"), timeout=20, what="the plot"
    )
    chosen = str(image.evaluate("img => img.currentSrc"))
    assert chosen.endswith("theme=dark"), chosen  # the <picture> picked the dark drawing
    assert 'fill="#181c22"' in page.request.get(chosen).text()
    page.screenshot(path=str(screenshots / "leaderboard-dark.png"), full_page=False)
    page.emulate_media(color_scheme="light")
    light = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert min(int(value) for value in re.findall(r"\d+", light)[:3]) > 200, light


def test_without_event_streams_the_queue_page_polls(browser: Browser, board: Board) -> None:
    """A browser without EventSource: /queue falls back to polling the JSON and still follows a run."""
    context, visitor = open_visitor(browser, board)
    try:
        context.add_init_script("delete window.EventSource;")
        page = visitor.page
        visitor.open("/queue")
        expect(page.locator("[data-live-region]")).to_have_attribute("data-live-mode", "polling")
        page.evaluate("() => { window.sameDocument = true; }")
        answer = page.request.post(
            visitor.base + "/api/v1/submissions",
            data={"model": GOOD, "revision": "main", "model_type": "classifier", "settings": {}},
        )
        assert answer.status == 201, answer.text()
        expect(page.locator("[data-live-region]")).to_contain_text(GOOD, timeout=60_000)
        assert page.evaluate("() => window.sameDocument === true")
        assert visitor.csp_violations == []
    finally:
        context.close()
