"""The smaller things a visitor meets: numbered pages, section pages in pages, Prior Sets not run shown as
"—", no empty plot for a search without a match, a favicon, a way back from /docs, parameter counts."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient


def soup_of(client: TestClient, path: str, status: int = 200) -> BeautifulSoup:
    response = client.get(path)
    assert response.status_code == status, (path, response.text[:300])
    return BeautifulSoup(response.text, "html.parser")


def column(soup: BeautifulSoup, key: str) -> list[str]:
    headers = [th.get_attribute_list("class") for th in soup.select("#leaderboard thead th")]
    index = next(i for i, classes in enumerate(headers) if f"col-{key}" in classes)
    return [tr.select("td")[index].get_text(" ", strip=True) for tr in soup.select("#leaderboard tbody tr")]


def test_the_board_pages_are_numbered(client: TestClient, seeded: None) -> None:
    soup = soup_of(client, "/?per_page=20&page=4")
    pager = soup.select_one("nav.pager")
    assert pager is not None
    current = pager.select_one("[aria-current=page]")
    assert current is not None and current.get_text() == "4"
    numbers = [a.get_text() for a in pager.select("ol a")]
    assert numbers[0] == "1" and {"2", "3", "5", "6"} <= set(numbers)
    last = int(numbers[-1])
    assert last == -(-int(re.search(r"(\d+) models", soup.get_text()).group(1)) // 20)  # type: ignore[union-attr]
    previous = pager.select_one("a[rel=prev]")
    assert previous is not None and pager.select_one("a[rel=next]") is not None
    assert "page=3" in str(previous["href"])


def test_prior_sets_not_run_is_a_dash_and_the_interval_is_explained_once(
    client: TestClient, seeded: None
) -> None:
    rows = client.get("/api/v1/leaderboard?q=RM-RB2").json()["rows"]
    assert len(rows) == 7 and all(row["sections"]["Prior Sets"] is None for row in rows)
    soup = soup_of(client, "/?q=allenai&per_page=200")
    prior = dict(zip(column(soup, "model"), column(soup, "prior-sets"), strict=True))
    assert {prior[row["model"]] for row in rows} == {"—"}  # the published board printed 0.0: not run
    assert any(value != "—" for value in prior.values())
    assert "no interval" not in soup.select_one("#leaderboard").get_text()  # type: ignore[union-attr]
    count = soup.select_one("#board-count")
    assert count is not None and "95% interval" in count.get_text() and "have none" in count.get_text()


def test_parameters_shown_for_every_row_that_has_them(client: TestClient, seeded: None) -> None:
    soup = soup_of(client, "/?q=pythia")
    cells = dict(zip(column(soup, "model"), column(soup, "parameters"), strict=True))
    assert cells["ContextualAI/archangel_sft-dpo_pythia1-4b"].startswith("1.4B")
    assert cells["ContextualAI/archangel_sft-dpo_pythia12-0b"].startswith("12B")
    assert all(value.endswith("*") for value in cells.values() if value != "—")  # marked: from the name
    legend = soup.select_one("ul.legend")
    assert legend is not None and "read from the model's name" in legend.get_text()
    row = client.get("/api/v1/leaderboard?q=pythia1-4b").json()["rows"][0]
    assert row["parameters"] is None and row["parameters_from_name"] == 1_400_000_000
    assert row["parameters_source"] == "name"


def test_a_search_without_a_match_draws_no_plot(client: TestClient, seeded: None) -> None:
    soup = soup_of(client, "/?q=no-such-model-anywhere")
    assert soup.select_one(".empty") is not None
    assert soup.select_one("#score-vs-parameters-figure") is None


def test_section_pages_come_in_pages_without_repeating_the_source_file(
    client: TestClient, seeded: None
) -> None:
    first = soup_of(client, "/sections/chat")
    rows = first.select("#ranking tbody tr")
    assert len(rows) == 100
    assert "published leaderboard" not in first.select_one("#ranking").get_text()  # type: ignore[union-attr]
    pager = first.select_one("nav.pager")
    assert pager is not None and pager.select_one("a[rel=next]") is not None
    second = soup_of(client, "/sections/chat?page=2")
    ranks = [int(tr.select("td")[0].get_text()) for tr in second.select("#ranking tbody tr")]
    assert ranks and min(ranks) >= int(rows[-1].select("td")[0].get_text())
    soup_of(client, "/sections/chat?page=99", status=404)
    subset = soup_of(client, "/subsets/alpacaeval-easy?benchmark=rewardbench-v1")
    assert subset.select("#ranking tbody tr")


def test_a_favicon_and_a_way_back_from_the_api_docs(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    page = soup_of(client, "/about")
    link = page.select_one('link[rel="icon"]')
    assert link is not None and client.get(str(link["href"])).status_code == 200
    docs = soup_of(client, "/docs")
    back = docs.select_one("nav.docs-back a[href='/']")
    assert back is not None
    assert client.get("/static/docs-page.css").status_code == 200
