"""The HTML pages, parsed with BeautifulSoup: leaderboard state in the URL, escaping, detail pages, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import ResultSource
from app.services.results.importer import import_results_file
from tests.web.factories import CORE_SUBSETS, make_result, sample_pairs, scores_for

pytestmark = pytest.mark.usefixtures("published_files")


def _soup(client: TestClient, url: str, status: int = 200) -> BeautifulSoup:
    response = client.get(url)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return BeautifulSoup(response.text, "html.parser")


def _cell_text(td: Tag) -> str:
    """A cell's value: the number of a score cell (its interval is a separate span), else its text."""
    value = td.select_one("span.value")
    return (value or td).get_text(" ", strip=True)


def _board(soup: BeautifulSoup, table_id: str = "leaderboard") -> list[dict[str, str]]:
    table = soup.find("table", id=table_id)
    assert isinstance(table, Tag)
    headers = [th.get_text(" ", strip=True).rstrip("▲▼ ") for th in table.select("thead th")]
    return [
        dict(zip(headers, (_cell_text(td) for td in tr.find_all("td")), strict=True))
        for tr in table.select("tbody tr")
    ]


def test_leaderboard_lists_seeded_models_marked_imported(client: TestClient) -> None:
    soup = _soup(client, "/")
    rows = _board(soup)
    assert len(rows) == 5
    assert [row["Rank"] for row in rows] == ["1", "2", "3", "4", "5"]
    scores = [float(row["Score"]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    assert all(row["Source"] == "imported" for row in rows)
    titles = [str(badge["title"]) for badge in soup.select("#leaderboard td.col-source .badge-imported")]
    assert len(titles) == 5 and all(".json" in title for title in titles)  # the file, on hover
    assert rows[0]["Model"] == "general-preference/GPM-Gemma-2-9B"
    tabs = [a.get_text(strip=True) for a in soup.select("nav.tabs a")]
    assert tabs[0] == "RewardBench v1" and soup.select_one('nav.tabs a[aria-current="page"]') is not None
    assert rows[0]["Score"] == "92.3"  # x100, one decimal
    nav = [a.get_text() for a in soup.select("header nav a")]
    assert {"Leaderboard", "Sections", "About", "Submit", "Queue"} <= set(nav)
    stylesheet = soup.select_one('link[rel="stylesheet"]')
    assert stylesheet is not None and str(stylesheet["href"]).startswith("/static/")
    assert not soup.select("script[src]")


def test_sort_links_carry_the_state(client: TestClient) -> None:
    soup = _soup(client, "/?q=gemma&model_type=custom-classifier")
    link = soup.select_one("th.col-chat a")
    assert isinstance(link, Tag)
    params = parse_qs(urlsplit(str(link["href"])).query)
    assert params == {"sort": ["chat"], "q": ["gemma"], "model_type": ["custom-classifier"]}
    rows = _board(_soup(client, str(link["href"])))
    chats = [float(row["Chat"]) for row in rows]
    assert chats == sorted(chats, reverse=True) and len(rows) == 3
    flipped = _soup(client, str(link["href"])).select_one("th.col-chat a")
    assert isinstance(flipped, Tag) and "order=asc" in str(flipped["href"])
    ascending = _board(_soup(client, "/?sort=model"))
    assert [row["Model"] for row in ascending] == sorted(row["Model"] for row in ascending)


def test_filter_by_type_and_search(client: TestClient, db_session_factory: sessionmaker[Session]) -> None:
    with db_session_factory.begin() as session:
        make_result(session, "acme/dpo-model", 0.5, model_type="dpo")
    rows = _board(_soup(client, "/?model_type=dpo"))
    assert [row["Model"] for row in rows] == ["acme/dpo-model"]
    assert rows[0]["Source"] == "evaluated" and rows[0]["Type"] == "DPO"
    assert [row["Model"] for row in _board(_soup(client, "/?q=PAIRRM"))] == ["mightbe/Better-PairRM"]
    submitted = _board(_soup(client, "/?q=&model_type=&source="))  # the form defaults, as sent
    assert len(submitted) == 6
    soup = _soup(client, "/?q=nothing-like-this")
    assert soup.find("table", id="leaderboard") is None
    assert "No model matches" in soup.get_text()
    form = soup.find("form", class_="filters")
    assert isinstance(form, Tag) and form["method"] == "get"
    search = soup.select_one('input[name="q"]')
    assert isinstance(search, Tag) and search["value"] == "nothing-like-this"


def test_model_names_are_escaped(client: TestClient, db_session_factory: sessionmaker[Session]) -> None:
    evil = 'evil/<script>alert("x")</script>'
    with db_session_factory.begin() as session:
        make_result(session, evil, 0.9)
    response = client.get("/")
    assert "<script>alert" not in response.text
    soup = BeautifulSoup(response.text, "html.parser")
    assert not soup.find_all("script")
    assert evil in [row["Model"] for row in _board(soup)]


def test_section_and_subset_pages(client: TestClient) -> None:
    soup = _soup(client, "/sections/chat-hard")
    assert soup.h1 is not None and soup.h1.get_text() == "Chat Hard"
    assert "456 examples" in soup.get_text()
    rows = _board(soup, "ranking")
    assert len(rows) == 5 and rows[0]["Rank"] == "1"
    values = [float(row["Chat Hard"]) for row in rows]
    assert values == sorted(values, reverse=True)
    soup = _soup(client, "/subsets/math-prm")
    text = soup.get_text(" ")
    assert "447 examples" in text and "weight 984" in text
    assert len(_board(soup, "ranking")) == 5
    index = _soup(client, "/sections")
    assert len(index.select("section.card")) == 5  # the four sections and the optional Prior Sets
    _soup(client, "/sections/nope", status=404)
    _soup(client, "/subsets/nope", status=404)


def test_model_page_with_results_and_pair_browser(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    pairs = sample_pairs()
    with db_session_factory.begin() as session:
        kind = "custom-classifier"  # as the imported result of this model
        old = make_result(session, "mightbe/Better-PairRM", 0.6, revision="old", model_type=kind)
        new = make_result(
            session,
            "mightbe/Better-PairRM",
            0.8,
            model_type=kind,
            revision="new",
            scored=scores_for(pairs),
            examples=pairs,
            config={"max_length": 4096},
        )
    soup = _soup(client, "/models/mightbe/Better-PairRM")
    results = _board(soup, "results")
    assert len(results) == 3
    board = [row["On the board"] for row in results]
    assert sum(1 for cell in board if re.fullmatch(r"rank \d", cell)) == 1 and board.count("—") == 2
    assert {row["Source"].split()[0] for row in results} == {"evaluated", "imported"}
    current = soup.select("section.result-card")
    assert len(current) == 1  # one current result: shown in full
    asked = _soup(client, f"/models/mightbe/Better-PairRM?result={new.id}")
    assert asked.select("section.result-card")[0]["id"] == f"result-{new.id}"  # the result asked for first
    subsets = asked.find("table", id=f"subsets-{new.id}")
    assert isinstance(subsets, Tag) and len(subsets.select("tbody tr:not(.group)")) == 23
    repro = asked.find("table", id=f"reproducibility-{new.id}")
    assert isinstance(repro, Tag)
    record = {
        row.select("th")[0].get_text(strip=True): row.select("td")[0].get_text(strip=True)
        for row in repro.select("tbody tr")
    }
    assert record["Setting · Max length (tokens)"] == "4096"
    assert record["Source"].startswith("Evaluated here") and record["Commit"] == "0123456789abcdef"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", record["Evaluated"])
    pair_items = asked.select("ol.pairs li")
    assert len(pair_items) == 20
    assert pair_items[0].select_one("pre.text") is not None
    wrong = _soup(client, f"/models/mightbe/Better-PairRM?result={new.id}&wrong_only=true&subset=hep-go")
    items = wrong.select("ol.pairs li")
    assert len(items) == 1 and "wrong" in items[0]["class"]
    page2 = _soup(client, f"/models/mightbe/Better-PairRM?result={new.id}&page=2")
    assert len(page2.select("ol.pairs li")) == 20
    listed = client.get("/api/v1/models/mightbe/Better-PairRM").json()["results"]
    not_current = next(r["id"] for r in listed if not r["is_current"] and r["id"] in (old.id, new.id))
    other = _soup(client, f"/models/mightbe/Better-PairRM?result={not_current}")
    assert "not the result the leaderboard shows" in other.get_text()
    _soup(client, "/models/nobody/nothing", status=404)
    _soup(client, "/models/mightbe/Better-PairRM?result=999999", status=404)


def test_about_page_explains_the_method(client: TestClient) -> None:
    text = _soup(client, "/about").get_text(" ")
    for needle in (
        "tie",
        "984",
        "rbv1-2024-09",
        "rbv1-2024-04",
        "most recent result evaluated here",
        "xstest-should-refuse",
    ):
        assert needle in text


def test_bad_parameters_and_unknown_pages(client: TestClient) -> None:
    soup = _soup(client, "/?sort=password", status=422)
    assert "sort" in soup.get_text()
    _soup(client, "/?page=0", status=422)
    _soup(client, "/no/such/page", status=404)


def test_imported_result_marked_on_model_page(
    client: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    with db_session_factory.begin() as session:
        make_result(session, "acme/only-imported", 0.4, source=ResultSource.IMPORTED)
    soup = _soup(client, "/models/acme/only-imported")
    badge = soup.select_one("h2 .badge-imported")
    assert badge is not None
    assert "imported without a per-example file" in soup.get_text()


def test_prior_sets_column_only_when_present(
    client: TestClient, db_session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    headers = [th.get_text(strip=True) for th in _soup(client, "/").select("#leaderboard thead th")]
    assert "Prior Sets" not in headers
    document = {"model": "acme/with-prior", **dict.fromkeys(CORE_SUBSETS, 0.5)}
    document.update(anthropic_helpful=0.6, anthropic_hhh=0.8, shp=0.7, summarize=0.5, mtbench_gpt4=0.1)
    path = tmp_path / "with-prior.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with db_session_factory.begin() as session:
        import_results_file(session, path)
    rows = _board(_soup(client, "/?q=with-prior"))
    assert rows[0]["Prior Sets"] == "65.0"  # plain mean of the four prior sets; mtbench_gpt4 is not one
    assert rows[0]["Score"] == "50.0"  # Prior Sets are not part of Score
