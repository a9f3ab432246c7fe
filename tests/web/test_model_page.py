"""The model page of a model on both benchmarks (the published boards): each result in full, with its rank
and interval note, and its reproducibility record as a labelled table with dates."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient


def zip_rows(table: Tag) -> list[tuple[Tag, Tag]]:
    """(label, value) cells of each row of a labelled table."""
    return [(row.select("th")[0], row.select("td")[0]) for row in table.select("tbody tr")]


def test_a_model_on_two_benchmarks_shows_both_results_in_full_with_ranks(
    client: TestClient, seeded: None
) -> None:
    response = client.get("/models/LxzGordon/URM-LLaMa-3.1-8B")
    assert response.status_code == 200
    soup = BeautifulSoup(response.text, "html.parser")
    cards = soup.select("section.result-card")
    titles = [card.h2.get_text(" ", strip=True) for card in cards if card.h2 is not None]
    assert len(cards) == 2 and {title.split(" · ")[0] for title in titles} == {
        "RewardBench v1",
        "RewardBench 2",
    }
    for card in cards:
        rank = card.select_one(".scores .rank")
        assert rank is not None and re.search(r"^Rank \d+ of \d+", rank.get_text(" ", strip=True))
        text = card.get_text(" ")
        assert "{'" not in text and "retrieved_timestamp" not in text and "1766412838" not in text
        record = card.select_one("table.record")
        assert record is not None
        cells = {th.get_text(strip=True): td.get_text(strip=True) for th, td in zip_rows(record)}
        assert cells["Published board · retrieved"] == "2025-12-22 14:13 UTC"
        assert cells["Source"].startswith("Imported: rewardbench-") and "((" not in cells["Source"]
    assert "8B parameters (from the name" in " ".join(soup.get_text(" ").split())
    # The JSON gives the same ranks.
    detail = client.get("/api/v1/models/LxzGordon/URM-LLaMa-3.1-8B").json()
    ranked = [result for result in detail["results"] if result["rank_ub"] is not None]
    assert len(ranked) == 2 and all(result["ranked_of"] > 100 for result in ranked)
    assert detail["parameters"] is None and detail["parameters_from_name"] == 8_000_000_000
