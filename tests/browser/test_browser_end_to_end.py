"""A visitor in a real browser (Chromium via Playwright) against `rewardboard up` on the embedded default.

The leaderboard's sort, search and URL state; a model page; the submission form from "Check only" to a
finished evaluation, ranked on the leaderboard with its scored pairs; a rejected model id; and a display name
holding a script tag that must stay text. Pages are read through Playwright locators; waits poll the page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import XSS_MODEL, XSS_NAME, Board, Visitor
from tests.submissions.conftest import GOOD

pytestmark = pytest.mark.slow

SCORE = re.compile(r"^\d{1,3}\.\d$")
# Marks the document (a reload would lose the mark) and records each headline the live page shows.
WATCH_HEADLINE = """() => {
  window.sameDocument = true;
  window.headlines = [];
  const headline = document.getElementById("live-headline");
  new MutationObserver(() => window.headlines.push(headline.textContent.trim()))
    .observe(headline, {childList: true, characterData: true, subtree: true});
}"""
SEARCH = "gpm-gemma"  # three models with per-subset results (published result files)


def column_values(page: Page, key: str) -> list[str]:
    """The texts of one leaderboard column, found by its header's class ``col-<key>``."""
    headers = page.locator("#leaderboard thead th")
    index = headers.evaluate_all(
        "(ths, cls) => ths.findIndex(th => th.classList.contains(cls))", f"col-{key}"
    )
    assert index >= 0, f"no {key} column"
    cells = page.locator(f"#leaderboard tbody tr > td:nth-child({index + 1})")
    return [text.strip() for text in cells.all_inner_texts()]


def as_number(text: str) -> float | None:
    return float(text) if SCORE.match(text) else None


def section_score(page: Page, label: str) -> Locator:
    """The value next to one label in a model page's score cards."""
    card = page.locator(".scores > div").filter(
        has=page.locator("span.label", has_text=re.compile(rf"^{label}$"))
    )
    return card.locator("span.value")


def row_of(page: Page, model_text: str) -> Locator:
    link = page.locator("td.col-model").get_by_role("link", name=model_text, exact=True)
    return page.locator("#leaderboard tbody tr").filter(has=link)


def test_leaderboard_sort_search_url_state_and_model_page(visitor: Visitor) -> None:
    page = visitor.page
    visitor.open("/")
    rows = page.locator("#leaderboard tbody tr")
    expect(rows.first).to_be_visible()
    everyone = rows.count()
    assert everyone >= 6  # five published results and the script-named model

    page.get_by_role("columnheader", name="Chat Hard").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=chat-hard(&|$)"))
    page.wait_for_load_state()
    expect(page.locator("#leaderboard th.col-chat-hard")).to_have_attribute("aria-sort", "descending")
    chat_hard = [as_number(text) for text in column_values(page, "chat-hard")]
    known = [value for value in chat_hard if value is not None]
    assert known and chat_hard[0] == max(known), chat_hard

    page.get_by_role("searchbox", name="Search").fill(SEARCH)
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(rf"[?&]q={SEARCH}(&|$)"))
    page.wait_for_load_state()
    assert "sort=chat-hard" in page.url  # the search kept the sort
    models = column_values(page, "model")
    assert 0 < len(models) < everyone
    assert all(SEARCH in model.lower() for model in models), models
    filtered_chat_hard = column_values(page, "chat-hard")

    searched_url = page.url
    page.goto(searched_url)  # the state lives in the URL: the same address gives the same view
    expect(page.get_by_role("searchbox", name="Search")).to_have_value(SEARCH)
    expect(page.locator("#leaderboard th.col-chat-hard")).to_have_attribute("aria-sort", "descending")
    assert column_values(page, "model") == models
    assert column_values(page, "chat-hard") == filtered_chat_hard

    first = models[0]
    page.locator("td.col-model").get_by_role("link", name=first, exact=True).click()
    expect(page.locator("h1.model-name")).to_have_text(first)
    for label in ("Score", "Chat", "Chat Hard", "Safety", "Reasoning"):
        expect(section_score(page, label)).to_have_text(SCORE)
    expect(section_score(page, "Chat Hard")).to_have_text(filtered_chat_hard[0])
    expect(page.locator("table.result-subsets tbody tr").first).to_be_visible()
    assert visitor.dialogs == []


def test_script_in_a_display_name_stays_text(visitor: Visitor) -> None:
    page = visitor.page
    visitor.open("/?per_page=1000")
    link = page.locator("td.col-model").get_by_role("link", name=XSS_NAME, exact=True)
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", f"/models/{XSS_MODEL}")
    link.click()
    expect(page.locator("h1.model-name")).to_have_text(XSS_NAME)
    expect(page).to_have_title(f"{XSS_NAME} · RewardBoard")
    visitor.open("/?q=xss")
    expect(row_of(page, XSS_NAME)).to_have_count(1)
    assert visitor.dialogs == []
    page.evaluate("() => alert('control')")  # the listener does see a dialog when one opens
    assert visitor.dialogs == ["alert: control"]


def test_an_invalid_model_id_is_refused_in_words(visitor: Visitor) -> None:
    page = visitor.page
    visitor.open("/submit")
    page.get_by_label("Model ID").fill("not a valid id!!")
    page.get_by_role("button", name="Submit", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("'not a valid id!!' is not a valid Hub model id")
    expect(page).to_have_url(re.compile(r"/submit$"))
    expect(page.get_by_label("Model ID")).to_have_value("not a valid id!!")
    assert visitor.dialogs == []


def test_submit_a_model_and_browse_its_results(visitor: Visitor, board: Board, screenshots: Path) -> None:
    page = visitor.page
    visitor.open("/submit")
    page.get_by_label("Model ID").fill(GOOD)
    page.get_by_role("button", name="Check only").click()
    expect(page.get_by_role("heading", name="All checks passed")).to_be_visible()
    checks = page.locator("table.checks tbody tr")
    assert checks.count() > 0
    for index in range(checks.count()):
        expect(checks.nth(index).locator("td").nth(1)).to_have_text("passed")
    expect(page.get_by_label("Model ID")).to_have_value(GOOD)

    # A second tab on /queue follows the same run without a reload.
    queue = page.context.new_page()
    queue.goto(visitor.base + "/queue")
    queue.evaluate("() => { window.sameDocument = true; }")
    expect(queue.locator("[data-live-region]")).to_have_attribute("data-live-mode", "events")

    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(GOOD)
    headline = page.locator("#live-headline")
    first_headline = headline.inner_text()
    assert not first_headline.startswith("Finished"), first_headline
    # Watch the page follow the run by itself: mark this document, record every headline it shows.
    page.evaluate(WATCH_HEADLINE)
    expect(page.locator("[data-live-region]")).to_have_attribute("data-live-mode", "events")
    page.screenshot(path=str(screenshots / "submission-following.png"), full_page=True)
    result_link = page.locator("a.result-link")
    try:
        expect(result_link).to_be_visible(timeout=240_000)
    except AssertionError:
        raise AssertionError(f"{page.content()[-3000:]}\n{board.log()}") from None
    assert page.evaluate("() => window.sameDocument === true"), "the page was reloaded"
    shown = page.evaluate("() => window.headlines")
    assert shown and shown[-1].startswith("Finished: Score"), shown
    expect(page.locator("dd.status")).to_have_text("succeeded")
    page.screenshot(path=str(screenshots / "submission-finished.png"), full_page=True)
    expect(queue.locator("#queue-recent")).to_contain_text(GOOD, timeout=60_000)
    assert queue.evaluate("() => window.sameDocument === true"), "the queue page was reloaded"
    queue.screenshot(path=str(screenshots / "queue-after-the-run.png"), full_page=True)
    queue.close()
    result_link.click()
    expect(page).to_have_url(re.compile(r"/models/tiny-org/good-rm\?result=\d+$"))
    expect(page.locator("h1.model-name")).to_have_text(GOOD)

    # The worker runs one row a subset (EVAL_LIMIT_PER_SUBSET): a partial run, listed apart and unranked.
    visitor.open("/")
    expect(row_of(page, GOOD)).to_have_count(0)
    page.locator("a.partial-link").click()
    expect(page).to_have_url(re.compile(r"[?&]partial=true"))
    row = row_of(page, GOOD)
    expect(row).to_have_count(1)
    expect(row.locator("td.col-rank")).to_have_text("—")
    expect(row.locator("td.col-model .badge-partial")).to_be_visible()
    expect(row.locator("td.col-source")).to_have_text("evaluated")
    # Its size, read from the Hub's safetensors metadata at submission, stored and shown (no mark).
    expect(row.locator("td.col-parameters")).to_have_text(re.compile(r"^\d+(\.\d)?[KMB]$"))
    expect(row.locator("td.col-score .value")).to_have_text(SCORE)
    page.screenshot(path=str(screenshots / "leaderboard-partial-runs.png"), full_page=True)

    row.get_by_role("link", name=GOOD, exact=True).click()
    expect(page.locator("h1.model-name")).to_have_text(GOOD)
    expect(page.locator(".partial-note")).to_be_visible()
    pairs_section = page.locator("#examples")
    pairs = pairs_section.locator("li.pair")
    expect(pairs.first).to_be_visible()
    count = pairs_section.locator("p.count")
    expect(count).to_have_text(re.compile(r"^\d+ examples?"))
    total = int(count.inner_text().split()[0])
    assert total > 0
    first = pairs.first
    first.locator("summary").click()
    expect(first.get_by_role("heading", name="Prompt")).to_be_visible()
    for heading in ("Chosen", "Rejected"):
        expect(first.get_by_role("heading", name=heading)).to_be_visible()
    texts = first.locator("pre.text")
    expect(texts).to_have_count(3)
    for index in range(3):
        expect(texts.nth(index)).not_to_be_empty()
    expect(first.locator(".scores-inline")).to_have_text(re.compile(r"chosen -?\d.* · rejected -?\d"))

    # What the subsets table says is wrong is what the "only wrong" filter must list.
    subsets = page.locator("table.result-subsets").first
    tallies = subsets.locator("tbody tr:not(.group) td:nth-child(3)").all_inner_texts()
    correct_and_n = [tuple(float(part) for part in text.split("/")) for text in tallies]
    wrong = round(sum(n - correct for correct, n in correct_and_n))
    assert round(sum(n for _, n in correct_and_n)) == total

    pairs_section.get_by_label("Only those without full credit").check()
    pairs_section.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"[?&]wrong_only=true"))
    page.wait_for_load_state()
    expect(count).to_have_text(re.compile(rf"^{wrong} examples?"))
    shown = pairs.count()
    assert shown == min(wrong, 20)
    for index in range(shown):
        expect(pairs.nth(index)).to_have_class(re.compile(r"\bwrong\b"))
        expect(pairs.nth(index).locator(".verdict")).to_contain_text("wrong")
    assert visitor.dialogs == []


def test_pages_and_api_docs_run_under_the_content_security_policy(visitor: Visitor) -> None:
    """No page trips the CSP (no inline script or style, nothing from elsewhere), and /docs still works."""
    page = visitor.page
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    pages = (
        "/",
        "/?benchmark=rewardbench-v2",
        "/about",
        "/submit",
        "/queue",
        "/sections",
        f"/models/{XSS_MODEL}",
        "/plots/score-vs-parameters",
        "/plots/versus",
        f"/plots/sections?model={XSS_MODEL}",
        "/compare",
        "/no-such-page",
    )
    for path in pages:
        response = page.goto(visitor.base + path)
        assert response is not None
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("load")
    page.goto(visitor.base + "/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    expect(
        page.locator(".swagger-ui .opblock-summary-path", has_text="/api/v1/leaderboard").first
    ).to_be_visible()
    assert violations == []


def test_the_rewardbench2_tab_subset_page_and_api(visitor: Visitor) -> None:
    page = visitor.page
    visitor.open("/")
    page.get_by_role("navigation", name="Benchmarks").get_by_role("link", name="RewardBench 2").click()
    expect(page).to_have_url(re.compile(r"[?&]benchmark=rewardbench-v2(&|$)"))
    headers = [text.strip().rstrip("▲▼ ") for text in page.locator("#leaderboard thead th").all_inner_texts()]
    for name in ("FACTUALITY", "PRECISE IF", "MATH", "SAFETY", "FOCUS", "TIES", "PUBLISHED"):
        assert name in [header.upper() for header in headers], headers
    scores = [
        as_number(text.strip()) for text in page.locator("#leaderboard td.col-score .value").all_inner_texts()
    ]
    known = [value for value in scores if value is not None]
    assert known == sorted(known, reverse=True) and len(known) >= 20

    page.get_by_role("columnheader", name="Ties").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=ties(&|$)"))
    assert "benchmark=rewardbench-v2" in page.url  # sorting keeps the benchmark
    page.get_by_role("link", name="Ties", exact=True).first.click()  # the section link in the intro
    expect(page.get_by_role("heading", level=1)).to_have_text("Ties")
    expect(page.locator("#ranking tbody tr").first).to_be_visible()
    assert "not part of Score" not in page.locator("p.meta").first.inner_text()

    visitor.open("/subsets/Factuality?benchmark=rewardbench-v2")
    expect(page.get_by_role("heading", level=1)).to_have_text("Factuality")
    expect(page.locator("p.meta").first).to_contain_text("475 examples")
    response = page.request.get(visitor.base + "/api/v1/benchmarks/rewardbench-v2")
    assert response.ok
    definition = response.json()
    assert [section["name"] for section in definition["sections"]] == [
        "Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties"
    ]  # fmt: skip
    assert definition["current_scoring_version"] == "rbv2-head"
    assert visitor.dialogs == []
